"""The experiment: the sweep as data, the learning-rate selection, the analysis from its CSV
files, a quick end-to-end run, and the committed results recomputed from their own data."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from llm import experiment, results
from llm.config import ConfigError, TrainConfig

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "results"


def test_the_sweep_has_every_method_at_every_beta_and_seed_at_its_rate():
    rates = {label: 1e-3 * (k + 1) for k, (label, *_) in enumerate(experiment.METHODS)}
    settings = experiment.sweep((0.1, 0.2, 0.5), (0, 1), rates)
    assert len(settings) == 18 and len({s.run_name for s in settings}) == 18
    assert {(s.loss, s.f, s.form) for s in settings} == {
        ("ipo", "rkl", "paper"), ("iupo", "js", "paper"), ("iupo", "js", "per_response")}
    assert all(s.lr == rates[s.method] and s.holdout == "eval" for s in settings)
    assert [s.seed for s in settings[:9]] == [0] * 9  # whole seeds first


def test_equal_rate_adds_each_method_at_the_baselines_rate_once():
    rates = {"IPO": 1e-4, "JS-IUPO paper form": 3e-5, "JS-IUPO per-response form": 1e-4}
    settings = experiment.sweep((0.2,), (0, 1), rates, equal_rate=True)
    names = [s.run_name for s in settings]
    assert len(names) == len(set(names)) == 2 * 4  # the paper form twice, the others once
    paper = {s.lr for s in settings if s.method == "JS-IUPO paper form"}
    assert paper == {3e-5, 1e-4}
    assert {s.lr for s in settings if s.method != "JS-IUPO paper form"} == {1e-4}


def test_the_selection_validates_every_method_at_every_rate_off_the_eval_pairs():
    grid = {label: (3e-4, 1e-3) for label, *_ in experiment.METHODS}
    settings = experiment.selection(grid, 0.2, (100,))
    assert len(settings) == 6 and {s.holdout for s in settings} == {"validation"}
    assert len({s.run_name for s in settings}) == 6 and {s.seed for s in settings} == {100}
    assert all(s.run_name.startswith("select-") for s in settings)
    config = experiment.ExperimentConfig()
    held = config.holdout(100)
    assert (held["holdout"], held["eval_pairs"], held["eval_fraction"]) == (
        "validation", config.validation_pairs, config.validation_fraction)
    assert config.holdout(0) == {}
    sft = config.sft_config(100)  # the selection seed's SFT never sees its validation prompts
    assert sft.holdout == "validation" and sft.run_name == "sft-select-s100"
    assert config.sft_config(0).holdout == "eval"


@given(st.integers(-8, 2), st.sampled_from((1, 3)))
def test_the_rate_ladder_steps_1_3_10_and_back(exponent, mantissa):
    lr = float(f"{mantissa}e{exponent}")
    up, down = experiment.next_rate(lr, up=True), experiment.next_rate(lr, up=False)
    assert down < lr < up and 2.99 < up / lr < 3.34 and 2.99 < lr / down < 3.34
    assert experiment.next_rate(up, up=False) == lr == experiment.next_rate(down, up=True)


def _selection_row(lr, accuracy, loss, pairs=1000, method="m"):
    return dict(method=method, lr=lr, eval_accuracy=accuracy, eval_loss=loss, eval_pairs=pairs)


def test_a_tie_within_one_standard_error_goes_to_the_lower_validation_loss():
    se = math.sqrt(0.7 * 0.3 / 1000)  # 0.0145
    rows = [_selection_row(3e-5, 0.70, 4.9), _selection_row(1e-4, 0.70 - 0.9 * se, 4.7),
            _selection_row(3e-4, 0.70 - 1.1 * se, 4.5)]
    assert results.chosen_rates(rows) == {"m": 1e-4}  # 3e-4 is more than one s.e. behind
    rows[1]["eval_loss"] = 5.0
    assert results.chosen_rates(rows) == {"m": 3e-5}
    # with ten times the pairs the standard error shrinks and nothing ties
    assert results.chosen_rates([{**r, "eval_pairs": 10_000} for r in rows]) == {"m": 3e-5}


@given(st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=8))
def test_holm_adjusts_like_its_definition(p_values):
    adjusted = results.holm(p_values)
    m = len(p_values)
    for i, p in enumerate(p_values):  # max over the p-values ranked at or below it
        ranked = sorted(p_values)
        expected = max(min(1.0, (m - r) * ranked[r]) for r in range(m) if ranked[r] <= p)
        assert adjusted[i] == pytest.approx(expected, abs=1e-11)
        assert p <= adjusted[i] + 1e-12 <= 1 + 1e-12


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=12), st.integers(1, 6))
def test_a_family_widens_the_interval_and_the_p_value_is_the_t_tests(values, family):
    estimate = results.Estimate.of(values, family)
    if np.std(values) > 1e-6:
        half = (scipy.stats.t.ppf(1 - 0.05 / (2 * family), len(values) - 1)
                * scipy.stats.sem(values))
        assert estimate.half_width == pytest.approx(half, rel=1e-9)
        assert estimate.p_value == pytest.approx(
            scipy.stats.ttest_1samp(values, 0.0).pvalue, rel=1e-6, abs=1e-12)


def _brute_envelope(points, k):
    """The best reward of a policy or a mixture of two whose KL is at most k."""
    best = max(r for kl, r in points if kl <= k)
    for k1, r1 in points:
        for k2, r2 in points:
            if k1 <= k < k2:
                best = max(best, r1 + (r2 - r1) * (k - k1) / (k2 - k1))
    return best


@given(st.lists(st.tuples(st.floats(0.001, 3.0), st.floats(-2.0, 2.0)), min_size=1,
                max_size=9), st.floats(0.0, 1.0))
def test_the_frontier_is_the_best_mixture_within_the_divergence(points, fraction):
    points = [(0.0, 0.0), *points]
    array = np.array(points)
    k = fraction * array[:, 0].max()
    assert float(results.envelope(array, k)) == pytest.approx(_brute_envelope(points, k),
                                                              abs=1e-9)


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(-2.0, 2.0)),
                min_size=1, max_size=9), st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_points_at_the_same_kl_count_by_their_best(points, fraction):
    """π_ref and a policy that has hardly moved share KL 0, probes can share a KL: the hull has
    one vertex per KL, the highest (two stacked vertices left R(k) to np.interp's choice)."""
    from llm.experiments.frontier import _upper_hull

    points = [(0.0, 0.0), *points]
    array = np.array(points)
    vertices = _upper_hull(array)
    assert np.all(np.diff(vertices[:, 0]) > 0)
    k = fraction * array[:, 0].max()
    assert float(results.envelope(array, k)) == pytest.approx(_brute_envelope(points, k),
                                                              abs=1e-9)


def test_matched_divergence_compares_the_frontiers_seed_by_seed():
    curves = []
    for seed in range(4):
        for method, lift in (("IPO", 0.0), ("JS", 0.1)):
            for beta, kl in ((0.1, 0.8), (0.5, 0.2)):
                curves.append({"method": method, "beta": beta, "seed": seed, "lr": 1e-4,
                               "split": "truth", "step": 10, "kl": kl,
                               "reward_policy": kl + lift + 0.3 * seed, "reward_reference": 0.0})
    rows = [{"method": c["method"], "beta": c["beta"], "seed": c["seed"], "lr": 1e-4}
            for c in curves]
    comparisons = results.frontier(curves, rows)
    assert [c["kl"] for c in comparisons] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    # +0.1 at every point and on the segments between them, on every seed
    assert [c["difference"].mean for c in comparisons] == pytest.approx([0.1] * 4)
    assert all(c["difference"].sd == pytest.approx(0.0, abs=1e-12) for c in comparisons)
    assert all(c["difference"].family == 4 for c in comparisons)


def _row(method, beta, seed, accuracy, reward=1.0):
    return {"method": method, "beta": beta, "seed": seed, "eval_accuracy": accuracy,
            "reward_policy": reward, "win_rate": 0.5, "eval_loss": 1.0}


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=12))
def test_the_interval_is_the_t_interval_of_the_mean(values):
    estimate = results.Estimate.of(values)
    if np.std(values) > 0:  # scipy's interval of a zero scale is NaN, with a warning
        low, high = scipy.stats.t.interval(0.95, len(values) - 1, loc=np.mean(values),
                                           scale=scipy.stats.sem(values))
        assert estimate.mean - estimate.half_width == pytest.approx(low, abs=1e-9)
        assert estimate.mean + estimate.half_width == pytest.approx(high, abs=1e-9)


def test_differences_are_paired_by_seed_against_the_baseline():
    rows = [_row("IPO", 0.1, s, 0.60 + 0.05 * s) for s in range(3)]
    rows += [_row("JS", 0.1, s, 0.62 + 0.05 * s) for s in range(3)]  # +0.02 on every seed
    (diff,) = results.paired_differences(rows)
    assert diff["method"] == "JS" and diff["seeds"] == 3
    assert diff["eval_accuracy"].mean == pytest.approx(0.02)
    assert diff["eval_accuracy"].sd == pytest.approx(0.0, abs=1e-12)  # pairing removes the seeds
    unpaired = results.summarise(rows)[0]["eval_accuracy"]
    assert unpaired.sd > 0.04  # while the spread between seeds is large


def test_the_summary_keeps_the_baseline_first_and_orders_by_beta():
    rows = [_row(m, b, 0, 0.6) for b in (0.5, 0.1) for m in ("JS", "IPO")]
    summary = results.summarise(rows)
    assert [(s["beta"], s["method"]) for s in summary] == [
        (0.1, "IPO"), (0.1, "JS"), (0.5, "IPO"), (0.5, "JS")]
    assert math.isnan(summary[0]["eval_accuracy"].half_width)  # one seed: no interval


@pytest.mark.parametrize("change", [{"betas": ()}, {"betas": (0.1, -1.0)}, {"seeds": ()},
                                    {"lrs": (float("inf"),)}, {"jobs": 0},
                                    {"select_seeds": (0,)}, {"select_seeds": ()},
                                    {"validation_fraction": 1.0}, {"max_extensions": -1},
                                    {"train": TrainConfig(truth_eval_prompts=0)}])
def test_bad_experiment_configs_are_refused(change):
    with pytest.raises(ConfigError):
        experiment.ExperimentConfig(**change)


def test_the_cli_shows_the_training_options_once_and_not_the_swept_ones():
    parser = experiment.build_parser()
    flags = [flag for action in parser._actions for flag in action.option_strings]
    assert flags.count("--pref-steps") == 1 and flags.count("--data-path") == 1
    assert "--beta" not in flags and "--loss" not in flags and "--lr" not in flags
    assert {"--betas", "--lrs", "--jobs", "--seeds"} <= set(flags)
    parsed = experiment.parse_config(experiment.ExperimentConfig,
                                     ["--pref-steps", "7", "--lrs", "3e-4", "--betas", "0.2"],
                                     parser)
    assert (parsed.train.pref_steps, parsed.lrs, parsed.betas) == (7, (3e-4,), (0.2,))
    assert parsed.train.offline_train_pairs == experiment.TRAIN_DEFAULTS["offline_train_pairs"]


def test_cli_user_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiment.main(["--betas", "-0.1"])
    assert exit_info.value.code == 2
    assert "betas" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_experiment_writes_the_csv_files_the_report_and_the_figures(tmp_path, capsys):
    train = TrainConfig(**{**experiment.TRAIN_DEFAULTS, "out_dir": str(tmp_path / "exp")})
    config = experiment.ExperimentConfig(train=train, betas=(0.2,), seeds=(0, 1),
                                         lrs=(1e-3,), quick=True, max_extensions=0)
    out = experiment.run_experiment(config)
    progress = re.findall(r"finished \S+ \((\d+) of (\d+)(; the other (\d+) in about .+ at "
                          r"this pace)?\)", capsys.readouterr().err)
    # each stage counts its runs: SFT (2 seeds and the selection seed), selection, sweep
    assert [(int(k), int(n)) for k, n, *_ in progress] == [
        (k, n) for n in (3, 3, 6) for k in range(1, n + 1)]
    assert all(int(rest or 0) == int(n) - int(k) for k, n, _, rest in progress)
    rows = results.read_csv(out / "runs.csv")
    assert len(rows) == 6 and {r["method"] for r in rows} == {
        m for m, *_ in experiment.METHODS}
    for row in rows:
        assert 0.0 <= row["eval_accuracy"] <= 1.0 and 0.5 <= row["best_accuracy"] <= 1.0
        assert 0.0 <= row["win_rate"] <= 1.0 and row["f_divergence"] >= -1e-9
    assert len(results.read_csv(out / "selection.csv")) == 3
    assert {r["seed"] for r in results.read_csv(out / "curves.csv")} == {0.0, 1.0}
    report = (out / "experiment.md").read_text()
    assert report.count("| 0.2 |") == 3 + 2 + 3 + 3  # results, differences, settling, plateau
    truth = [c for c in results.read_csv(out / "curves.csv") if c["split"] == "truth"]
    assert {c["step"] for c in truth} == {2.0, 4.0}  # --truth-every 2 of 4 steps
    assert all(c["kl"] == r["kl"] for r in rows for c in truth  # the last probe is the final
               if c["step"] == 4 and (c["method"], c["seed"]) == (r["method"], r["seed"]))
    assert (out / "curves-beta0.2.png").stat().st_size > 10_000  # one figure per β
    assert "](curves-beta0.2.png)" in report and not (out / "curves.png").exists()
    assert (out / "frontier.png").is_file()
    summaries = [json.loads(p.read_text()) for p in out.glob("*/summary.json")]
    setup = json.loads((out / "setup.json").read_text())
    # SFT per seed and for the selection seed, selection, sweep
    assert setup["runs"] == len(summaries) == 2 + 1 + 3 + 6
    assert setup["run_minutes"] == round(sum(s["seconds"] for s in summaries) / 60)
    assert f"took {setup['run_minutes']} minutes of run time" in report
    before = report
    (out / "experiment.md").unlink()
    results.write_report(out)  # the report is recomputed from the CSV files alone
    assert (out / "experiment.md").read_text() == before


@pytest.mark.skipif(not (COMMITTED / "runs.csv").is_file(), reason="no committed results")
def test_the_committed_report_is_recomputed_from_its_csv_files(tmp_path):
    for name in ("runs.csv", "curves.csv", "selection.csv", "setup.json"):
        shutil.copy(COMMITTED / name, tmp_path / name)
    results.write_report(tmp_path)
    assert (tmp_path / "experiment.md").read_text() == (COMMITTED / "experiment.md").read_text()


@pytest.mark.skipif(not (COMMITTED / "runs.csv").is_file(), reason="no committed results")
def test_a_renamed_column_is_refused_not_read_as_blanks(tmp_path, capsys):
    """``eval_accuracy`` renamed in runs.csv dropped the column from the report, exit 0
    (issue 28); a link planted where the report goes is replaced, never written through."""
    for name in ("runs.csv", "curves.csv", "selection.csv", "setup.json"):
        shutil.copy(COMMITTED / name, tmp_path / name)
    runs = tmp_path / "runs.csv"
    runs.write_text(runs.read_text().replace("eval_accuracy", "eval_acc", 1))
    assert results.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "lacks the column(s) eval_accuracy" in err and err.count("\n") == 1
    shutil.copy(COMMITTED / "runs.csv", runs)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    (tmp_path / "experiment.md").symlink_to(notes)
    assert results.main([str(tmp_path)]) == 0
    assert notes.read_text() == "mine" and not (tmp_path / "experiment.md").is_symlink()


def _committed_copy(folder: Path) -> Path:
    for name in ("runs.csv", "curves.csv", "selection.csv", "setup.json"):
        shutil.copy(COMMITTED / name, folder / name)
    return folder


@pytest.mark.skipif(not (COMMITTED / "runs.csv").is_file(), reason="no committed results")
@pytest.mark.parametrize(("name", "change"), [
    ("runs.csv", lambda row: row),
    ("runs.csv", lambda row: row.replace(",0.1,0,", ",0.10,0,", 1)),  # the same run, respelt
    ("selection.csv", lambda row: row),
])
def test_a_repeated_run_row_is_refused_not_counted_twice(tmp_path, capsys, name, change):
    """runs.csv with a row given twice counted that run twice in the table, exit 0."""
    path = _committed_copy(tmp_path) / name
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines) + change(lines[1]))
    assert results.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m llm.results: error: "), err
    assert f"{path} line {len(lines) + 1} repeats the run of line 2 (method=" in err
    assert "delete the repeated row" in err and not (tmp_path / "experiment.md").exists()


@pytest.mark.skipif(not (COMMITTED / "runs.csv").is_file(), reason="no committed results")
@pytest.mark.parametrize(("name", "target", "message"), [
    ("runs.csv", "/dev/zero", "runs.csv is a link to /dev/zero, a device, not a regular file"),
    ("setup.json", "/dev/zero", "setup.json is a link to /dev/zero, a device, not a regular"),
    ("curves.csv", "/nonexistent/curves.csv", "is a link to /nonexistent/curves.csv, which does "
                                              "not exist"),
    ("runs.csv", None, "runs.csv is a FIFO, not a regular file"),
    ("runs.csv", "folder", "runs.csv is a folder, not a regular file"),
])
def test_a_file_that_is_there_but_not_a_regular_file_is_named_for_what_it_is(
        tmp_path, capsys, name, target, message):
    """A link to /dev/zero was called missing ("runs.csv does not exist")."""
    path = _committed_copy(tmp_path) / name
    path.unlink()
    if target is None:
        os.mkfifo(path)
    elif target == "folder":
        path.mkdir()
    else:
        path.symlink_to(target)
    assert results.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "does not exist;" not in err.replace(
        "which does not exist;", ""), err


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(c) for c in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def _started_workers(parent) -> set[int]:
    """The process ids of the two workers ``parent`` (``llm.experiment --jobs 2``) starts,
    once both run (within two minutes)."""
    import time

    deadline, workers = time.monotonic() + 120, set()
    while time.monotonic() < deadline and len(workers) < 2 and parent.poll() is None:
        workers = {c for c in _children(parent.pid) if "spawn_main" in
                   Path(f"/proc/{c}/cmdline").read_text(errors="replace")}
        time.sleep(0.2)
    assert len(workers) >= 2, "the experiment never started its workers"
    return workers


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
                    reason="needs Linux's /proc and two CPUs")
def test_a_stopped_experiment_stops_its_workers(tmp_path):
    """SIGTERM to ``llm.experiment --jobs 2`` left its workers training on, reparented to
    PID 1 (issue 28); they now end with it (their runs resume from their checkpoints). It says
    so in one line, as for Ctrl-C, and no "leaked semaphore" warning follows: the workers'
    progress bars held process-shared locks that a stopped worker never released."""
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-m", "llm.experiment", "--quick", "--jobs", "2",
                               "--out-dir", str(tmp_path / "exp")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = _started_workers(parent)
    deadline = time.monotonic() + 120  # until a worker has drawn a progress bar
    while time.monotonic() < deadline and not list((tmp_path / "exp").glob("*/metrics.jsonl")):
        time.sleep(0.2)
    parent.send_signal(signal.SIGTERM)
    err = parent.communicate(timeout=120)[1]
    bars = re.sub(r"(sft|pref|reference log-probs): +\d+%\|[^\r\n]*?\]", "", err)  # a bar
    lines = [line for line in bars.replace("\r", "\n").splitlines()  # the line may follow
             if line.strip() and not line.startswith(("data:", "finished", "holdout"))]
    assert parent.returncode == 143 and "Traceback" not in err, err[-2000:]
    assert lines == [
        "python -m llm.experiment: stopped by SIGTERM; finished runs are kept and stopped ones "
        "keep their last checkpoint: run the same command again to go on"], err[-2000:]
    deadline = time.monotonic() + 180  # a worker still importing torch ends once it is done
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
                    reason="needs Linux's /proc and two CPUs")
def test_ctrl_c_to_an_experiment_and_its_workers_is_one_line(tmp_path):
    """Ctrl-C in a terminal reaches every process of the group: the workers ignore it (they
    printed a traceback each), the experiment says one line and stops them."""
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-m", "llm.experiment", "--quick", "--jobs", "2",
                               "--out-dir", str(tmp_path / "exp")], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = _started_workers(parent)
    time.sleep(1.0)  # the workers are importing torch or training
    os.killpg(parent.pid, signal.SIGINT)
    err = parent.communicate(timeout=120)[1]
    lines = [line for line in err.splitlines() if not line.startswith(("sft", "pref", "data:"))]
    assert parent.returncode == 130, err[-2000:]
    assert "Traceback" not in err and lines == [
        "python -m llm.experiment: stopped by Ctrl-C; finished runs are kept and stopped ones "
        "keep their last checkpoint: run the same command again to go on"], err[-2000:]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)


def test_jobs_are_bounded_by_the_machine():
    with pytest.raises(ConfigError, match="the CPUs of this machine"):
        experiment.ExperimentConfig(jobs=10_000)
