"""Nothing a user owns is lost or run: hostile-but-fair inputs through the real entry points.

Each case of issue 19 is here once: a pickle in a shared run folder runs no code on ``--resume``;
a run name is a name (no separators, no ``..``, no absolute path) and a folder that is not a run
is never written into; ``--resume`` recovers its settings from a checkpoint's copy; a message
says only what happened; every setting is checked before the run folder exists; every option
that would be ignored is refused. Each refusal is one stderr line and exit 2.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import TINY_ARGV as TINY
from cli_helpers import assert_user_error, call, refused, saved_model_argv, snapshot, stage_argv
from llm_helpers import FIXTURES

import sim.bandit
from llm.plot import main as plot_main
from llm.train import main as train_main


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A tiny run stopped (as if killed) right after its checkpoint at preference step 2."""
    out = tmp_path_factory.mktemp("stopped")
    train_main([*TINY, "--out-dir", str(out), "--run-name", "run", "--stop-after", "4"])
    folder = out / "run"
    assert (folder / "checkpoint" / "manifest.json").is_file()
    return folder


def copy_run(stopped: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(stopped, tmp_path / "runs" / "run"))


def resume_args(tmp_path: Path) -> list:
    return [*TINY, "--out-dir", tmp_path / "runs", "--run-name", "run", "--resume"]


# ----------------------------------------------------------------------- code never runs

class Payload:
    """Unpickling this writes a file: proof that a pickle ran code."""

    def __init__(self, proof: Path) -> None:
        self.proof = proof

    def __reduce__(self):
        return (Path.write_text, (self.proof, "ran"))


def _reseal(folder: Path, name: str) -> None:
    """Recompute ``name``'s manifest entry, as someone who tampers with a run would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_in_a_shared_run_runs_no_code_on_resume(tmp_path, stopped, capsys):
    import pickle

    run_dir = copy_run(stopped, tmp_path)
    proof = tmp_path / "proof"
    for name in ("checkpoint", "checkpoint.prev"):
        state = run_dir / name / "state.pt"
        state.write_bytes(pickle.dumps({"stage": "pref", "step": 2, "x": Payload(proof)}))
        _reseal(run_dir / name, "state.pt")
    code, _, err = call(train_main, resume_args(tmp_path), capsys)
    assert not proof.exists(), "unpickling state.pt ran code"
    assert "Traceback" not in err
    assert code == 0 and "state.pt" in err  # both copies refused as data; the run started over


def test_checkpoint_state_loads_as_data_only():
    source = (Path(__file__).parents[1] / "llm").rglob("*.py")
    unsafe = [str(p) for p in source if "weights_only=False" in p.read_text()]
    assert unsafe == []


# ------------------------------------------------------------------ names are names

@pytest.mark.parametrize("name", ["..", ".", "a/b", "ABSOLUTE", "a\\b", "", " x"])
def test_a_run_name_that_is_not_a_name_is_refused(capsys, tmp_path, name):
    name = str(tmp_path / "elsewhere") if name == "ABSOLUTE" else name
    victim = tmp_path / "victim"
    (victim / "out").mkdir(parents=True)
    (victim / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    refused(call(train_main, [*TINY, "--out-dir", victim / "out", "--run-name", name], capsys),
            "--run-name")
    assert snapshot(tmp_path) == before


def test_a_folder_that_is_not_a_run_is_never_written(capsys, tmp_path):
    victim = tmp_path / "runs" / "victim"
    (victim / "sft").mkdir(parents=True)
    (victim / "sft" / "notes.txt").write_text("mine")
    (victim / "metrics.jsonl").write_text("my own metrics\n")
    before = snapshot(tmp_path)
    for extra in ([], ["--resume"]):
        refused(call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--run-name", "victim",
                                  *extra], capsys), "not a run folder")
        assert snapshot(tmp_path) == before


def test_an_f_with_a_slash_names_one_folder(capsys, tmp_path):
    code, _, err = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--f", "1/u - 1"],
                        capsys)
    assert code == 0, err
    folders = [p for p in (tmp_path / "runs").iterdir()]
    assert len(folders) == 1 and (folders[0] / "config.json").is_file(), folders


# ----------------------------------------------------------------------- resume recovers

@pytest.mark.slow
def test_resume_without_config_json_recovers_it_from_the_checkpoint(tmp_path, stopped, capsys):
    run_dir = copy_run(stopped, tmp_path)
    (run_dir / "config.json").unlink()
    code, _, err = call(train_main, resume_args(tmp_path), capsys)
    assert code == 0, err
    assert "resuming pref at step 2" in err and "run_config.json" in err
    assert json.loads((run_dir / "config.json").read_text())["pref_steps"] == 4


@pytest.mark.slow
@pytest.mark.parametrize(("key", "text", "message"), [
    ("beta", '"0.1"', 'beta holds "0.1", not a number'),
    ("seed", "true", "seed holds true, not an integer"),
    ("pref_steps", "4.5", "pref_steps holds 4.5, not an integer"),
    ("loss", "null", "loss holds null, not a string"),
    ("beta", "0.1, \"beta\": 0.5", 'key "beta" is given twice'),
])
def test_a_config_json_of_the_wrong_types_is_damaged_and_recovered(tmp_path, stopped, capsys,
                                                                   key, text, message):
    """``"beta": "0.1"`` read as a changed setting ("--resume with changed settings ['beta']")
    though the user changed nothing: it is damaged, and the checkpoint's copy is taken."""
    run_dir = copy_run(stopped, tmp_path)
    config = run_dir / "config.json"
    saved = json.loads(config.read_text())
    text_of = json.dumps(saved, indent=2, sort_keys=True)
    written = text_of.replace(f'"{key}": {json.dumps(saved[key])}', f'"{key}": {text}', 1)
    assert written != text_of
    config.write_text(written)
    code, _, err = call(train_main, [*resume_args(tmp_path), "--beta", str(saved["beta"])],
                        capsys)
    assert code == 0, err
    assert f"{config} is damaged ({message}" in err and "run_config.json" in err, err
    assert "resuming pref at step 2" in err
    assert json.loads(config.read_text())[key] == saved[key]  # written anew, of its own type


@pytest.mark.slow
def test_a_mistyped_config_json_still_refuses_a_changed_setting(tmp_path, stopped, capsys):
    run_dir = copy_run(stopped, tmp_path)
    config = run_dir / "config.json"
    saved = json.loads(config.read_text())
    config.write_text(json.dumps({**saved, "beta": str(saved["beta"])}))
    refused(call(train_main, [*resume_args(tmp_path), "--beta", str(saved["beta"] * 2)], capsys),
            "--resume with changed settings ['beta']")


@pytest.mark.slow
def test_a_run_without_config_json_is_not_started_over(tmp_path, stopped, capsys):
    run_dir = copy_run(stopped, tmp_path)
    (run_dir / "config.json").unlink()
    before = snapshot(run_dir)
    refused(call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--run-name", "run"],
                 capsys), "--resume")
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_every_checkpoint_damaged_keeps_both_aside_and_says_so(tmp_path, stopped, capsys):
    run_dir = copy_run(stopped, tmp_path)
    for name in ("checkpoint", "checkpoint.prev"):
        state = run_dir / name / "state.pt"
        state.write_bytes(state.read_bytes()[:100])
    code, _, err = call(train_main, resume_args(tmp_path), capsys)
    assert code == 0, err
    for name in ("checkpoint", "checkpoint.prev"):
        kept = run_dir / (name + ".damaged")
        assert kept.is_dir() and (kept / "state.pt").stat().st_size == 100, err
        assert f"{name}.damaged" in err.split("kept as")[1], err


@pytest.mark.slow
def test_a_weights_header_claiming_an_exabyte_falls_back_to_the_previous_checkpoint(
        tmp_path, stopped, capsys):
    """The manifest resealed over it (so only the header itself can tell): the newest
    checkpoint is damaged, the run resumes from ``checkpoint.prev``."""
    import struct

    run_dir = copy_run(stopped, tmp_path)
    weights = run_dir / "checkpoint" / "model.safetensors"
    weights.write_bytes(struct.pack("<Q", 2**60) + weights.read_bytes()[8:])
    _reseal(run_dir / "checkpoint", "model.safetensors")
    code, _, err = call(train_main, resume_args(tmp_path), capsys)
    assert code == 0, err
    assert "model.safetensors is not a readable safetensors file" in err, err
    assert (run_dir / "checkpoint.damaged" / "model.safetensors").read_bytes()[:8] == (
        struct.pack("<Q", 2**60))


# ------------------------------------------------------------- checked before any work

@pytest.mark.parametrize(("args", "word"), [
    (["--weight-decay", "nan"], "weight_decay"),
    (["--grad-clip", "nan"], "grad_clip"),
    (["--lr", "inf"], "lr"),
    (["--truth-max-new-tokens", "0"], "truth_max_new_tokens"),
    (["--truth-max-new-tokens", "-1"], "truth_max_new_tokens"),
    (["--seed", "-1"], "seed"),
    (["--seed", "1e23"], "--seed"),
    (["--max-length", "1000000000"], "max_length"),
    (["--n-embd", "1000000", "--n-head", "1"], "n_embd"),
    (["--n-layer", "100000"], "n_layer"),
    (["--threads", "100000"], "threads"),
    (["--loss", "dpo", "--f", "hellinger"], "--f"),
    (["--model", "x", "--init", "y"], "--init"),
])
def test_a_bad_setting_is_refused_before_the_run_folder_exists(capsys, tmp_path, args, word):
    refused(call(train_main, [*TINY, "--out-dir", tmp_path / "runs", *args], capsys), word)
    assert not (tmp_path / "runs").exists()


OFFLINE = ["--device", "cpu", "--sft-steps", "2", "--pref-steps", "2", "--batch-size", "4"]
"""A tiny offline run's options (the offline task has a true reward)."""
BASES = {"tiny": TINY, "sft": stage_argv(TINY, "sft"), "pref": stage_argv(TINY, "pref"),
         "offline": OFFLINE}


@pytest.mark.parametrize("base,args,word", [
    ("tiny", ["--loss", "dpo", "--form", "paper"], "--form"),
    ("tiny", ["--loss", "ipo", "--form", "per_response"], "--form"),
    ("tiny", ["--loss", "dpo", "--allow-inadmissible-f"], "--allow-inadmissible-f"),
    ("tiny", ["--f", "js", "--allow-inadmissible-f"], "--allow-inadmissible-f"),
    ("sft", ["--beta", "0.5"], "--beta"),
    ("sft", ["--lr", "0.1"], "--lr"),
    ("sft", ["--loss", "ipo"], "--loss"),
    ("sft", ["--f", "rkl"], "--f"),
    ("sft", ["--length", "mean"], "--length"),
    ("sft", ["--pref-steps", "3"], "--pref-steps"),
    ("sft", ["--batch-size", "2"], "--batch-size"),
    ("pref", ["--sft-lr", "0.1"], "--sft-lr"),
    ("pref", ["--sft-steps", "3"], "--sft-steps"),
    ("pref", ["--sft-batch-size", "2"], "--sft-batch-size"),
    ("tiny", ["--lora-alpha", "8"], "--lora-alpha"),
    ("tiny", ["--lora-target-modules", "c_attn"], "--lora-target-modules"),
    ("tiny", ["--offline-train-pairs", "100"], "--offline-train-pairs"),
    ("tiny", ["--offline-eval-pairs", "10"], "--offline-eval-pairs"),
    ("tiny", ["--truth-f", "rkl"], "--truth-f"),
    ("tiny", ["--truth-max-new-tokens", "8"], "--truth-max-new-tokens"),
    ("tiny", ["--truth-every", "2"], "--truth-every"),
    ("tiny", ["--truth-eval-prompts", "8"], "--truth-eval-prompts"),
    ("offline", ["--truth-eval-prompts", "0", "--truth-f", "rkl"], "--truth-f"),
    ("offline", ["--truth-eval-prompts", "0", "--truth-every", "2"], "--truth-every"),
    ("offline", ["--truth-eval-prompts", "0", "--truth-max-new-tokens", "8"],
     "--truth-max-new-tokens"),
    ("offline", ["--holdout", "validation", "--truth-f", "rkl"], "--truth-f"),
    ("offline", ["--eval-fraction", "0.3"], "--eval-fraction"),
    ("tiny", ["--eval-data-path", FIXTURES / "trl.jsonl"], "--eval-fraction"),
    ("tiny", ["--stop-after", "-1"], "--stop-after"),
    ("tiny", ["--stop-after", "0"], "--stop-after"),
    ("tiny", ["--stop-after", "7"], "past this run's last step (6)"),
    ("sft", ["--stop-after", "3"], "past this run's last step (2)"),
    ("tiny", ["--model", "gpt2"], "--n-layer is ignored with --model"),
    ("pref", ["--init", FIXTURES], "--n-layer is ignored with --init"),
    ("tiny", ["--deterministic", "--no-deterministic"], "--no-deterministic"),
])
def test_an_option_the_run_would_ignore_is_refused_before_the_run_folder_exists(
        capsys, tmp_path, base, args, word):
    result = call(train_main, [*BASES[base], "--out-dir", tmp_path / "runs", *args], capsys)
    assert_user_error(result, word)  # one line, nothing before it
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args", [
    [], ["--stage", "both"], ["--holdout", "validation", "--eval-fraction", "0.3"],
    ["--truth-every", "2", "--truth-f", "rkl", "--truth-max-new-tokens", "8"],
    ["--loss", "iupo", "--form", "paper"], ["--stop-after", "1"], ["--stop-after", "4"],
])
def test_an_option_the_run_uses_is_accepted(args):
    from llm.config import TrainConfig
    from llm.train import parse_args

    assert isinstance(parse_args([*OFFLINE, *args]), TrainConfig)  # a refusal would exit 2


@pytest.mark.parametrize("where", ["folder", "proc"])
def test_a_reference_cache_that_cannot_be_a_file_is_refused_first(capsys, tmp_path, where):
    cache = tmp_path if where == "folder" else Path("/proc/upo-test/x.pt")
    refused(call(train_main, [*stage_argv(TINY, "pref"), "--out-dir", tmp_path / "runs",
                              "--reference-cache", cache], capsys), "--reference-cache")
    assert not (tmp_path / "runs").exists()


def test_a_type_error_is_one_line(capsys, tmp_path):
    code, _, err = call(train_main, ["--sft-steps", "many"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--sft-steps" in err


# ------------------------------------------------------------------- readers are bounded

def test_deeply_nested_json_in_a_data_row_is_a_bad_row(capsys, tmp_path):
    data = tmp_path / "data.jsonl"
    rows = (FIXTURES / "trl.jsonl").read_text()
    data.write_text(rows + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = call(train_main, [*stage_argv(TINY, "sft"), "--out-dir", tmp_path / "runs",
                                     "--data-path", data], capsys)
    assert "Traceback" not in err and "RecursionError" not in err
    assert code == 0, err


def test_a_huge_integer_in_a_data_row_is_a_bad_row(capsys, tmp_path):
    data = tmp_path / "data.jsonl"
    rows = (FIXTURES / "trl.jsonl").read_text()
    data.write_text(rows + '{"prompt": "a", "chosen": "b", "rejected": "c", "n": '
                    + "9" * 5001 + "}\n")
    code, _, err = call(train_main, [*stage_argv(TINY, "sft"), "--out-dir", tmp_path / "runs",
                                     "--data-path", data], capsys)
    assert code == 0 and "Traceback" not in err, err


def test_bandit_problem_file_nested_too_deep(capsys, tmp_path):
    problem = tmp_path / "p.json"
    problem.write_text('{"beta": 0.1, "prefs": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(call(sim.bandit.main, ["--problem", problem], capsys), "p.json")


# ------------------------------------------------------------ output formats checked first

def test_plot_out_with_an_unknown_format(capsys, tmp_path):
    refused(call(plot_main, [tmp_path, "--out", tmp_path / "x.txt"], capsys), "--out", ".txt")


def test_bandit_plot_with_an_unknown_format(capsys, tmp_path):
    refused(call(sim.bandit.main, ["--plot", tmp_path / "x.txt"], capsys), "--plot", ".txt")


# ------------------------------------------------------------------- models are checked

@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    """A one-layer GPT-2 saved with its tokenizer, as a user hands one over."""
    from llm.engine.model import offline_gpt2, offline_gpt2_tokenizer

    folder = tmp_path_factory.mktemp("model") / "gpt2"
    offline_gpt2(1, 32, 2, n_positions=128, seed=0).save_pretrained(folder)
    offline_gpt2_tokenizer().save_pretrained(folder)
    return folder


def _model_args(tmp_path: Path, model: Path) -> list:
    return [*saved_model_argv(stage_argv(TINY, "sft"), "--model", model), "--out-dir",
            tmp_path / "runs"]


def test_a_saved_model_trains(capsys, tmp_path, saved_model):
    code, _, err = call(train_main, _model_args(tmp_path, saved_model), capsys)
    assert code == 0, err


@pytest.mark.parametrize("damage", ["truncated", "file", "t5", "mismatched", "pickle"])
def test_a_model_that_cannot_load_is_one_line(capsys, tmp_path, saved_model, damage):
    import pickle

    folder = Path(shutil.copytree(saved_model, tmp_path / "model"))
    weights = folder / "model.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "file":
        folder = weights
    elif damage == "t5":
        (folder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    elif damage == "mismatched":
        settings = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**settings, "n_embd": 64, "n_head": 4}))
    else:
        weights.unlink()
        proof = tmp_path / "proof"
        (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Payload(proof)))
    refused(call(train_main, _model_args(tmp_path, folder), capsys), "model")
    assert damage != "pickle" or not proof.exists()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("f", ["1 - u**2", "u*log(u) + 1"])
def test_upo_trainer_refuses_what_llm_train_refuses(capsys, tmp_path, f):
    """A non-convex f, and an f with f(1) != 0: UPOTrainer applies llm.train's admissibility."""
    pytest.importorskip("trl")
    from llm.trl import UPOTrainer
    from upo_theory import UserError

    with pytest.raises(UserError, match="fails"):
        UPOTrainer(loss="iupo", f=f)
    refused(call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--f", f], capsys),
            "--allow-inadmissible-f")


# ------------------------------------------------------------------------ a full disk

@pytest.mark.slow
def test_a_full_disk_while_saving_is_one_line(tmp_path):
    """A file-size limit (as a full disk) while the SFT model is saved: one line, exit 2."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))

    result = subprocess.run([sys.executable, "-m", "llm.train", *map(str, TINY), "--out-dir",
                             str(tmp_path / "runs"), "--run-name", "run"],
                            capture_output=True, text=True, preexec_fn=limit, timeout=600,
                            cwd=Path(__file__).parents[1])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("python -m llm.train: error: no room")
    assert not (tmp_path / "runs" / "run" / "sft.tmp").exists()


def test_experiment_seeds_out_of_range(capsys, tmp_path):
    from llm.experiment import main as experiment_main

    refused(call(experiment_main, ["--out-dir", tmp_path / "x", "--seeds", "-1"], capsys),
            "seeds")
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------- damaged files of other commands

RESULTS = Path(__file__).parents[1] / "docs" / "results"
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("name", "text"), [
    ("runs.csv", None),  # half-written: cut in the middle of a row
    ("setup.json", "{not json"),
    ("setup.json", NESTED),
    ("runs.csv", ""),
    ("runs.csv", "a,b\n1,2\n"),
    ("curves.csv", "\x00\x01\x02binary"),
])
def test_results_on_damaged_files_is_one_line(capsys, tmp_path, name, text):
    from llm.results import main as results_main

    folder = Path(shutil.copytree(RESULTS, tmp_path / "results"))
    path = folder / name
    path.write_text(path.read_text()[: len(path.read_text()) // 2] if text is None else text)
    refused(call(results_main, [folder], capsys), str(folder))


@pytest.mark.slow
def test_a_nested_manifest_falls_back_and_a_nested_config_is_recovered(tmp_path, stopped,
                                                                       capsys):
    run_dir = copy_run(stopped, tmp_path)
    (run_dir / "checkpoint" / "manifest.json").write_text(NESTED)
    (run_dir / "config.json").write_text(NESTED)
    code, _, err = call(train_main, resume_args(tmp_path), capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "checkpoint.prev" in err and "run_config.json" in err


def test_plot_a_metrics_line_nested_too_deep(capsys, tmp_path, stopped):
    run_dir = copy_run(stopped, tmp_path)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[1] = NESTED
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    refused(call(plot_main, [run_dir, "--out", tmp_path / "c.png"], capsys), "line 2")
