"""Nothing a user owns is written through a link, and every stop is one line (issue 28).

A run folder someone hands over may hold symbolic links or hard links where the run's own files
belong; each is refused in one line and the file it leads to stays byte for byte as it was
(:func:`planted`). Commands that write a folder refuse one holding what they did not write; a
file the user owns is never overwritten. Ctrl-C and a full disk are one line; malformed pieces
of a run folder are damage (the previous checkpoint is used) or one line, never a traceback; a
checkpoint at a step the run's plan does not have is damage.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from cli_helpers import TINY_ARGV as TINY
from cli_helpers import assert_user_error, call, refused, snapshot, stage_argv

from llm.train import main as train_main

NOTES = b"my notes, not a run's file\n"


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A tiny run stopped right after its checkpoint at preference step 2; the one before it,
    at the end of SFT, kept as ``checkpoint.prev``."""
    out = tmp_path_factory.mktemp("stopped")
    assert train_main([*TINY, "--out-dir", str(out), "--run-name", "run", "--stop-after",
                       "4"]) == 0
    return out / "run"


@pytest.fixture
def run(stopped, tmp_path) -> Path:
    return Path(shutil.copytree(stopped, tmp_path / "runs" / "run", symlinks=True))


@pytest.fixture
def home(tmp_path) -> Path:
    """A user's files outside the run: a text file and a folder with a file in it."""
    folder = tmp_path / "home"
    (folder / "docs").mkdir(parents=True)
    (folder / "notes.txt").write_bytes(NOTES)
    (folder / "docs" / "config.json").write_bytes(NOTES)
    return folder


def resume(tmp_path: Path, *extra) -> list:
    return [*TINY, "--out-dir", tmp_path / "runs", "--run-name", "run", "--resume", *extra]


def planted(run: Path, name: str, home: Path, kind: str) -> None:
    """Put a ``kind`` link (``symlink`` or ``hardlink``) to a user's file, or (for the names of
    folders) a symbolic link to a user's folder, at ``run/name``."""
    target = run / name
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    source = home / ("docs" if name.split(".")[0] in ("checkpoint", "sft") else "notes.txt")
    if kind == "symlink":
        target.symlink_to(source)
    else:
        os.link(source, target)


# ------------------------------------------------------------ links in a run folder

FILES = [".lock", ".upo-run", "config.json", "truth.json", "curves.png", "metrics.csv",
         "metrics.jsonl", "summary.json", "ref_logps.pt"]
FOLDERS = ["checkpoint.tmp", "sft.tmp", "checkpoint.damaged", "checkpoint.prev", "sft"]


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
@pytest.mark.parametrize("name", FILES)
def test_a_link_for_a_run_file_is_refused_and_never_written(capsys, tmp_path, run, home, name,
                                                            kind):
    planted(run, name, home, kind)
    before = snapshot(home)
    refused(call(train_main, resume(tmp_path), capsys), name, "link")
    assert snapshot(home) == before


@pytest.mark.parametrize("name", FOLDERS)
def test_a_link_for_a_run_folder_is_refused_and_never_written(capsys, tmp_path, run, home, name):
    planted(run, name, home, "symlink")
    before = snapshot(home)
    refused(call(train_main, resume(tmp_path), capsys), name, "link")
    assert snapshot(home) == before


def test_a_missing_jsonl_beside_a_linked_csv(capsys, tmp_path, run, home):
    (run / "metrics.jsonl").unlink()
    planted(run, "metrics.csv", home, "symlink")
    refused(call(train_main, resume(tmp_path), capsys), "metrics.csv", "link")
    assert (home / "notes.txt").read_bytes() == NOTES


def test_a_marker_that_is_a_folder_is_one_line(capsys, tmp_path, run):
    (run / ".upo-run").unlink()
    (run / ".upo-run").mkdir()
    refused(call(train_main, resume(tmp_path), capsys), ".upo-run")


def test_a_lock_that_is_a_fifo_is_one_line(capsys, tmp_path, run):
    """It said "cannot write the run folder (None)", then a traceback (issue 28)."""
    (run / ".lock").unlink(missing_ok=True)
    os.mkfifo(run / ".lock")
    refused(call(train_main, resume(tmp_path), capsys), ".lock is not a plain file")


def test_the_writers_replace_a_link_and_never_append_through_one(tmp_path, home):
    """A link planted while a run goes on: an atomic write replaces the link, an append
    refuses it, a save folder over a link or a stranger's folder is refused."""
    from llm.engine.atomic import LinkError, append, fresh_folder
    from upo_theory.cli import write_atomically

    notes = home / "notes.txt"
    (tmp_path / "a").symlink_to(notes)
    write_atomically(tmp_path / "a", "ours")
    assert (tmp_path / "a").read_text() == "ours" and not (tmp_path / "a").is_symlink()
    os.link(notes, tmp_path / "b")
    write_atomically(tmp_path / "b", "ours")
    (tmp_path / "c").symlink_to(notes)
    os.link(notes, tmp_path / "d")
    for name in ("c", "d"):
        with pytest.raises(LinkError, match="link"):
            append(tmp_path / name, "row\n")
    (tmp_path / "e.tmp").symlink_to(home / "docs")
    with pytest.raises(LinkError, match="link"):
        fresh_folder(tmp_path / "e.tmp")
    (tmp_path / "f.tmp").mkdir()
    (tmp_path / "f.tmp" / "mine").write_bytes(NOTES)
    with pytest.raises(LinkError, match="did not write"):
        fresh_folder(tmp_path / "f.tmp")
    assert (tmp_path / "f.tmp" / "mine").read_bytes() == NOTES
    assert notes.read_bytes() == NOTES and (home / "docs" / "config.json").read_bytes() == NOTES


# ------------------------------------------------- commands that write a folder or a file

def test_docs_refuse_a_folder_they_did_not_write(capsys, tmp_path):
    from docs.__main__ import main as docs_main

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_bytes(NOTES)
    sources = tmp_path / "site.sources"
    sources.mkdir()
    (sources / "mine.md").write_bytes(NOTES)
    before = snapshot(tmp_path)
    assert_user_error(call(docs_main, ["--out", site, "--no-plots"], capsys), "--out", "index")
    (site / "index.html").unlink()  # an empty --out: the sources folder beside it is not ours
    assert_user_error(call(docs_main, ["--out", site, "--no-plots"], capsys), "sources")
    before.pop("site/index.html")
    assert snapshot(tmp_path) == before
    shutil.move(sources, tmp_path / "mine")  # a link there: the build would delete through it
    sources.symlink_to(tmp_path / "mine")
    assert_user_error(call(docs_main, ["--out", site, "--no-plots"], capsys), "sources", "link")
    assert (tmp_path / "mine" / "mine.md").read_bytes() == NOTES


def test_experiment_refuses_a_folder_it_did_not_write(capsys, tmp_path):
    from llm.experiment import main as experiment_main

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(NOTES)
    result = call(experiment_main, ["--out-dir", folder, "--quick"], capsys)
    assert_user_error(result, "--out-dir", "notes.txt")
    assert snapshot(folder) == {"notes.txt": NOTES}


def test_task_never_overwrites_a_file(capsys, tmp_path, home):
    from llm.task import main as task_main

    notes = home / "notes.txt"
    assert_user_error(call(task_main, ["--write", notes, "--n-train", "8", "--n-eval", "4"],
                           capsys), "exists")
    (tmp_path / "pairs.jsonl").symlink_to(notes)
    assert_user_error(call(task_main, ["--write", tmp_path / "pairs.jsonl", "--n-train", "8",
                                       "--n-eval", "4"], capsys), "exists")
    assert notes.read_bytes() == NOTES


def test_a_reference_cache_that_is_not_ours_is_refused_before_training(capsys, tmp_path, home):
    notes = home / "notes.txt"
    result = call(train_main, [*stage_argv(TINY, "pref"), "--out-dir", tmp_path / "runs",
                               "--run-name", "run", "--reference-cache", notes], capsys)
    refused(result, "--reference-cache", "not a reference cache")
    assert "weights_only" not in result[2]
    assert notes.read_bytes() == NOTES
    assert not (tmp_path / "runs" / "run").exists()


# ------------------------------------------------------------------- one-line stops

def test_ctrl_c_in_a_run_is_one_line_and_the_run_resumes(capsys, tmp_path, monkeypatch):
    import llm.engine.session as session

    saves = []
    real = session.save_checkpoint

    def interrupted(*args, **kwargs):
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(session, "save_checkpoint", interrupted)
    args = [*TINY, "--out-dir", tmp_path / "runs", "--run-name", "run"]
    code, _, err = call(train_main, args, capsys)
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("python -m llm.train: stopped by Ctrl-C")
    assert "--resume" in err
    monkeypatch.setattr(session, "save_checkpoint", real)
    code, _, err = call(train_main, [*args, "--resume"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("module", ["llm.task", "llm.plot", "sim.bandit", "upo_theory.__main__"])
def test_ctrl_c_in_any_command_is_one_line(capsys, monkeypatch, module, tmp_path):
    import importlib

    from upo_theory.cli import run_cli as real

    command = importlib.import_module(module)

    def stop():
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run_cli", lambda prog, work, *a, **k: real(prog, stop, *a, **k))
    args = {"llm.plot": [tmp_path, "--out", tmp_path / "c.png"]}.get(module, [])
    code, _, err = call(command.main, args, capsys)
    assert code == 130 and err.count("\n") == 1 and "Ctrl-C" in err, err


def test_a_full_disk_inside_the_state_file_is_one_line(capsys, tmp_path, monkeypatch):
    def full(obj, handle, *args, **kwargs):
        handle.write(b"x" * 10)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--run-name", "run"],
                  capsys)
    refused(result, "no room")
    assert not (tmp_path / "runs" / "run" / "checkpoint.tmp").exists()


def test_a_full_disk_anywhere_is_one_line(capsys):
    from upo_theory.cli import run_cli

    def work():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "metrics.jsonl")

    assert run_cli("prog", work) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no room" in err and "metrics.jsonl" in err


# ------------------------------------------------------- malformed pieces are damage

def _reseal(folder: Path, name: str) -> None:
    """Recompute ``name``'s manifest entry, as someone who edits a run would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_state(folder: Path, change) -> None:
    state = torch.load(folder / "state.pt", weights_only=True)
    change(state)
    torch.save(state, folder / "state.pt")
    _reseal(folder, "state.pt")


DAMAGE = {
    "unknown stage": lambda c: _edit_manifest(c, lambda m: m.update(
        position={"stage": "rlhf", "step": 2})),
    "files not an object": lambda c: _edit_manifest(c, lambda m: m.update(files=[1, 2])),
    "an entry not an object": lambda c: _edit_manifest(c, lambda m: m["files"].update(
        {"state.pt": 7})),
    "an entry outside": lambda c: _edit_manifest(c, lambda m: m["files"].update(
        {"../config.json": {"size": 1, "sha256": "0"}})),
    "no optimizer": lambda c: _edit_state(c, lambda s: s.pop("optimizer")),
    "scheduler a number": lambda c: _edit_state(c, lambda s: s.update(scheduler=3)),
    "state step 1000": lambda c: _edit_state(c, lambda s: s.update(step=1000)),
    "planned step 1000": lambda c: (_edit_state(c, lambda s: s.update(step=1000)),
                                    _edit_manifest(c, lambda m: m.update(
                                        position={"stage": "pref", "step": 1000}))),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_malformed_checkpoint_is_damage_and_the_run_falls_back(capsys, tmp_path, run,
                                                                  damage):
    DAMAGE[damage](run / "checkpoint")
    code, _, err = call(train_main, resume(tmp_path), capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "checkpoint is damaged" in err and "using checkpoint.prev/" in err, err
    assert "at step 1000" not in err
    assert (run / "checkpoint.damaged").is_dir() and (run / "summary.json").is_file()


def test_an_optimizer_state_of_another_model_is_one_line(capsys, tmp_path, run):
    _edit_state(run / "checkpoint", lambda s: s.update(optimizer={"state": {},
                                                                  "param_groups": []}))
    refused(call(train_main, resume(tmp_path), capsys), "state.pt", "--resume")


def test_a_metrics_row_of_an_unknown_stage_is_one_line(capsys, tmp_path, run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    lines[0] = json.dumps({**row, "stage": "rlhf"})
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    refused(call(train_main, resume(tmp_path), capsys), "metrics.jsonl", "line 1")


def test_plot_on_an_empty_metrics_file_is_one_line(capsys, tmp_path, run):
    from llm.plot import main as plot_main

    (run / "metrics.jsonl").write_text("")
    assert_user_error(call(plot_main, [run, "--out", tmp_path / "c.png"], capsys), str(run))
