"""llm.data.readers: every place users hold HH and SHP (Parquet, shards, save_to_disk, JSON Lines,
the hub), read by content, with one bad-row accounting, and one line for a source that cannot be
read.

The Parquet and save_to_disk fixtures are written by the tests, in HH's and SHP's exact schemas.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from llm_helpers import FIXTURES

from llm.data.pairs import DataError, load_pairs
from llm.train import main as train_main

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SHP_SCHEMA = pa.schema([
    ("post_id", pa.string()), ("domain", pa.string()), ("upvote_ratio", pa.float64()),
    ("history", pa.string()), ("c_root_id_A", pa.string()), ("c_root_id_B", pa.string()),
    ("created_at_utc_A", pa.int64()), ("created_at_utc_B", pa.int64()),
    ("score_A", pa.int64()), ("score_B", pa.int64()), ("human_ref_A", pa.string()),
    ("human_ref_B", pa.string()), ("labels", pa.int64()), ("seconds_difference", pa.float64()),
    ("score_ratio", pa.float64()),
])
HH_SCHEMA = pa.schema([("chosen", pa.string()), ("rejected", pa.string())])
TINY = ["--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--sft-steps", "2",
        "--pref-steps", "2", "--batch-size", "4", "--sft-batch-size", "4", "--eval-every", "2",
        "--save-every", "2", "--truth-eval-prompts", "0", "--max-length", "48",
        "--warmup-steps", "1", "--eval-fraction", "0.25", "--log-every", "1"]


def hh_rows() -> list[dict]:
    """The HH fixture's rows that are JSON objects (good and bad pairs alike)."""
    rows = []
    for line in (FIXTURES / "hh.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [{"chosen": r.get("chosen"), "rejected": r.get("rejected")} for r in rows]


def shp_rows(n: int, start: int = 0) -> list[dict]:
    """SHP rows with every real column; every third pair has score ratio < 2 (filtered)."""
    rows = []
    for i in range(start, start + n):
        low = 3 + i % 5
        high = low + 1 if i % 3 == 0 else 4 * low
        label = i % 2
        rows.append({
            "post_id": f"p{i}", "domain": "askscience_train", "upvote_ratio": 0.9,
            "history": f"Question number {i}: why?", "c_root_id_A": f"a{i}",
            "c_root_id_B": f"b{i}", "created_at_utc_A": 1_600_000_000 + i,
            "created_at_utc_B": 1_600_000_100 + i,
            "score_A": high if label else low, "score_B": low if label else high,
            "human_ref_A": f"Answer A to {i}.", "human_ref_B": f"Answer B to {i}, longer.",
            "labels": label, "seconds_difference": 100.0, "score_ratio": high / low})
    return rows


def write_parquet(path: Path, rows: list[dict], schema) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def shp_shards(root: Path) -> Path:
    """SHP as the hub's Parquet conversion lays it out: two train shards and a validation one."""
    write_parquet(root / "data" / "train-00000-of-00002.parquet", shp_rows(20), SHP_SCHEMA)
    bad = shp_rows(20, start=20)
    bad[2]["labels"] = 7  # a bad row (ratio >= 2) in the second shard, at its row 3
    write_parquet(root / "data" / "train-00001-of-00002.parquet", bad, SHP_SCHEMA)
    write_parquet(root / "data" / "validation-00000-of-00001.parquet", shp_rows(9, start=100),
                  SHP_SCHEMA)
    return root


# ----------------------------------------------------------------------------- sources

def test_hh_parquet_gives_the_pairs_and_bad_rows_of_the_same_rows_as_jsonl(tmp_path):
    rows = hh_rows()
    jsonl = tmp_path / "hh.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = write_parquet(tmp_path / "hh.parquet", rows, HH_SCHEMA)
    from_jsonl, report_jsonl = load_pairs("hh", str(jsonl))
    from_parquet, report_parquet = load_pairs("hh", str(parquet))
    assert from_parquet == from_jsonl and len(from_parquet) > 10
    assert report_parquet.bad == report_jsonl.bad and report_parquet.bad
    assert "row " in report_parquet.summary() and "line " in report_jsonl.summary()


def test_shp_shards_read_the_train_split_filter_by_ratio_and_name_the_shard_of_a_bad_row(
        tmp_path):
    root = shp_shards(tmp_path / "shp")
    pairs, report = load_pairs("shp", str(root))
    train = shp_rows(20) + shp_rows(20, start=20)
    assert report.rows == 40
    assert report.filtered == sum(r["score_ratio"] < 2 for r in train)
    assert report.bad == [(23, "labels=7; expected 0 or 1")]
    assert "train-00001-of-00002.parquet row 3: labels=7" in report.summary()
    assert len(pairs) == 40 - report.filtered - 1
    held, held_report = load_pairs("shp", str(root), split="eval")
    assert held_report.rows == 9 and all("Question number 10" in p.prompt for p in held)


def test_shp_chooses_the_higher_scored_comment():
    from llm.data.pairs import convert_rows

    rows = shp_rows(6)
    pairs, _ = convert_rows(iter(enumerate(rows, 1)), "shp", "rows")
    kept = [r for r in rows if r["score_ratio"] >= 2]
    for row, pair in zip(kept, pairs, strict=True):
        best = row["human_ref_A"] if row["score_A"] > row["score_B"] else row["human_ref_B"]
        assert pair.chosen == " " + best


def test_save_to_disk_dataset_and_dataset_dict(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = hh_rows()
    good = [r for r in rows if r["chosen"] and r["rejected"]]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "one"))
    pairs, report = load_pairs("hh", str(tmp_path / "one"))
    assert report.rows == len(rows) and report.bad and pairs
    splits = datasets.DatasetDict({"train": datasets.Dataset.from_list(good[:12]),
                                   "test": datasets.Dataset.from_list(good[12:])})
    splits.save_to_disk(str(tmp_path / "dict"))
    _, train_report = load_pairs("hh", str(tmp_path / "dict"))
    _, held_report = load_pairs("hh", str(tmp_path / "dict"), split="eval")
    assert (train_report.rows, held_report.rows) == (12, len(good) - 12)
    assert held_report.source.endswith("[test]")


def test_a_dataset_dict_without_the_split_names_its_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.DatasetDict({"other": datasets.Dataset.from_list(hh_rows())}).save_to_disk(
        str(tmp_path / "dict"))
    with pytest.raises(DataError, match=r"splits \['other'\]"):
        load_pairs("hh", str(tmp_path / "dict"))


def test_a_json_array_file_is_read_row_by_row(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"prompt": "p", "chosen": " a", "rejected": " b"},
                                {"prompt": "p", "chosen": " a", "rejected": " a"}]))
    pairs, report = load_pairs("jsonl", str(path))
    assert len(pairs) == 1 and report.bad == [(2, "chosen == rejected")]


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json"])
def test_a_data_row_with_a_repeated_key_keeps_the_last_as_datasets_does(tmp_path, name):
    """Data files are third-party JSON: a repeated key keeps its last value, as ``datasets``
    and ``json.loads`` read it (the project's own files refuse one)."""
    rows = ['{"prompt": "p", "chosen": " x", "chosen": " a", "rejected": " b", "id": 1, "id": 2}',
            '{"prompt": "q", "chosen": " c", "rejected": " d"}']
    path = tmp_path / name
    path.write_text("[" + ", ".join(rows) + "]" if name.endswith(".json") else "\n".join(rows))
    pairs, report = load_pairs("jsonl", str(path))
    assert len(pairs) == 2 and not report.bad
    assert pairs[0].chosen == " a"


# ----------------------------------------------------------------------------- by content

TRL_LINES = ['{"prompt": "p", "chosen": " a", "rejected": " b"}',
             '{"prompt": "q", "chosen": " c", "rejected": " d"}']


def test_a_utf8_bom_keeps_the_first_row(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(TRL_LINES).encode())
    pairs, report = load_pairs("jsonl", str(path))
    assert len(pairs) == 2 and not report.bad


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz", "rows.data"])
def test_gzip_is_detected_by_its_magic_bytes_whatever_the_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress("\n".join(TRL_LINES).encode()))
    pairs, _ = load_pairs("jsonl", str(path))
    assert [p.prompt for p in pairs] == ["p", "q"]


def test_a_lone_surrogate_is_a_bad_row_with_its_line(tmp_path):
    path = tmp_path / "surrogate.jsonl"
    path.write_text("\n".join([TRL_LINES[0], r'{"prompt": "x\ud800", "chosen": " a", '
                                             r'"rejected": " b"}', TRL_LINES[1]]))
    pairs, report = load_pairs("jsonl", str(path))
    assert len(pairs) == 2
    [(line, why)] = report.bad
    assert line == 2 and "not valid Unicode" in why and "U+D800" in why


@pytest.mark.parametrize(("content", "expected"), [
    ("\n".join(TRL_LINES).encode() + b'\n{"prompt": "caf\xe9", "chosen": " a", "rejected": " b"}',
     r"latin1\.jsonl line 3: not UTF-8 \(byte 0xe9"),
    (bytes(range(256)) * 4, r"latin1\.jsonl line 1: binary data"),
])
def test_undecodable_text_is_one_error_naming_file_line_and_problem(tmp_path, content,
                                                                    expected):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        load_pairs("jsonl", str(path))


def test_a_truncated_gzip_file_is_one_error(tmp_path):
    whole = gzip.compress(("\n".join(TRL_LINES * 200)).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.jsonl\.gz: truncated or damaged gzip"):
        load_pairs("jsonl", str(path))


def test_damaged_parquet_files_are_one_error(tmp_path):
    whole = write_parquet(tmp_path / "whole.parquet", hh_rows(), HH_SCHEMA).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.parquet: damaged Parquet file"):
        load_pairs("hh", str(cut))
    fake = tmp_path / "fake.parquet"
    fake.write_text(TRL_LINES[0])
    with pytest.raises(DataError, match=r"fake\.parquet is not a Parquet file"):
        load_pairs("jsonl", str(fake))


def test_a_folder_without_data_files_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing")
    with pytest.raises(DataError, match="holds no data files"):
        load_pairs("hh", str(tmp_path))


# ----------------------------------------------------------------------------- extras, hub

def test_a_missing_extra_names_the_install_command(tmp_path, monkeypatch):
    path = write_parquet(tmp_path / "hh.parquet", hh_rows(), HH_SCHEMA)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"needs the data extra .*pip install -e '\.\[data\]'"):
        load_pairs("hh", str(path))
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match=r"read from the hub.*pip install -e '\.\[data\]'"):
        load_pairs("hh", "Anthropic/hh-rlhf")


def test_hub_names_pass_their_subset_and_split_to_load_dataset(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(repo, **kwargs):
        calls.append((repo, kwargs))
        return [{"chosen": "\n\nHuman: hi\n\nAssistant: yes", "rejected":
                 "\n\nHuman: hi\n\nAssistant: no"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    load_pairs("hh", "Anthropic/hh-rlhf")
    load_pairs("hh", "Anthropic/hh-rlhf", split="eval", streaming=True)
    _, report = load_pairs("hh", "Anthropic/hh-rlhf/helpful-base:test[:5]")
    assert calls == [
        ("Anthropic/hh-rlhf", {"data_dir": None, "split": "train", "streaming": False}),
        ("Anthropic/hh-rlhf", {"data_dir": None, "split": "test", "streaming": True}),
        ("Anthropic/hh-rlhf", {"data_dir": "helpful-base", "split": "test[:5]",
                               "streaming": False}),
    ]
    assert report.source == "Anthropic/hh-rlhf/helpful-base[test[:5]]"


def test_an_unreachable_hub_is_one_error(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def unreachable(repo, **kwargs):
        raise ConnectionError(f"Couldn't reach '{repo}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(DataError, match=r"cannot load 'Anthropic/hh-rlhf' from the hub .*local"):
        load_pairs("hh", "Anthropic/hh-rlhf")


def _cli(args: list[str], env_extra: dict | None = None, prelude: str = ""):
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    code = f"{prelude}import sys; from llm.train import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_cli_unreachable_hub_and_missing_extra_are_one_line_and_exit_2(tmp_path):
    pytest.importorskip("datasets")
    offline = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "HF_HOME": str(tmp_path / "hf")}
    args = ["--data", "hh", "--data-path", "Anthropic/hh-rlhf", *TINY]
    for result, expected in (
            (_cli([*args, "--out-dir", str(tmp_path / "a")], offline), "from the hub"),
            (_cli([*args, "--out-dir", str(tmp_path / "b")],
                  prelude="import sys; sys.modules['datasets'] = None; "),
             "pip install -e '.[data]'")):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("python -m llm.train: error:"), lines
        assert expected in lines[0]

# ----------------------------------------------------------------------------- end to end

@pytest.mark.slow
@pytest.mark.parametrize("source", ["hh-parquet", "hh-save-to-disk", "shp-shards"])
def test_each_real_data_layout_trains_end_to_end_from_the_cli(tmp_path, source):
    if source == "hh-parquet":
        kind, path = "hh", write_parquet(tmp_path / "hh.parquet", hh_rows(), HH_SCHEMA)
    elif source == "hh-save-to-disk":
        datasets = pytest.importorskip("datasets")
        kind, path = "hh", tmp_path / "hh-saved"
        datasets.Dataset.from_list(hh_rows()).save_to_disk(str(path))
    else:
        kind, path = "shp", shp_shards(tmp_path / "shp")
    out = tmp_path / "runs"
    assert train_main(["--data", kind, "--data-path", str(path), "--out-dir", str(out),
                       "--run-name", "r", *TINY]) == 0
    rows = [json.loads(line) for line in (out / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["stage"] == "pref" and r["split"] == "train"] == [1, 2]
    assert json.loads((out / "r" / "summary.json").read_text())["final_eval"]["loss"] > 0
