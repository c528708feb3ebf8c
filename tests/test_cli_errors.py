"""Every CLI through its real entry point: a user's mistake is one line on stderr, ``<prog>: error:
<message naming the fix>``, exit 2 and no traceback, and no run folder is left half-written; a
valid input that used to crash (a crashed run's half-written metrics line) works.

The rows of issue 13 that belong to the data readers and to f's admissibility and budget are
tested with those modules; the rows that were already right are kept here so they stay right.
"""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_user_error, call, saved_model_argv, stage_argv

import sim.bandit
from llm.config import TrainConfig
from llm.engine.run_folder import RunLock
from llm.experiment import main as experiment_main
from llm.plot import main as plot_main
from llm.task import main as task_main
from llm.train import main as train_main
from upo_theory.cli import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
TINY = ["--data", "jsonl", "--data-path", str(FIXTURES / "trl.jsonl"), "--n-layer", "1",
        "--n-embd", "32", "--n-head", "2", "--sft-steps", "2", "--pref-steps", "2",
        "--batch-size", "4", "--sft-batch-size", "4", "--eval-fraction", "0.25",
        "--truth-eval-prompts", "0", "--max-length", "48", "--run-name", "run"]


def assert_nothing_left(out_dir: Path) -> None:
    """No run folder, not even an empty one, under ``out_dir``."""
    assert not out_dir.exists() or list(out_dir.rglob("*")) == []


@pytest.fixture
def read_only(tmp_path):
    """A folder this process cannot write in (root writes anywhere but in /proc)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        yield folder
    else:
        (folder / "probe").unlink()
        if not Path("/proc/self").is_dir():
            pytest.skip("root without /proc: no folder refuses writes")
        yield Path("/proc/self")
    finally:
        folder.chmod(0o755)


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


# ----------------------------------------------------------------------------- llm.train

def test_train_out_dir_under_a_file(capsys, a_file):
    assert_user_error(call(train_main, [*TINY, "--out-dir", a_file / "runs"], capsys),
                      "--out-dir", "Not a directory")


def test_train_out_dir_read_only(capsys, read_only):
    assert_user_error(call(train_main, [*TINY, "--out-dir", read_only / "runs"], capsys),
                      "--out-dir")


@pytest.mark.parametrize("device", ["foo", "cuda:x", "mps"])
def test_train_unknown_device(capsys, tmp_path, device):
    result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--device", device], capsys)
    assert_user_error(result, f"device={device!r}", "cpu")
    assert_nothing_left(tmp_path / "runs")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_train_cuda_without_cuda(capsys, tmp_path, device):
    result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--device", device], capsys)
    assert_user_error(result, "CUDA is not available", "--device cpu")
    assert_nothing_left(tmp_path / "runs")


def test_train_init_a_folder_that_is_not_a_saved_model(capsys, tmp_path):
    empty, run_folder = tmp_path / "empty", tmp_path / "a-run"
    empty.mkdir()
    run_folder.mkdir()  # a run folder's config.json is the run's settings, not a model's
    (run_folder / "config.json").write_text(TrainConfig().to_json())
    for folder, problem in ((empty, "no config.json"), (run_folder, "no model_type")):
        result = call(train_main, [*saved_model_argv(stage_argv(TINY, "pref"), "--init", folder),
                                   "--out-dir", tmp_path / "runs"], capsys)
        assert_user_error(result, "is not a saved model folder", problem, "<run>/sft")
    assert_nothing_left(tmp_path / "runs")


def test_train_setup_that_fails_leaves_no_run_folder(capsys, tmp_path):
    result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--sft-batch-size",
                               "10000"], capsys)
    assert_user_error(result, "lower --sft-batch-size", alone=False)
    assert_nothing_left(tmp_path / "runs")


def test_train_a_run_in_use_by_another_process(capsys, tmp_path):
    lock = RunLock(tmp_path / "runs" / "run")
    try:
        result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs"], capsys)
    finally:
        lock.release()
    assert_user_error(result, "in use by another process", "--run-name")


@pytest.mark.parametrize(("args", "word"), [
    (["--beta", "0"], "beta"),
    (["--beta", "-1"], "beta"),
    (["--beta", "nan"], "beta"),
    (["--f", "no_such_divergence"], "no_such_divergence"),
    (["--f", "alpha", "--alpha", "2"], "alpha"),
    (["--data-path", "missing.jsonl"], "missing.jsonl"),
])
def test_train_values_already_refused_stay_refused(capsys, tmp_path, args, word):
    result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", *args], capsys)
    assert_user_error(result, word)
    assert_nothing_left(tmp_path / "runs")


@pytest.mark.parametrize("text", ["", '{"prompt": 1}\n{"chosen": "x"}\n'])
def test_train_a_file_without_usable_pairs(capsys, tmp_path, text):
    data = tmp_path / "data.jsonl"
    data.write_text(text)
    result = call(train_main, [*TINY, "--out-dir", tmp_path / "runs", "--data-path", data],
                  capsys)
    assert_user_error(result, "data.jsonl", alone=False)
    assert_nothing_left(tmp_path / "runs")


@pytest.mark.slow
def test_torchrun_with_a_batch_that_does_not_divide(tmp_path):
    """Each process refuses before joining the process group, exit 2, no run folder; the first
    process says why in one line (every process refuses for the same reason). torchrun then
    reports the failed processes in its own words (ChildFailedError), which no child can
    prevent."""
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
            "2", "-m", "llm.train", *TINY, "--batch-size", "3", "--out-dir", tmp_path / "runs"]
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    ours = [line for line in done.stderr.splitlines() if line.startswith("python -m llm.train")]
    assert done.returncode != 0
    assert ours == ["python -m llm.train: error: --batch-size 3 does not divide over the 2 "
                    "processes; give a multiple of 2"]
    assert "exitcode  : 2" in done.stderr
    assert f"{os.sep}llm{os.sep}" not in done.stderr  # no traceback through the project's code
    assert_nothing_left(tmp_path / "runs")


# ----------------------------------------------------------------------------- llm.experiment

def test_experiment_out_dir_under_a_file(capsys, a_file):
    assert_user_error(call(experiment_main, ["--quick", "--out-dir", a_file / "x"], capsys),
                      "--out-dir")


def test_experiment_unknown_device(capsys, tmp_path):
    result = call(experiment_main, ["--quick", "--out-dir", tmp_path / "x", "--device", "foo"],
                  capsys)
    assert_user_error(result, "device='foo'")
    assert_nothing_left(tmp_path / "x")


@pytest.mark.parametrize("args,word", [
    (["--data", "jsonl", "--data-path", FIXTURES / "trl.jsonl", "--truth-every", "5"],
     "--truth-every"),
    (["--quick", "--data", "jsonl", "--data-path", FIXTURES / "trl.jsonl", "--truth-every", "5"],
     "--truth-every"),
    (["--quick", "--lora-alpha", "4"], "--lora-alpha"),
    (["--quick", "--pref-steps", "9"], "--pref-steps"),
    (["--quick", "--offline-train-pairs", "100", "--data", "jsonl", "--data-path",
      FIXTURES / "trl.jsonl"], "--offline-train-pairs"),
    (["--quick", "--eval-fraction", "0.3"], "--eval-fraction"),
    (["--protocol", "study", "--quick", "--data", "jsonl", "--data-path", FIXTURES / "trl.jsonl",
      "--truth-eval-prompts", "8"], "--truth-eval-prompts"),
])
def test_experiment_refuses_an_option_its_runs_would_ignore(capsys, tmp_path, args, word):
    assert_user_error(call(experiment_main, [*args, "--out-dir", tmp_path / "x"], capsys), word)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("own", [
    [], ["--quick"], ["--protocol", "study"], ["--protocol", "study", "--quick"],
    ["--protocol", "study", "--paper-form", "--truth-every", "10"],
    ["--protocol", "study", "--data", "jsonl", "--data-path", str(FIXTURES / "trl.jsonl")],
])
def test_experiment_protocol_options_never_trip_a_rule(own):
    from llm.experiment import ExperimentConfig, build_parser, protocol_argv
    from upo_theory.cli import parse_config

    config = parse_config(ExperimentConfig, protocol_argv(own), build_parser(), own=own)
    assert isinstance(config, ExperimentConfig)  # a refusal would have exited 2


# ----------------------------------------------------------------------------- sim.bandit

@pytest.mark.parametrize("args,word", [
    (["--problem", "{problem}", "--actions", "5"], "--actions"),
    (["--problem", "{problem}", "--contexts", "2"], "--contexts"),
    (["--problem", "{problem}", "--mu", "ref"], "--mu"),
    (["--problem", "{problem}", "--seed", "3"], "--seed"),
    (["--scenario", "azar", "--prefs", "cyclic"], "--prefs"),
    (["--lr", "0.5"], "--lr"),
    (["--optimiser", "gd"], "--optimiser"),
])
def test_bandit_refuses_an_option_the_run_would_ignore(capsys, tmp_path, args, word):
    problem = tmp_path / "p.json"
    problem.write_text(json.dumps({"pi_ref": [0.5, 0.5], "mu": [0.5, 0.5],
                                   "prefs": [[0.5, 0.8], [0.2, 0.5]], "beta": 0.5}))
    args = [a.format(problem=problem) for a in args]
    code, out, err = call(sim.bandit.main, [*args, "--steps", "0"], capsys)
    assert_user_error((code, out, err), word)
    assert out == ""


def test_bandit_seed_of_a_problem_file_samples_its_pairs(capsys, tmp_path):
    problem = tmp_path / "p.json"
    problem.write_text(json.dumps({"pi_ref": [0.5, 0.5], "mu": [0.5, 0.5],
                                   "prefs": [[0.5, 0.8], [0.2, 0.5]], "beta": 0.5}))
    code, _, err = call(sim.bandit.main, ["--problem", problem, "--seed", "3", "--pairs", "20",
                                          "--steps", "0"], capsys)
    assert code == 0, err


# ----------------------------------------------------------------------------- llm.task

def test_task_write_to_an_empty_path(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(call(task_main, ["--write", ""], capsys), "--write")
    assert list(tmp_path.iterdir()) == []


def test_task_write_to_a_folder(capsys, tmp_path):
    assert_user_error(call(task_main, ["--write", tmp_path], capsys), "is a folder")


def test_task_write_under_a_file(capsys, a_file):
    assert_user_error(call(task_main, ["--write", a_file / "task.jsonl"], capsys),
                      "is a file, not a folder")


def test_task_write_read_only(capsys, read_only):
    assert_user_error(call(task_main, ["--write", read_only / "task.jsonl"], capsys),
                      "cannot write")


def test_task_write_works(capsys, tmp_path):
    code, out, _ = call(task_main, ["--write", tmp_path / "new" / "task.jsonl", "--n-train", "8",
                                    "--n-eval", "4"], capsys)
    assert code == 0 and "wrote" in out
    assert len((tmp_path / "new" / "task.eval.jsonl").read_text().splitlines()) == 4


# ----------------------------------------------------------------------------- llm.plot, docs

def fake_run(folder: Path, last_line: str = "") -> Path:
    """A run folder with settings and metric rows of a preference stage (no training)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(TrainConfig(n_layer=1, n_embd=32, n_head=2).to_json())
    rows = [{"step": s, "stage": "pref", "split": split, "loss": 1.0 / (s + 1),
             "rewards/accuracies": 0.5, "rewards/margins": 0.1 * s}
            for s in range(4) for split in ("train", "eval")]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows)
                                          + last_line)
    return folder


def test_plot_a_crashed_run_with_a_half_written_last_line(capsys, tmp_path):
    run = fake_run(tmp_path / "run", '{"step": 4, "stage": "pref", "spl')
    code, _, err = call(plot_main, [run, "--out", tmp_path / "curves.png"], capsys)
    assert code == 0 and (tmp_path / "curves.png").stat().st_size > 1000
    assert "dropped its half-written last line 9" in err and "Traceback" not in err


@pytest.mark.parametrize("args,word", [
    (["--fast", "--no-plots"], "--fast"),
    (["--plots", "all", "--fast"], "--plots"),
    (["--plots", "none", "--runs", "{runs}"], "--runs"),
    (["--no-plots", "--runs", "{runs}"], "--runs"),
])
def test_docs_refuses_contradictory_plot_options(capsys, tmp_path, args, word):
    from docs.__main__ import main as docs_main

    args = [a.format(runs=tmp_path) for a in args]
    assert_user_error(call(docs_main, [*args, "--out", tmp_path / "site"], capsys), word)
    assert not (tmp_path / "site").exists()


def test_docs_runs_figure_of_a_crashed_run(capsys, tmp_path):
    from docs.plots.runs import plot_curves  # what ``python -m docs --runs`` draws

    run = fake_run(tmp_path / "run", '{"step": 4, "st')
    assert plot_curves([run], tmp_path / "curves.png").stat().st_size > 1000
    assert "half-written last line" in capsys.readouterr().err


def test_plot_a_bad_line_before_the_last_names_it(capsys, tmp_path):
    run = fake_run(tmp_path / "run")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[2] = lines[2][:10]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert_user_error(call(plot_main, [run, "--out", tmp_path / "c.png"], capsys),
                      "metrics.jsonl line 3")


def test_plot_a_run_whose_data_and_init_are_gone(capsys, tmp_path):
    run = fake_run(tmp_path / "run")
    settings = json.loads((run / "config.json").read_text())
    settings.update(data="jsonl", data_path=str(tmp_path / "moved.jsonl"),
                    init=str(tmp_path / "gone"))
    (run / "config.json").write_text(json.dumps(settings))
    code, _, err = call(plot_main, [run, "--out", tmp_path / "c.png"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("where", ["under_a_file", "a_folder"])
def test_plot_out_that_cannot_be_written(capsys, tmp_path, a_file, where):
    run = fake_run(tmp_path / "run")
    out = a_file / "c.png" if where == "under_a_file" else tmp_path
    assert_user_error(call(plot_main, [run, "--out", out], capsys), "--out")


def test_plot_not_a_run(capsys, tmp_path):
    assert_user_error(call(plot_main, [tmp_path, "--out", tmp_path / "c.png"], capsys),
                      "not a run folder")


# ----------------------------------------------------------------------------- sim.bandit

@pytest.mark.parametrize(("args", "words"), [
    (["--actions", "1000000"], ("GiB", "available")),
    (["--actions", "2000", "--steps", "100000"], ("hours", "30 minutes")),  # 0.7 GiB: time
    (["--actions", "300", "--contexts", "1000"], ("--contexts 1000", "--no-size-guard")),
])
def test_bandit_size_guard_refuses_before_work(capsys, args, words):
    assert_user_error(call(sim.bandit.main, args, capsys), "needs about", *words)


def test_bandit_size_guard_reads_no_huge_problem_file(capsys, tmp_path):
    path = tmp_path / "big.json"  # 16 MB, 4·10^6 numbers: with 2000 steps, too long
    with open(path, "w") as handle:
        handle.write('{"beta": 0.1, "prefs": [')
        handle.write(",".join(["[" + ",".join(["0.5"] * 10_000) + "]"] * 400))
        handle.write("]}")
    result = call(sim.bandit.main, ["--problem", path, "--steps", "2000"], capsys)
    # refused from the file's size alone: read, it would be refused for lacking pi_ref and mu
    assert_user_error(result, "problem file", "MiB", "30 minutes", "give a smaller problem")


def test_bandit_size_guard_can_be_switched_off(capsys):
    config = sim.bandit.parse_args(["--actions", "10000", "--no-size-guard"])
    assert config.cost(1, 10000).seconds > 3600
    capsys.readouterr()


def test_bandit_plot_under_a_file_is_refused_before_work(capsys, a_file):
    result = call(sim.bandit.main, ["--steps", "0", "--plot", a_file / "p.png"], capsys)
    assert_user_error(result, "--plot")
    assert result[1] == ""  # refused before any computation


def test_bandit_plot_that_fails_to_write_comes_after_the_report(capsys, tmp_path, monkeypatch):
    def full_disk(comparison, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(sim.bandit, "plot_policies", full_disk)
    code, out, err = call(sim.bandit.main, ["--steps", "0", "--plot", tmp_path / "p.png"],
                          capsys)
    assert "problem: bradley_terry" in out and "J(pi*)" in out  # the whole report
    assert_user_error((code, out, err), "No space left on device", "report above is complete")


def test_bandit_values_already_refused_stay_refused(capsys):
    assert_user_error(call(sim.bandit.main, ["--beta", "-1"], capsys), "--beta")


# ----------------------------------------------------------------------------- every module

@pytest.mark.slow
@pytest.mark.parametrize("module", ["llm.train", "llm.plot", "llm.task", "upo_theory"])
def test_module_entry_points_exit_2_with_one_line(tmp_path, a_file, module):
    args = {"llm.train": [*TINY, "--device", "foo", "--out-dir", tmp_path],
            "llm.plot": [tmp_path, "--out", a_file / "c.png"],
            "llm.task": ["--write", tmp_path],
            "upo_theory": ["--f", "no_such_divergence"]}[module]
    done = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2 and done.stderr.startswith(f"python -m {module}: error: ")
    assert done.stderr.count("\n") == 1


# ------------------------------------------------------------- Ctrl-C while starting

ROOT = Path(__file__).resolve().parents[1]


def test_sigterm_during_a_command_is_one_line_and_exit_143(capsys):
    """SIGTERM (a scheduler's or ``kill``'s stop) is taken as Ctrl-C is, with its own name and
    the shell's status for it; the default handler is back once the command ends."""
    import signal
    import time

    def work() -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # interrupted by the handler
        return 0

    assert run_cli("prog", work, then="run it again") == 143
    assert capsys.readouterr().err == "prog: stopped by SIGTERM; run it again\n"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks")
def test_a_process_forked_inside_a_command_still_dies_of_sigterm():
    """A child forked while the command runs (a claim of a user's f run apart) inherits the
    handler; it must die of the signal as before, not raise inside the child's work."""
    import signal
    import time

    def work() -> int:
        child = os.fork()
        if child == 0:
            try:
                time.sleep(30)
            finally:
                os._exit(3)  # reached only if the signal raised in the child
        time.sleep(0.2)
        os.kill(child, signal.SIGTERM)
        status = os.waitpid(child, 0)[1]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
        return 0

    assert run_cli("prog", work) == 0


def _cpu_seconds(pid: int) -> float:
    """The CPU time a child has used (Linux's /proc; user + system clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_ctrl_c_while_a_package_imports_is_one_line(tmp_path):
    """A package that imports upo_theory first and is interrupted while importing the rest."""
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "__init__.py").write_text("import upo_theory\nraise KeyboardInterrupt\n")
    (tmp_path / "victim" / "mod.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run([sys.executable, "-m", "victim.mod"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.stderr == "python -m victim.mod: stopped by Ctrl-C\n"
    assert done.returncode in (130, -2)  # Python dies of the signal, as a shell's 130


def test_an_importing_program_keeps_its_own_traceback():
    done = subprocess.run([sys.executable, "-c", "import upo_theory\nraise KeyboardInterrupt"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "Traceback" in done.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("module", ["upo_theory", "sim.bandit", "llm.train", "llm.experiment",
                                    "docs"])
def test_ctrl_c_while_a_command_starts_is_one_line(module):
    """SIGINT once the command has spent 0.15 CPU s starting (past Python's own start, inside
    the imports of SymPy, NumPy and torch that take about a second)."""
    child = subprocess.Popen([sys.executable, "-m", module, "--help"], cwd=ROOT, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while child.poll() is None and _cpu_seconds(child.pid) < 0.15:
        pass
    child.send_signal(subprocess.signal.SIGINT)
    err = child.communicate(timeout=120)[1]
    assert "Traceback" not in err
    assert err in ("", f"python -m {module}: stopped by Ctrl-C\n"), err


@pytest.mark.parametrize("command", [["upo_theory", "--f", "js", "--json"],
                                     ["sim.bandit", "--json", "--steps", "0"],
                                     ["llm.task", "--n-train", "10", "--n-eval", "5"]])
def test_a_command_started_with_its_output_closed_is_refused(command):
    """``>&-``: what the command prints would be lost, so it refuses in one line before work."""
    done = subprocess.run(["bash", "-c", 'exec "$0" -m "$@" >&-', sys.executable, *command],
                          capture_output=False, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr == (f"python -m {command[0]}: error: standard output is closed, so what "
                           "this prints would be lost; send it to a file, a pipe or /dev/null\n")
