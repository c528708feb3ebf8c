"""``python -m llm.experiment --records``: an experiment that spans machines keeps the records
of its whole units (the selection, each seed) and starts from them on a machine whose run
folders are gone; damaged records, records of other settings and a user's folder are refused."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from cli_helpers import call, refused

from llm import experiment
from llm.engine.atomic import LinkError
from llm.experiments.records import INDEX, Records

ARGV = ["--quick", "--betas", "0.2", "--seeds", "0", "1", "--lrs", "1e-3",
        "--max-extensions", "0"]
OUTPUTS = ("runs.csv", "curves.csv", "selection.csv", "experiment.md")


def argv(out: Path, records: Path, *extra: str) -> list[str]:
    return [*ARGV, "--out-dir", str(out), "--records", str(records), *extra]


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """(the experiment's folder, its records): a quick experiment of two seeds run whole."""
    root = tmp_path_factory.mktemp("records")
    assert experiment.main(argv(root / "first", root / "records")) == 0
    return root / "first", root / "records"


def copy_of(records: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(records, tmp_path / "records"))


def test_each_whole_unit_is_kept_with_its_files_hashes_and_machine(kept):
    out, records = kept
    units = json.loads((records / INDEX).read_text())["units"]
    assert sorted(units) == ["seed-0", "seed-1", "selection"]
    assert units["seed-1"]["runs"][0] == "sft-s1"
    assert all(run.endswith("-s1") for run in units["seed-1"]["runs"])
    assert len(units["seed-0"]["runs"]) == 1 + 3  # its SFT model and the three methods at 0.2
    assert units["selection"]["runs"][0] == "sft-select-s100"
    for unit in units.values():
        assert unit["made_with"]["torch"] and unit["made_with"]["transformers"]
        assert re.fullmatch(r"[0-9a-f]{40}(\+changes)?|unknown", unit["made_with"]["code"])
        for name, digest in unit["files"].items():
            data = (records / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest
            assert data == (out / name).read_bytes()  # the run's own file
        assert {name.split("/")[1] for name in unit["files"]} >= {
            "config.json", "metrics.jsonl", "summary.json"}
    assert not list(records.glob("*/*.safetensors")) and not list(records.glob("*/*/"))


def test_a_new_machine_starts_from_the_records_and_trains_nothing(kept, tmp_path, capsys):
    out, records = kept
    again = tmp_path / "again"
    status, _, err = call(experiment.main, argv(again, copy_of(records, tmp_path)), capsys)
    assert status == 0
    assert "records: 3 finished units" in err and not re.search(r"^finished ", err, re.M)
    for name in OUTPUTS:
        assert (again / name).read_bytes() == (out / name).read_bytes()
    assert not list(again.glob("*/sft")) and not list(again.glob("*/final"))


def test_only_whole_units_are_kept(kept, tmp_path):
    out, _ = kept
    partial = Path(shutil.copytree(out, tmp_path / "partial"))
    (partial / "ipo-rkl-paper-b0.2-lr0.001-s1" / "summary.json").unlink()
    records = Records.open(tmp_path / "kept")
    records.keep_whole([(f"seed-{seed}", sorted(p.name for p in partial.iterdir()
                                                if p.name.endswith(f"-s{seed}")))
                        for seed in (0, 1)], partial)
    assert sorted(records.units) == ["seed-0"]
    assert sorted(Records.open(tmp_path / "kept").units) == ["seed-0"]  # as units.json says


def test_a_damaged_record_is_refused_before_any_work(kept, tmp_path, capsys):
    records = copy_of(kept[1], tmp_path)
    summary = records / "iupo-js-paper-b0.2-lr0.001-s0" / "summary.json"
    summary.write_text(summary.read_text().replace("0", "1", 1))
    refused(call(experiment.main, argv(tmp_path / "out", records), capsys),
            str(summary), "SHA-256")
    assert not list((tmp_path / "out").glob("*/summary.json"))  # nothing restored


def test_records_of_other_settings_are_refused(kept, tmp_path, capsys):
    records = copy_of(kept[1], tmp_path)
    refused(call(experiment.main, argv(tmp_path / "out", records, "--weight-decay", "0.5"),
                 capsys), "other settings", "weight_decay")


def test_a_users_folder_is_not_taken_for_records(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    refused(call(experiment.main, argv(tmp_path / "out", mine), capsys), str(mine),
            "not a records folder")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_an_unfinished_run_of_a_kept_unit_is_not_mixed_with_its_records(kept, tmp_path, capsys):
    out, records = kept
    here = Path(shutil.copytree(out, tmp_path / "here"))
    (here / "sft-s1" / "summary.json").unlink()  # cut short on this machine
    refused(call(experiment.main, argv(here, copy_of(records, tmp_path)), capsys),
            "unfinished run of seed-1", "remove")


def test_a_finished_run_that_differs_from_its_record_is_refused(kept, tmp_path, capsys):
    out, records = kept
    here = Path(shutil.copytree(out, tmp_path / "here"))
    with open(here / "sft-s0" / "metrics.jsonl", "a") as handle:
        handle.write("{}\n")
    refused(call(experiment.main, argv(here, copy_of(records, tmp_path)), capsys),
            "differs from its record", "metrics.jsonl")


def test_a_link_in_a_run_folder_is_never_copied_into_the_records(kept, tmp_path):
    out, _ = kept
    here = Path(shutil.copytree(out, tmp_path / "here"))
    secret = tmp_path / "secret.txt"
    secret.write_text("a user's file")
    (here / "sft-s0" / "summary.json").unlink()
    (here / "sft-s0" / "summary.json").symlink_to(secret)
    records = Records.open(tmp_path / "kept")
    with pytest.raises(LinkError, match="symbolic link"):
        records.keep("seed-0", ["sft-s0"], here)
    assert not any("a user's file" in p.read_text() for p in (tmp_path / "kept").rglob("*")
                   if p.is_file())
    assert Records.open(tmp_path / "kept").units == {}


def test_a_link_where_a_kept_run_belongs_is_refused_not_followed(kept, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / experiment.MARKER).write_text("")  # the experiment's folder, from before
    (out / "sft-s0").symlink_to(tmp_path / "nowhere")  # a dangling link
    refused(call(experiment.main, argv(out, copy_of(kept[1], tmp_path)), capsys),
            "sft-s0", "unfinished run of seed-0")
    assert not (tmp_path / "nowhere").exists()
