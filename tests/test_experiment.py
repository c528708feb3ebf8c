"""The experiment: the sweep as data, the learning-rate selection, the analysis from its CSV
files, a quick end-to-end run, and the committed results recomputed from their own data."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from llm import experiment, results
from llm.config import ConfigError, TrainConfig

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "results"


def test_the_sweep_has_every_method_at_every_beta_and_seed_at_its_rate():
    rates = {label: 1e-3 * (k + 1) for k, (label, *_) in enumerate(experiment.METHODS)}
    settings = experiment.sweep((0.1, 0.2, 0.5), (0, 1), rates)
    assert len(settings) == 18 and len({s.run_name for s in settings}) == 18
    assert {(s.loss, s.f, s.form) for s in settings} == {
        ("ipo", "rkl", "paper"), ("iupo", "js", "paper"), ("iupo", "js", "per_response")}
    assert all(s.lr == rates[s.method] and s.holdout == "eval" for s in settings)
    assert [s.seed for s in settings[:9]] == [0] * 9  # whole seeds first


def test_the_selection_validates_every_method_at_every_rate_off_the_eval_pairs():
    settings = experiment.selection((3e-4, 1e-3), 0.2)
    assert len(settings) == 6 and {s.holdout for s in settings} == {"validation"}
    assert len({s.run_name for s in settings}) == 6
    assert all(s.run_name.startswith("select-") for s in settings)


def _row(method, beta, seed, accuracy, reward=1.0):
    return {"method": method, "beta": beta, "seed": seed, "eval_accuracy": accuracy,
            "reward_policy": reward, "win_rate": 0.5, "eval_loss": 1.0}


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=12))
def test_the_interval_is_the_t_interval_of_the_mean(values):
    estimate = results.Estimate.of(values)
    low, high = scipy.stats.t.interval(0.95, len(values) - 1, loc=np.mean(values),
                                       scale=scipy.stats.sem(values))
    if np.std(values) > 0:
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
def test_quick_experiment_writes_the_csv_files_the_report_and_the_figures(tmp_path):
    train = TrainConfig(**{**experiment.TRAIN_DEFAULTS, "out_dir": str(tmp_path / "exp")})
    config = experiment.ExperimentConfig(train=train, betas=(0.2,), seeds=(0, 1),
                                         lrs=(1e-3,), quick=True)
    out = experiment.run_experiment(config)
    rows = results.read_csv(out / "runs.csv")
    assert len(rows) == 6 and {r["method"] for r in rows} == {
        m for m, *_ in experiment.METHODS}
    for row in rows:
        assert 0.0 <= row["eval_accuracy"] <= 1.0 and 0.5 <= row["best_accuracy"] <= 1.0
        assert 0.0 <= row["win_rate"] <= 1.0 and row["f_divergence"] >= -1e-9
    assert len(results.read_csv(out / "selection.csv")) == 3
    assert {r["seed"] for r in results.read_csv(out / "curves.csv")} == {0.0, 1.0}
    report = (out / "experiment.md").read_text()
    assert report.count("| 0.2 |") == 3 + 2  # three rows of results, two of differences
    assert (out / "curves.png").stat().st_size > 10_000
    assert (out / "frontier.png").is_file()
    summaries = [json.loads(p.read_text()) for p in out.glob("*/summary.json")]
    setup = json.loads((out / "setup.json").read_text())
    assert setup["runs"] == len(summaries) == 2 + 3 + 6  # SFT per seed, selection, sweep
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
