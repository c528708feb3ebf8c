"""The verification report: each verdict checked against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from upo_theory import get_divergence, loss_spec, pair_statistic, registered
from upo_theory.claims import (
    ClaimResult,
    forms_equal,
    paper_form_antisymmetric,
    target_reachable,
    verify_all,
)
from upo_theory.derivation import derive


@pytest.fixture(scope="module")
def report() -> list[ClaimResult]:
    return verify_all()


def _by(report: list[ClaimResult], claim_prefix: str) -> dict[str | None, ClaimResult]:
    return {r.divergence: r for r in report if r.claim.startswith(claim_prefix)}


def test_every_claim_is_decided_for_the_registry(report: list[ClaimResult]) -> None:
    assert {r.status for r in report} <= {"PROVEN", "REFUTED", "NOT APPLICABLE"}
    per_div = [r for r in report if r.claim.startswith("stationarity")]
    assert {r.divergence for r in per_div} == {d.label for d in registered()}


def test_paper_claims_are_proven(report: list[ClaimResult]) -> None:
    for prefix in ("logit(sigma(z))", "JS derivative", "eq. 26 is eq. 24"):
        assert _by(report, prefix)[next(iter(_by(report, prefix)))].status == "PROVEN"
    assert _by(report, "f-DPO (eq. 5) is DPO")["rkl"].status == "PROVEN"
    assert _by(report, "IUPO statistic (eq. 23)")["rkl"].status == "PROVEN"


def test_theorem_claims_follow_admissibility(report: list[ClaimResult]) -> None:
    closed = _by(report, "pi* = pi_ref")
    likelihood = _by(report, "logit-UPO optimum")
    for div in registered():
        d = derive(div)
        expected = "PROVEN" if d.admissible else "NOT APPLICABLE"
        assert closed[div.label].status == expected
        assert likelihood[div.label].status == expected
    assert "0 is in dom f'" in closed["pearson"].detail
    assert "not differentiable at u = 1" in closed["tv"].detail


def test_forms_agree_only_for_reverse_kl(report: list[ClaimResult]) -> None:
    forms = _by(report, "paper form (eq. 23) = per-response")
    for label, r in forms.items():
        if label == "tv":
            assert r.status == "NOT APPLICABLE"
        else:
            assert r.status == ("PROVEN" if label == "rkl" else "REFUTED"), label


def _logps(example: dict[str, str]) -> list[np.ndarray]:
    keys = ("pi_w", "pi_l", "piref_w", "piref_l")
    return [np.array([math.log(float(sp.Rational(example[k])))]) for k in keys]


def test_form_counterexamples_witness_the_difference(report: list[ClaimResult]) -> None:
    """Plug each counterexample into the numeric loss family: the two forms really differ."""
    for label, r in _by(report, "paper form (eq. 23) = per-response").items():
        if r.status != "REFUTED":
            continue
        pw, pl, qw, ql = _logps(r.counterexample)
        div = next(d for d in registered() if d.label == label)
        paper = pair_statistic(loss_spec("iupo", div, "paper"), pw, pl, qw, ql)[0]
        per = pair_statistic(loss_spec("iupo", div, "per_response"), pw, pl, qw, ql)[0]
        assert paper == pytest.approx(float(r.counterexample["left side"]), rel=1e-8)
        assert per == pytest.approx(float(r.counterexample["right side"]), rel=1e-8)
        assert abs(paper - per) > 1e-6


def test_antisymmetry_counterexamples_witness(report: list[ClaimResult]) -> None:
    for label, r in _by(report, "paper-form statistic antisymmetric").items():
        if r.status != "REFUTED":
            continue
        pw, pl, qw, ql = _logps(r.counterexample)
        spec = loss_spec("iupo", next(d for d in registered() if d.label == label), "paper")
        swapped = pair_statistic(spec, pl, pw, ql, qw)[0]
        assert swapped != pytest.approx(-pair_statistic(spec, pw, pl, qw, ql)[0], abs=1e-6)
    assert _by(report, "paper-form statistic antisymmetric")["rkl"].status == "PROVEN"


def test_target_out_of_reach_counterexample_is_true() -> None:
    """With equal reference probabilities the JS paper statistic never reaches 1/(2 beta)."""
    r = target_reachable(derive(get_divergence("js")))
    assert r.status == "REFUTED"
    target = float(sp.Rational(r.counterexample["target 1/(2 beta)"]))
    spec = loss_spec("iupo", "js", "paper")
    gaps = np.linspace(-50, 50, 201)  # log pi_w - log pi_l
    stats = pair_statistic(spec, gaps, np.zeros_like(gaps), np.zeros(1), np.zeros(1))
    assert stats.max() <= math.log(2) < target


@settings(max_examples=4)
@given(
    num=st.integers(min_value=1, max_value=9),
    den=st.integers(min_value=1, max_value=9),
    linear=st.integers(min_value=-3, max_value=3),
)
def test_forms_equal_for_every_affine_kernel(num: int, den: int, linear: int) -> None:
    """The general statement: f'(e^s) affine in s (f = c u log u + d (u - 1)) => forms equal."""
    f = f"{num}/{den}*u*log(u) + ({linear})*(u - 1)"
    assert forms_equal(derive(get_divergence(f))).status == "PROVEN"


@settings(max_examples=4)
@given(num=st.integers(min_value=1, max_value=9), den=st.integers(min_value=1, max_value=9))
def test_forms_differ_for_a_non_affine_kernel(num: int, den: int) -> None:
    """Adding any multiple of Pearson's generator breaks affinity, and the claim is refuted."""
    f = f"u*log(u) + {num}/{den}*(u - 1)**2"
    d = derive(get_divergence(f))
    assert forms_equal(d).status == "REFUTED"
    assert paper_form_antisymmetric(d).status == "REFUTED"
