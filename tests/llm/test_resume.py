"""Run state a user owns: real kills at random moments, each state file damaged in turn, the run
folder's lock, and a setup that fails. Every resume must end bit for bit where an uninterrupted
run ends, or fall back (to the previous checkpoint, or the run's start) with one line saying so.
"""

import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from llm_helpers import assert_same_as
from llm_helpers import config_argv as argv
from llm_helpers import resumable as tiny
from safetensors.torch import load_file

from llm.config import TrainConfig
from llm.engine.checkpoint import CHECKPOINT, PREVIOUS, load_checkpoint
from llm.engine.metrics import read_metrics
from llm.engine.run_folder import LOCK, RunFolderError, RunLock
from llm.train import main, run_training

STOP_AFTER = 5
"""The stopped run's last global step: pref step 2 (SFT has 3), so checkpoint.prev is pref 1."""


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one must match."""
    return run_training(tiny(tmp_path_factory.mktemp("whole")))


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A run stopped (as if killed) right after its checkpoint at pref step 2."""
    folder = run_training(tiny(tmp_path_factory.mktemp("stopped"), stop_after=STOP_AFTER))
    assert load_checkpoint(folder)["step"] == 2
    assert load_checkpoint(folder)["stage"] == "pref"
    return folder


def _train(args: list[str]) -> None:
    os._exit(main(args))


def _no_tqdm_monitor(monkeypatch) -> None:
    """Stop tqdm's monitor thread and keep it from starting again: every 10 s it takes tqdm's
    lock, and a child forked while it holds it waits for that lock forever at its first
    progress bar (a test that hung once)."""
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
    if tqdm.tqdm.monitor is not None:
        tqdm.tqdm.monitor.exit()
        tqdm.tqdm.monitor = None


def _attempts(config: TrainConfig, rng: random.Random, seconds: float, kills: int) -> int:
    """Start the run, SIGKILL it at a random moment, resume, ... up to ``kills`` times, then let
    the last attempt finish; returns how many kills landed (an attempt may finish first)."""
    context = multiprocessing.get_context("fork")  # the child starts without importing again
    run_dir = Path(config.out_dir) / "run"
    landed = 0
    for attempt in range(kills + 1):
        started = (run_dir / "config.json").is_file()  # else the kill came before the setup
        child = context.Process(target=_train, args=(argv(config.replace(resume=started)),))
        child.start()
        if attempt < kills:
            child.join(rng.uniform(0.0, seconds))
            if child.is_alive():
                os.kill(child.pid, signal.SIGKILL)
                landed += 1
        child.join(60 * seconds + 60)
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
            child.join()
            raise AssertionError(f"attempt {attempt} hung; killed it")
        if child.exitcode == 0:
            return landed
        assert child.exitcode == -signal.SIGKILL, child.exitcode
    raise AssertionError("the last attempt, not killed, did not finish")


@pytest.mark.slow
def test_runs_killed_at_random_moments_resume_bit_for_bit(tmp_path, whole, monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    _no_tqdm_monitor(monkeypatch)
    started = time.perf_counter()
    run_training(tiny(tmp_path / "timing"))
    seconds = time.perf_counter() - started  # kills land anywhere within one run's length
    rng = random.Random(2024)
    kills = 0
    for round_ in range(3):
        config = tiny(tmp_path / str(round_))
        kills += _attempts(config, rng, seconds, kills=4)
        assert_same_as(tmp_path / str(round_) / "run", whole)
    assert kills >= 3


DAMAGE = {
    "checkpoint/state.pt": ("is damaged (state.pt", f"using {PREVIOUS}/"),
    "checkpoint/model.safetensors": ("is damaged (model.safetensors", f"using {PREVIOUS}/"),
    "checkpoint/config.json": ("is damaged (config.json", f"using {PREVIOUS}/"),
    "checkpoint/run_config.json": ("is damaged (run_config.json", f"using {PREVIOUS}/"),
    "checkpoint/manifest.json": ("is damaged (no readable manifest.json", f"using {PREVIOUS}/"),
    "ref_logps.pt": ("ref_logps.pt is damaged", "computing the reference log-probs again"),
    "config.json": ("config.json is damaged", "comparing with the copy in checkpoint/"),
}


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_state_file_falls_back_and_says_so(tmp_path, whole, stopped, capsys, name):
    run_dir = shutil.copytree(stopped, tmp_path / "run")
    truncate(run_dir / name)
    run_training(tiny(tmp_path, resume=True))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if " is damaged" in line]
    assert len(lines) == 1 and all(word in lines[0] for word in DAMAGE[name]), err
    assert_same_as(run_dir, whole)
    if name.startswith("checkpoint/"):  # the damaged copy is kept aside, the folder in order
        assert (run_dir / (CHECKPOINT + ".damaged") / Path(name).name).is_file()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "values"), [
    ("checkpoint/model.safetensors", lambda path: load_file(path)["transformer.wte.weight"]),
    ("ref_logps.pt", lambda path: torch.load(path)["logps"]),
])
def test_a_silently_flipped_bit_is_caught_by_the_checksum(tmp_path, whole, stopped, capsys,
                                                          name, values):
    run_dir = shutil.copytree(stopped, tmp_path / "run")
    data = bytearray((run_dir / name).read_bytes())
    where = data.find(values(run_dir / name).numpy().tobytes()[:64])
    assert where > 0
    data[where + 3] ^= 0x10  # the file still loads, one number is wrong
    (run_dir / name).write_bytes(bytes(data))
    run_training(tiny(tmp_path, resume=True))
    lines = [line for line in capsys.readouterr().err.splitlines() if " is damaged" in line]
    assert len(lines) == 1 and "SHA-256" in lines[0]
    assert_same_as(run_dir, whole)


@pytest.mark.slow
def test_a_torn_last_metrics_line_is_dropped_on_resume(tmp_path, whole, stopped, capsys):
    run_dir = shutil.copytree(stopped, tmp_path / "run")
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 3, "stage": "pref", "split": "tr')  # killed mid-write
    run_training(tiny(tmp_path, resume=True))
    assert "dropped its half-written last line" in capsys.readouterr().err
    assert_same_as(run_dir, whole)


@pytest.mark.slow
def test_every_checkpoint_damaged_starts_the_run_again(tmp_path, whole, stopped, capsys):
    run_dir = shutil.copytree(stopped, tmp_path / "run")
    truncate(run_dir / CHECKPOINT / "state.pt")
    truncate(run_dir / PREVIOUS / "model.safetensors")
    run_training(tiny(tmp_path, resume=True))
    err = capsys.readouterr().err
    assert "no intact checkpoint" in err and "starting the run again from its first step" in err
    assert_same_as(run_dir, whole)


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_resumes_without_duplicate_rows(
        tmp_path, whole, stopped):
    run_dir = shutil.copytree(stopped, tmp_path / "run")
    for name in (CHECKPOINT, PREVIOUS):
        shutil.rmtree(run_dir / name)  # as if killed before any checkpoint: only rows remain
    assert read_metrics(run_dir)
    run_training(tiny(tmp_path, resume=True))
    assert_same_as(run_dir, whole)


def test_a_second_process_on_a_locked_run_gets_one_line(tmp_path, capsys):
    config = tiny(tmp_path)
    lock = RunLock(tmp_path / "run")
    try:
        assert main(argv(config)) == 2
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is in use by another process (pid {os.getpid()})" in err


def _hold_lock(folder: Path) -> None:
    _held = RunLock(folder)  # held while the object lives
    time.sleep(60)


def test_the_lock_goes_with_a_killed_process(tmp_path):
    context = multiprocessing.get_context("fork")
    holder = context.Process(target=_hold_lock, args=(tmp_path / "run",))
    holder.start()
    deadline = time.monotonic() + 30
    while not (tmp_path / "run" / LOCK).is_file() or not (tmp_path / "run" / LOCK).read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(RunFolderError, match="in use by another process"):
        RunLock(tmp_path / "run")
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    RunLock(tmp_path / "run").release()


def test_a_failed_setup_leaves_nothing_that_blocks_the_retry(tmp_path, capsys):
    config = tiny(tmp_path, sft_steps=1, pref_steps=1, stage="sft")
    assert main(argv(config.replace(sft_batch_size=10_000))) == 2  # fails while loading data
    assert "lower --sft-batch-size" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "run").exists()
    assert main(argv(config)) == 0  # the same command with the fix
    assert (tmp_path / "run" / "config.json").is_file()
