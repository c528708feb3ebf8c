"""The pre-registered study: its equivalence test, its primary endpoint, its power calculation
from the pilot's CSV files, its protocol, and a quick run of it end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from llm.experiments.frontier import envelope, integrated_gap
from llm.experiments.rates import chosen_rates
from llm.experiments.statistics import (
    Estimate,
    equivalence_verdict,
    seeds_for_half_width,
    tost_p_value,
)

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


@given(st.floats(0.001, 1.0), st.floats(0.001, 1.0))
def test_the_seeds_are_the_fewest_whose_interval_is_narrow_enough(sd, half_width):
    def half(n):
        return scipy.stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)

    n = seeds_for_half_width(sd, half_width)
    assert half(n) <= half_width and (n == 2 or half(n - 1) > half_width)


points = st.lists(st.tuples(st.floats(0.001, 3.0), st.floats(-2.0, 2.0)), min_size=1,
                  max_size=8)


@given(points, points, st.floats(0.05, 3.0))
def test_the_integrated_gap_is_the_mean_gap_of_the_two_frontiers(a, b, upper):
    a, b = np.array([(0.0, 0.0), *a]), np.array([(0.0, 0.1), *b])
    k = np.linspace(0.0, upper, 20_001)  # brute force: a fine grid
    brute = np.trapezoid(envelope(a, k) - envelope(b, k), k) / upper
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
