"""The experiment: the sweep as data, the analysis, and a quick end-to-end run."""

import csv
import math

import pytest

from llm import experiment
from llm.config import ConfigError, TrainConfig


def test_the_sweep_has_every_method_at_every_beta_and_seed():
    settings = experiment.sweep((0.1, 0.2, 0.5), (0, 1))
    assert len(settings) == 18 and len(set(settings)) == 18
    assert {(s.loss, s.f, s.form) for s in settings} == {
        ("ipo", "rkl", "paper"), ("iupo", "js", "paper"), ("iupo", "js", "per_response")}
    assert {s.beta for s in settings} == {0.1, 0.2, 0.5}
    assert [s.seed for s in settings[:9]] == [0] * 9  # whole seeds first
    assert len({s.run_name for s in settings}) == 18


def _row(method, beta, accuracy, reward=1.0, se=0.1):
    return {"method": method, "beta": beta, "eval_accuracy": accuracy, "eval_margin": 0.5,
            "eval_pairs": 100,
            "best_accuracy": 0.8, "reward_policy": reward, "reward_reference": 0.0,
            "win_rate": 0.6, "correct_policy": 0.5, "kl": 1.0, "f_divergence": 0.2,
            "reward_policy_se": se, "win_rate_se": se, "kl_se": se, "f_divergence_se": se}


def test_summarise_gives_mean_and_sample_sd_over_seeds():
    rows = [_row("IPO", 0.1, 0.6, reward=1.0), _row("IPO", 0.1, 0.7, reward=2.0),
            _row("JS-IUPO paper form", 0.1, 0.65)]
    summary = experiment.summarise(rows)
    assert [(s["method"], s["seeds"]) for s in summary] == [("IPO", 2), ("JS-IUPO paper form", 1)]
    ipo, iupo = summary
    assert ipo["accuracy"] == pytest.approx(0.65)
    assert ipo["accuracy_sd"] == pytest.approx(math.sqrt(0.005))  # ((0.05² + 0.05²) / 1) ** 0.5
    assert ipo["reward_policy"] == pytest.approx(1.5)
    assert ipo["reward_policy_se"] == pytest.approx(math.sqrt(0.02) / 2)
    assert math.isnan(iupo["accuracy_sd"])
    assert iupo["accuracy_se"] == pytest.approx(math.sqrt(0.65 * 0.35 / 100))
    table = experiment.markdown_table(summary)
    assert table.count("\n") == 4 and "0.650 ± 0.071" in table and "0.650 [± 0.048]" in table


def test_summary_is_ordered_by_beta_then_method():
    rows = [_row(m, b, 0.6) for b in (0.5, 0.1) for m, *_ in reversed(experiment.METHODS)]
    summary = experiment.summarise(rows)
    order = [m for m, *_ in experiment.METHODS]
    assert [(s["beta"], s["method"]) for s in summary] == [
        (b, m) for b in (0.1, 0.5) for m in order]


@pytest.mark.parametrize("change", [{"betas": ()}, {"betas": (0.1, -1.0)}, {"seeds": ()},
                                    {"train": TrainConfig(truth_eval_prompts=0)}])
def test_bad_experiment_configs_are_refused(change):
    with pytest.raises(ConfigError):
        experiment.ExperimentConfig(**change)


def test_the_cli_shows_the_training_options_once_and_not_the_swept_ones():
    parser = experiment.build_parser()
    flags = [flag for action in parser._actions for flag in action.option_strings]
    assert flags.count("--pref-steps") == 1 and flags.count("--data-path") == 1
    assert "--beta" not in flags and "--loss" not in flags and "--betas" in flags
    parsed = experiment.parse_config(experiment.ExperimentConfig,
                                     ["--pref-steps", "7", "--lr", "3e-4", "--betas", "0.2"],
                                     parser)
    assert (parsed.train.pref_steps, parsed.train.lr, parsed.betas) == (7, 3e-4, (0.2,))
    assert parsed.train.offline_train_pairs == experiment.TRAIN_DEFAULTS["offline_train_pairs"]


def test_cli_user_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiment.main(["--betas", "-0.1"])
    assert exit_info.value.code == 2
    assert "betas" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_experiment_writes_table_curves_and_csv(tmp_path):
    train = TrainConfig(**{**experiment.TRAIN_DEFAULTS, "out_dir": str(tmp_path / "exp")})
    config = experiment.ExperimentConfig(train=train, betas=(0.2,), seeds=(0,), quick=True)
    out = experiment.run_experiment(config)
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert {r["method"] for r in rows} == {m for m, *_ in experiment.METHODS}
    for row in rows:
        assert 0.0 <= float(row["eval_accuracy"]) <= 1.0
        assert 0.5 <= float(row["best_accuracy"]) <= 1.0
        assert 0.0 <= float(row["win_rate"]) <= 1.0
        assert float(row["f_divergence"]) >= -1e-9  # JS(π, π_ref) estimate from π_ref samples
        assert (out / row["run"] / "truth.json").is_file()
    table = (out / "results.md").read_text()
    assert table.count("| 0.2 |") == 3
    assert (out / "curves.png").stat().st_size > 10_000
