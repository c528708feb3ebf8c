"""The pre-registered study: its equivalence test, its primary endpoint, its power calculation
from the pilot's CSV files, its protocol, and a quick run of it end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from llm import experiment, results
from llm.experiments import study
from llm.experiments.frontier import envelope, integrated_gap
from llm.experiments.rates import chosen_rates
from llm.experiments.report import plateau
from llm.experiments.report_files import read_results
from llm.experiments.statistics import (
    VERDICTS,
    Estimate,
    equivalence_verdict,
    seeds_for_half_width,
    tost_p_value,
)
from llm.experiments.sweep import STUDY_SEEDS
from upo_theory.cli import parse_config

samples = st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=12).filter(
    lambda v: np.std(v) > 1e-3)


@given(samples, st.floats(0.01, 1.0))
def test_tost_is_the_larger_of_scipys_two_one_sided_t_tests(values, margin):
    estimate = Estimate.of(values)
    below = scipy.stats.ttest_1samp(values, -margin, alternative="greater").pvalue
    above = scipy.stats.ttest_1samp(values, margin, alternative="less").pvalue
    assert tost_p_value(estimate.mean, estimate.scale, estimate.n - 1, margin) == pytest.approx(
        max(below, above), rel=1e-6, abs=1e-12)


@given(samples, st.floats(0.01, 1.0))
def test_equivalence_is_the_90_percent_interval_inside_the_margin(values, margin):
    estimate = Estimate.of(values)
    half90 = scipy.stats.t.ppf(0.95, estimate.n - 1) * estimate.scale
    inside = -margin < estimate.mean - half90 and estimate.mean + half90 < margin
    verdict = equivalence_verdict(estimate, margin)
    if not math.isclose(abs(estimate.mean) + half90, margin, rel_tol=1e-9):
        assert (verdict == "equivalent within the margin") == inside
    if verdict in ("better", "worse"):  # the 95 % interval excludes 0, on the verdict's side
        assert (estimate.mean > 0) == (verdict == "better") and estimate.excludes_zero


def test_the_four_verdicts():
    assert equivalence_verdict(Estimate.of([0.01, -0.01, 0.0, 0.005]), 0.05) == (
        "equivalent within the margin")
    assert equivalence_verdict(Estimate.of([0.3, 0.31, 0.29, 0.3]), 0.05) == "better"
    assert equivalence_verdict(Estimate.of([-0.3, -0.31, -0.29, -0.3]), 0.05) == "worse"
    assert equivalence_verdict(Estimate.of([-0.3, 0.3, 0.1, -0.1]), 0.05) == "inconclusive"


@given(st.floats(0.001, 1.0), st.floats(0.002, 3.0))
def test_the_seeds_are_the_fewest_whose_interval_is_narrow_enough(sd, ratio):
    half_width = ratio * sd
    def half(n):
        return scipy.stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)

    n = seeds_for_half_width(sd, half_width)
    assert half(n) <= half_width and (n == 2 or half(n - 1) > half_width)


points = st.lists(st.tuples(st.floats(0.001, 3.0), st.floats(-2.0, 2.0)), min_size=1,
                  max_size=8)


@given(points, points, st.floats(0.05, 3.0))
def test_the_integrated_gap_is_the_mean_gap_of_the_two_frontiers(a, b, upper):
    a, b = np.array([(0.0, 0.0), *a]), np.array([(0.0, 0.1), *b])
    corners = np.concatenate([a[:, 0], b[:, 0]])  # where the frontiers bend, so the grid's
    k = np.unique(np.concatenate([np.linspace(0.0, upper, 20_001),  # trapezoids are exact
                                  corners[corners <= upper]]))
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy < 2 has trapz only
    brute = trapezoid(envelope(a, k) - envelope(b, k), k) / upper
    assert integrated_gap(a, b, upper) == pytest.approx(brute, abs=1e-6)


def _selection_row(lr, accuracy, loss, seed):
    return dict(method="m", lr=lr, eval_accuracy=accuracy, eval_loss=loss, eval_pairs=1000,
                seed=seed)


def test_the_spread_between_selection_seeds_widens_the_tie():
    # binomial s.e. at 0.75 over 3000 pairs: 0.008; the seeds spread by 0.05: s.e. 0.029
    rows = [_selection_row(1e-4, a, 5.0, s) for s, a in enumerate((0.70, 0.75, 0.80))]
    rows += [_selection_row(3e-4, a, 4.0, s) for s, a in enumerate((0.70, 0.73, 0.76))]
    assert chosen_rates(rows) == {"m": 3e-4}  # tied within the seeds' spread, lower loss
    # one seed: the binomial s.e. alone (0.014 at 0.75 over 1000 pairs) does not tie 0.73
    assert chosen_rates([r for r in rows if r["seed"] == 1]) == {"m": 1e-4}


COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "results"
PREREGISTRATION = COMMITTED / "study" / "PREREGISTRATION.md"


def test_the_preregistration_states_the_design_computed_from_the_pilot():
    text = " ".join(PREREGISTRATION.read_text().split())
    assert " ".join(results.study_design(COMMITTED).split()) in text
    design = study.pilot_design(read_results(COMMITTED))
    assert design["seeds"] == len(STUDY_SEEDS) == 10
    assert f"--truth-eval-prompts {design['prompts']}" in " ".join(experiment.STUDY)
    assert f"± {study.MARGIN:g}" in text
    assert "python -m llm.experiment --protocol study --out-dir runs/study" in text


def test_the_study_protocol_puts_its_options_first_so_the_command_line_wins():
    argv = experiment.protocol_argv(["--protocol", "study", "--seeds", "0", "1"])
    config = parse_config(experiment.ExperimentConfig, argv, experiment.build_parser())
    assert config.protocol == "study" and config.seeds == (0, 1)
    assert config.betas == (0.025, 0.05, 0.1, 0.2, 0.5) and config.select_seeds == (100, 101, 102)
    assert [m for m, *_ in config.methods] == ["IPO", study.PRIMARY]
    assert (config.train.truth_every, config.train.pref_steps) == (50, 400)
    assert experiment.protocol_argv(["--seeds", "3"]) == ["--seeds", "3"]


def test_the_plateau_looks_at_kl_and_true_reward_over_the_last_quarter():
    curves = [{"method": "IPO", "beta": 0.1, "seed": s, "lr": 1e-4, "split": "truth",
               "step": step, "kl": kl, "reward_policy": r, "reward_reference": 0.0}
              for s in (0, 1) for step, kl, r in ((50, 0.5, 0.5), (150, 0.95, 0.97),
                                                  (200, 1.0, 1.0))]
    rows = [{"method": "IPO", "beta": 0.1, "seed": s, "lr": 1e-4} for s in (0, 1)]
    (entry,) = plateau(curves, rows)
    assert (entry["from"], entry["to"]) == (150, 200)
    assert entry["kl_change"] == pytest.approx(0.05) and entry["reward_change"] == pytest.approx(
        0.03) and entry["plateau"]



def test_a_plateau_at_pi_ref_itself_is_decided_not_a_division_by_zero():
    """A policy whose mean KL and true-reward gain end at exactly 0 (it never moved): no change
    is a plateau, any change is not."""
    rows = [{"method": "IPO", "beta": 0.1, "seed": 0, "lr": 1e-4}]

    def curves(kl_then):
        return [{"method": "IPO", "beta": 0.1, "seed": 0, "lr": 1e-4, "split": "truth",
                 "step": step, "kl": kl, "reward_policy": 0.0, "reward_reference": 0.0}
                for step, kl in ((100, kl_then), (200, 0.0))]

    assert plateau(curves(0.0), rows)[0]["plateau"]
    (moved,) = plateau(curves(0.1), rows)
    assert moved["kl_change"] == -math.inf and not moved["plateau"]


@pytest.mark.slow
def test_a_quick_study_runs_end_to_end_and_reports_the_primary_verdict_first(tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["--protocol", "study", "--quick", "--seeds", "0", "1", "2", "--select-seeds", "100",
            "101", "--lrs", "1e-3", "--max-extensions", "0", "--betas", "0.1", "0.5",
            "--out-dir", str(out)]
    assert experiment.main(argv) == 0
    rows = results.read_csv(out / "runs.csv")
    assert len(rows) == 2 * 2 * 3 and {r["method"] for r in rows} == {"IPO", study.PRIMARY}
    assert len(results.read_csv(out / "selection.csv")) == 2 * 2
    report = (out / "experiment.md").read_text()
    assert report.startswith("# Pre-registered study")
    verdict = report.split("**Primary endpoint: ", 1)[1].split("**", 1)[0].rstrip(".")
    # a quick run's tiny model may never move from pi_ref (transformers 5.0's rounding): the
    # report must then say the endpoint is not computable, never a verdict
    assert verdict in (*VERDICTS, "not computable")
    assert "## Secondary endpoints" in report and "## Have KL and true reward plateaued?" in report
    assert report.index("Primary endpoint") < report.index("## Secondary endpoints") < report.index(
        "## Results")
    assert json.loads((out / "setup.json").read_text())["protocol"] == "study"
    before = report
    assert experiment.main(argv) == 0  # resumed: every run is reused, the report is the same
    assert (out / "experiment.md").read_text() == before
    (out / "experiment.md").unlink()
    results.write_report(out)
    assert (out / "experiment.md").read_text() == before


def test_an_incomplete_study_reports_what_it_lacks_and_no_endpoint():
    """The stopping rule in the report itself: files that lack a run or a truth probe of the
    design in setup.json give the list of what is missing, never an endpoint (the pilot's
    files, whose design is complete, stand in for a study's)."""
    pilot = read_results(COMMITTED)
    rows, curves, setup = pilot["rows"], pilot["curves"], pilot["setup"]
    best = [r for r in rows if math.isclose(r["lr"], chosen_rates(pilot["selection"])[r["method"]])]
    assert study.missing_runs(best, curves, setup) == []
    complete = study.study_markdown(rows, pilot["selection"], setup, curves)
    assert "**Primary endpoint: " in complete and "not computed" not in complete
    assert "drawn from 3 runs (one per β), each with at least 2 truth probes" in complete
    gone = best[0]
    fewer = [r for r in rows if r is not gone]
    text = study.study_markdown(fewer, pilot["selection"], setup, curves)
    name = f"{gone['method']} at β = {gone['beta']:g}, seed {int(gone['seed'])}"
    assert "**Primary endpoint: not computed.**" in text and f"- {name}\n" in text
    assert "Secondary" not in text and "Mean gap" not in text and "| β |" not in text
    probe = next(c for c in curves if c["split"] == "truth" and all(
        c[k] == best[1][k] for k in ("method", "beta", "seed", "lr")))
    missing = study.missing_runs(best, [c for c in curves if c is not probe], setup)
    assert missing == [f"{best[1]['method']} at β = {best[1]['beta']:g}, seed "
                       f"{int(best[1]['seed'])}: the truth probes of steps {int(probe['step'])}"]
