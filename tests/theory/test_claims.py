"""The verification report: groups and scopes, and each verdict checked against an independent
computation (the engine's KKT solve and minimiser on a problem built here from the rationals,
NumPy, the numeric loss family)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from upo_theory import (
    ClaimResult,
    Problem,
    get_divergence,
    loss_spec,
    minimise,
    pair_statistic,
    population_loss,
    registered,
    solve_kkt,
)
from upo_theory.claim_terms import (
    BT_EXAMPLE,
    CENTRAL_PAPER,
    CENTRAL_PER_RESPONSE,
    CYCLIC_EXAMPLE,
    EXAMPLE,
)
from upo_theory.claims import verify_all
from upo_theory.derivation import derive
from upo_theory.exact_problem import ExactProblem
from upo_theory.extended_claims import (
    ANTISYMMETRIC_F,
    PEARSON_EXAMPLE,
    REACH_BETAS,
    forms_equal,
    paper_form_antisymmetric,
    target_reachable,
)
from upo_theory.repair_claims import LARGE_K, _random_problem, per_response_gap
from upo_theory.report import by_group, headline
from upo_theory.verdicts import CLAIM_GROUPS

ADMISSIBLE = ("rkl", "fkl", "js", "alpha", "hellinger", "neyman")
LABELS = {d.name: d.label for d in registered()}


@pytest.fixture(scope="module")
def report() -> list[ClaimResult]:
    return verify_all()


def _by(report: list[ClaimResult], claim: str) -> dict[str | None, ClaimResult]:
    return {r.divergence: r for r in report if r.claim == claim}


def _named(report: list[ClaimResult], prefix: str) -> dict[str | None, ClaimResult]:
    return {r.divergence: r for r in report if r.claim.startswith(prefix)}


# --- groups and scopes ------------------------------------------------------------------------

def test_every_result_has_a_group_a_scope_and_a_verdict(report: list[ClaimResult]) -> None:
    assert {r.status for r in report} <= {"PROVEN", "REFUTED", "NOT APPLICABLE"}
    assert {r.group for r in report} == set(CLAIM_GROUPS) == {"paper", "repair", "extended"}
    assert all(r.scope.startswith("for ") for r in report)
    groups = [r.group for r in report]
    assert groups == sorted(groups, key=list(CLAIM_GROUPS).index)  # the paper's claims first
    for group, central in (("paper", CENTRAL_PAPER), ("repair", CENTRAL_PER_RESPONSE)):
        claims = [r.claim for r in report if r.group == group]
        assert claims[: claims.count(central)] == [central] * claims.count(central) != []


def test_the_repair_is_not_filed_as_the_papers(report: list[ClaimResult]) -> None:
    """The per-response form and its central claim are the project's repair: no row of the
    paper's group is about the per-response statistic, and every repair row says so."""
    repair = [r for r in report if r.group == "repair"]
    assert {r.claim for r in report if r.claim == CENTRAL_PER_RESPONSE and r.group != "repair"} == (
        set())
    assert all("repair" in r.reference for r in repair)
    assert not any("per-response" in r.claim for r in report if r.group == "paper")


def test_the_counts_are_distinct_statements_with_their_instances(
    report: list[ClaimResult],
) -> None:
    """The headline counts each statement once, its per-f instances beside it."""
    for group, members in by_group(report).items():
        distinct = len({r.claim for r in members})
        assert headline(members).startswith(f"{distinct} statements ({len(members)} instances: ")
        assert distinct < len(members), group  # some statement is checked once per f
    stationarity = [r for r in report if r.claim.startswith("stationarity")]
    assert len(stationarity) == len(registered())


def test_no_paper_claim_is_refuted_outside_its_scope(report: list[ClaimResult]) -> None:
    """The only refuted paper claim is the central claim for the paper form, within its scope
    (admissible f); claims the paper makes for reverse KL are listed for reverse KL only."""
    refuted = {(r.claim, r.divergence) for r in report
               if r.group == "paper" and r.status == "REFUTED"}
    assert refuted == {(CENTRAL_PAPER, LABELS[n]) for n in ADMISSIBLE if n != "rkl"}
    for claim in ("f-DPO (eq. 5) is DPO (eq. 4)", "IUPO statistic (eq. 23) is IPO's h (eq. 9)"):
        rows = [r for r in report if r.claim == claim]
        assert [(r.divergence, r.status, r.scope) for r in rows] == [
            ("rkl", "PROVEN", "for reverse KL")]


def test_outside_reverse_kl_the_differences_are_extended_checks_with_witnesses(
    report: list[ClaimResult],
) -> None:
    """"For f other than reverse KL the statistic differs from h": a witness, plugged into the
    numeric loss family, really separates the statistic from h."""
    differs = _by(report, "IUPO statistic (eq. 23) differs from IPO's h (eq. 9)")
    assert set(differs) == {label for n, label in LABELS.items() if n != "rkl"}
    for label, r in differs.items():
        assert r.group == "extended" and r.scope == "for f other than reverse KL"
        if label == "tv":
            assert r.status == "NOT APPLICABLE"
            continue
        assert r.status == "PROVEN" and r.counterexample is None
        pw, pl, qw, ql = _logps(r.witness)
        statistic = pair_statistic(loss_spec("iupo", _div(label), "paper"), pw, pl, qw, ql)[0]
        assert statistic == pytest.approx(float(r.witness["left side"]), rel=1e-9)
        assert abs(statistic - ((pw - pl) - (qw - ql))[0]) > 1e-3
    assert {r.status for r in _by(report, "f-DPO (eq. 5) differs from DPO (eq. 4)").values()} == {
        "PROVEN", "NOT APPLICABLE"}


def test_no_point_of_the_report_has_probabilities_summing_above_one(
    report: list[ClaimResult],
) -> None:
    for r in report:
        for values in (r.counterexample, r.witness):
            if values and "pi_w" in values:
                p = {k: float(sp.sympify(values[k])) for k in ("pi_w", "pi_l", "piref_w",
                                                              "piref_l")}
                assert p["pi_w"] + p["pi_l"] <= 1 and p["piref_w"] + p["piref_l"] <= 1, r


# --- the central claim ------------------------------------------------------------------------

def _sim_problem(problem: ExactProblem) -> Problem:
    """The float64 problem, built here from the rationals (not by ``problem.problem``)."""
    return Problem(np.array([[float(p) for p in problem.pi_ref]]),
                   np.array([[float(m) for m in problem.mu]]),
                   np.array([[[float(p) for p in row] for row in problem.prefs]]),
                   float(problem.beta))


def test_per_response_minimiser_is_the_optimum_for_every_admissible_f(
    report: list[ClaimResult],
) -> None:
    """Checked by the simulator: its L-BFGS minimiser of the per-response loss is its π*."""
    central = _by(report, CENTRAL_PER_RESPONSE)
    assert central[None].status == "PROVEN" and "Laplacian" in central[None].detail
    assert "written argument for every K" in central[None].detail
    assert {r.group for r in central.values()} == {"repair"}
    problem = _sim_problem(EXAMPLE)
    for name in ADMISSIBLE:
        assert central[LABELS[name]].status == "PROVEN"
        star = solve_kkt(problem.psibar("identity"), np.log(problem.pi_ref), problem.beta,
                         get_divergence(name)).policy
        found = minimise(population_loss(loss_spec("iupo", name, "per_response"), problem),
                         gtol=1e-12).policy
        assert 0.5 * np.abs(found - star).sum() < 1e-7, name
    assert central["pearson"].status == central["tv"].status == "NOT APPLICABLE"


@settings(max_examples=20)
@given(k=st.integers(3, 6), seed=st.integers(0, 2**32 - 1), beta=st.floats(0.05, 5.0),
       c=st.floats(-3.0, 3.0))
def test_the_quadratic_loss_is_stationary_at_psibar_over_beta_plus_c(
    k: int, seed: int, beta: float, c: float,
) -> None:
    """The proof's step 2 for any K, numerically: ∂L/∂v = 0 at v = Ψ̄/β + c."""
    rng = np.random.default_rng(seed)
    mu = rng.dirichlet(np.ones(k))
    upper = rng.uniform(0.05, 0.95, (k, k))
    p = np.where(np.triu(np.ones((k, k), dtype=bool), 1), upper, 1 - upper.T)
    np.fill_diagonal(p, 0.5)
    v = p @ mu / beta + c
    residual = (v[:, None] - v[None, :]) - (2 * p - 1) / (2 * beta)
    gradient = 4 * mu * (residual * mu[None, :]).sum(axis=1)
    assert np.abs(gradient).max() < 1e-12 * (1 + np.abs(v).max())


@settings(max_examples=10)
@given(k=st.integers(2, 7), seed=st.integers(0, 2**32 - 1), beta=st.floats(0.05, 5.0))
def test_the_engine_loss_is_the_quadratic_whose_hessian_the_docs_state(
    k: int, seed: int, beta: float,
) -> None:
    """The normalisation of the proof is the engine's: its population loss of the per-response
    form is sum_{i,j} 2 mu_i mu_j p*_ij (v_i - v_j - 1/(2 beta))^2 in v = f'(pi/pi_ref), whose
    Hessian in v is 4 sum_{i<j} mu_i mu_j (e_i - e_j)(e_i - e_j)^T (here by finite differences of
    that quadratic, which is exact for a quadratic up to rounding)."""
    rng = np.random.default_rng(seed)
    problem = _random_problem(rng, k, beta)
    theta = rng.normal(size=(1, k))
    pi = np.exp(theta[0]) / np.exp(theta[0]).sum()
    mu, p = problem.mu[0], problem.prefs[0]

    def quadratic(v: np.ndarray) -> float:
        gaps = v[:, None] - v[None, :] - 1 / (2 * beta)
        return float((2 * mu[:, None] * mu[None, :] * p * gaps**2).sum())

    v = np.log(pi / problem.pi_ref[0]) + 1  # reverse KL: f'(u) = log u + 1
    engine = population_loss(loss_spec("iupo", "rkl", "per_response"), problem)(theta)[0]
    assert engine == pytest.approx(quadratic(v), rel=1e-10)
    e, h = np.eye(k), 1e-3
    hessian = np.array([[(quadratic(v + h * (e[i] + e[j])) - quadratic(v + h * e[i])
                          - quadratic(v + h * e[j]) + quadratic(v)) / h**2
                         for j in range(k)] for i in range(k)])
    stated = sum(4 * mu[i] * mu[j] * np.outer(e[i] - e[j], e[i] - e[j])
                 for i in range(k) for j in range(i + 1, k))
    np.testing.assert_allclose(hessian, stated, atol=1e-6 * (1 + np.abs(stated).max()))


def test_no_spurious_stationary_points_in_the_logits(report: list[ClaimResult]) -> None:
    """The repair's step 4: the report's certificate, and the engine's minimiser started from
    random logits far from pi_ref lands on pi* for every admissible f."""
    r = _by(report, "no spurious stationary points in the logits")[None]
    assert (r.group, r.status) == ("repair", "PROVEN")
    assert "(I - pi 1^T) D grad_v L" in r.detail and "P^2 = P" in r.detail
    assert float(next(iter(r.witness.values()))) < 1e-9
    rng = np.random.default_rng(11)
    for name in ADMISSIBLE:
        problem = _random_problem(rng, 6, 0.3)
        star = solve_kkt(problem.psibar("identity"), np.log(problem.pi_ref), problem.beta,
                         get_divergence(name)).policy
        found = minimise(population_loss(loss_spec("iupo", name, "per_response"), problem),
                         gtol=1e-10, theta0=3 * rng.normal(size=(1, 6)))
        assert found.converged and 0.5 * np.abs(found.policy - star).sum() < 1e-8, name


def test_the_per_response_minimiser_is_pi_star_up_to_fifty_actions(
    report: list[ClaimResult],
) -> None:
    r = _by(report, "per-response minimiser is pi* on random problems up to K = 50")[None]
    assert (r.group, r.status) == ("repair", "PROVEN") and "not a proof" in r.detail
    assert len(r.witness) == len(LARGE_K) and max(
        float(v.split()[-1]) for v in r.witness.values()) < 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3, 8, 25, 50])
def test_the_general_k_argument_on_many_random_problems(k: int) -> None:
    """The general-K argument, on three seeds per admissible f and K."""
    for seed in range(3):
        rng = np.random.default_rng(1000 * k + seed)
        for name in ADMISSIBLE:
            tv, converged = per_response_gap(k, name, rng, beta=float(rng.uniform(0.1, 2)))
            assert converged and tv < 1e-8, (k, name, seed, tv)


def test_paper_form_counterexamples_are_confirmed_by_the_simulator(
    report: list[ClaimResult],
) -> None:
    """The simulator's minimiser of the paper-form loss is the reported one, far from its π*."""
    problem = _sim_problem(EXAMPLE)
    central = _by(report, CENTRAL_PAPER)
    assert central["rkl"].status == "PROVEN"
    for name in ADMISSIBLE[1:]:
        r = central[LABELS[name]]
        assert r.status == "REFUTED"
        example = r.counterexample
        star = solve_kkt(problem.psibar("identity"), np.log(problem.pi_ref), problem.beta,
                         get_divergence(name)).policy[0]
        found = minimise(population_loss(loss_spec("iupo", name, "paper"), problem),
                         gtol=1e-11).policy[0]
        np.testing.assert_allclose(_floats(example["pi* (eq. 22, Theorem 3.1)"]), star, atol=1e-9)
        np.testing.assert_allclose(_floats(example["minimiser of eq. 24"]), found, atol=1e-6)
        tv = 0.5 * np.abs(found - star).sum()
        assert tv == pytest.approx(float(example["total variation"]), abs=1e-3) and tv > 0.03
        assert float(example["|gradient of eq. 24 at pi*|"]) > 1e-2
    assert float(central["js"].counterexample["total variation"]) == pytest.approx(0.156, abs=1e-3)


# --- Theorem 3.1 and Proposition 3.2 ----------------------------------------------------------

def test_theorem_3_1_certificate_follows_admissibility(report: list[ClaimResult]) -> None:
    theorem = _named(report, "Theorem 3.1")
    problem = _sim_problem(EXAMPLE)
    for name in ADMISSIBLE:
        r = theorem[LABELS[name]]
        assert r.status == "PROVEN", r.detail
        assert "strictly concave" in r.detail and "eta = 0" in r.detail
        kkt = solve_kkt(problem.psibar("identity"), np.log(problem.pi_ref), problem.beta,
                        get_divergence(name))
        assert float(r.witness["lambda"]) == pytest.approx(float(kkt.lam[0]), abs=1e-10)
        assert abs(float(r.witness["sum pi* - 1"])) < 1e-12
    assert "f'(0+) = -2 is finite" in theorem["pearson"].detail
    assert "not differentiable at u = 1" in theorem["tv"].detail
    assert theorem["pearson"].status == theorem["tv"].status == "NOT APPLICABLE"


def test_proposition_3_2_under_bradley_terry(report: list[ClaimResult]) -> None:
    assert _by(report, "Bradley-Terry: Psibar(y) - Psibar(y') = r(y) - r(y')")[None].status == (
        "PROVEN")
    likelihood = _by(report, "logit-UPO optimum gives the f-DPO likelihood")
    problem = _sim_problem(BT_EXAMPLE)
    for name in ADMISSIBLE:
        r = likelihood[LABELS[name]]
        assert r.status == "PROVEN" and float(r.witness["largest |likelihood - p*|"]) < 1e-12
        star = solve_kkt(problem.psibar("logit"), np.log(problem.pi_ref), problem.beta,
                         get_divergence(name)).policy[0]
        from upo_theory import kernel_for

        k = kernel_for(get_divergence(name))(np.log(star / problem.pi_ref[0]))
        model = 1 / (1 + np.exp(-problem.beta * (k[:, None] - k[None, :])))
        np.testing.assert_allclose(model, problem.prefs[0], atol=1e-12)


def test_proposition_3_2_fails_without_bradley_terry(report: list[ClaimResult]) -> None:
    """Rock-paper-scissors: the simulator's logit-UPO optimum is π_ref, and its likelihood 1/2
    is not p*(y_1 > y_2) = 4/5."""
    r = _by(report, "f-DPO likelihood at the optimum without Bradley-Terry")[None]
    assert (r.group, r.status) == ("extended", "REFUTED")
    problem = _sim_problem(CYCLIC_EXAMPLE)
    for name in ADMISSIBLE:
        star = solve_kkt(problem.psibar("logit"), np.log(problem.pi_ref), problem.beta,
                         get_divergence(name)).policy[0]
        np.testing.assert_allclose(star, problem.pi_ref[0], atol=1e-14)
    assert problem.prefs[0, 0, 1] == float(sp.Rational(r.counterexample["p*(y_1 > y_2)"])) == 0.8


# --- the other checks -------------------------------------------------------------------------

def test_forms_agree_only_for_reverse_kl(report: list[ClaimResult]) -> None:
    forms = _by(report, "paper form (eq. 23) = per-response form")
    for label, r in forms.items():
        assert r.group == "extended"
        if label == "tv":
            assert r.status == "NOT APPLICABLE"
        else:
            assert r.status == ("PROVEN" if label == "rkl" else "REFUTED"), label


def _logps(example: dict[str, str]) -> list[np.ndarray]:
    keys = ("pi_w", "pi_l", "piref_w", "piref_l")
    return [np.array([math.log(float(sp.sympify(example[k])))]) for k in keys]


def _floats(text: str) -> np.ndarray:
    return np.array([float(x) for x in text.split(",")])


def _div(label: str):
    return next(d for d in registered() if d.label == label)


def test_form_counterexamples_witness_the_difference(report: list[ClaimResult]) -> None:
    """Plug each counterexample into the numeric loss family: the two forms really differ."""
    for label, r in _by(report, "paper form (eq. 23) = per-response form").items():
        if r.status != "REFUTED":
            continue
        pw, pl, qw, ql = _logps(r.counterexample)
        paper = pair_statistic(loss_spec("iupo", _div(label), "paper"), pw, pl, qw, ql)[0]
        per = pair_statistic(loss_spec("iupo", _div(label), "per_response"), pw, pl, qw, ql)[0]
        assert paper == pytest.approx(float(r.counterexample["left side"]), rel=1e-8)
        assert per == pytest.approx(float(r.counterexample["right side"]), rel=1e-8)
        assert abs(paper - per) > 1e-6


def test_antisymmetry_counterexamples_witness(report: list[ClaimResult]) -> None:
    for label, r in _by(report, "paper-form statistic antisymmetric in (y_w, y_l)").items():
        if r.status != "REFUTED":
            continue
        pw, pl, qw, ql = _logps(r.counterexample)
        spec = loss_spec("iupo", _div(label), "paper")
        swapped = pair_statistic(spec, pl, pw, ql, qw)[0]
        assert swapped != pytest.approx(-pair_statistic(spec, pw, pl, qw, ql)[0], abs=1e-6)
    assert _by(report, "paper-form statistic antisymmetric in (y_w, y_l)")["rkl"].status == (
        "PROVEN")


def test_target_out_of_reach_counterexample_is_true() -> None:
    """With equal reference probabilities the JS paper statistic never reaches 1/(2 beta)."""
    r = target_reachable(derive(get_divergence("js")))
    assert r.status == "REFUTED"
    target = float(sp.Rational(r.counterexample["target 1/(2 beta)"]))
    spec = loss_spec("iupo", "js", "paper")
    gaps = np.linspace(-50, 50, 201)  # log pi_w - log pi_l
    stats = pair_statistic(spec, gaps, np.zeros_like(gaps), np.zeros(1), np.zeros(1))
    assert stats.max() <= math.log(2) < target


def test_target_is_reachable_whenever_sup_f1_is_infinite() -> None:
    """Pearson χ² (f'(0+) finite, sup f' = oo) reaches any target: Theorem 3.1 plays no part."""
    r = target_reachable(derive(get_divergence("pearson")))
    assert r.status == "PROVEN"
    spec = loss_spec("iupo", "pearson", "paper")
    for beta, ref_gap in ((0.01, -3.0), (0.2, 4.0)):
        # solve 2 (e^t - 1) - 2 (e^ref_gap - 1) = 1/(2 beta) for the policy log-ratio t
        t = math.log(math.exp(ref_gap) + 1 / (4 * beta))
        stat = pair_statistic(spec, np.array([t]), np.zeros(1), np.array([ref_gap]), np.zeros(1))
        assert stat[0] == pytest.approx(1 / (2 * beta), rel=1e-12)


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


def test_the_readme_quotes_the_report(report: list[ClaimResult]) -> None:
    """The README's summary of the report: the counts of each group (distinct statements, their
    instances), the total variation, the f whose target can be out of reach and JS's thresholds,
    and Pearson's optimum under the literal reading are the report's."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("What the verification report")
    summary = " ".join(readme[start:readme.index("\n## ", start)].split())
    quoted = re.findall(r"\((\d+) statements, (\d+) instances", summary)
    assert quoted == [(str(len({r.claim for r in members})), str(len(members)))
                      for members in by_group(report).values()]
    js = _by(report, CENTRAL_PAPER)["js"].counterexample["total variation"]
    assert f"total variation {float(js):.3f}" in summary
    reach = _by(report, "paper form can reach the target 1/(2 beta)")
    unreachable = [d for d, r in reach.items() if r.status == "REFUTED"]
    names = {"fkl": "forward KL", "js": "JS", LABELS["alpha"]: "α", "hellinger": "Hellinger",
             "neyman": "Neyman"}
    assert "(" + ", ".join(names[d] for d in unreachable) + ")" in summary
    thresholds = [reach["js"].counterexample[f"threshold at beta = {b}"]
                  for b in REACH_BETAS]
    betas = ", ".join(f"{float(b):g}" for b in REACH_BETAS)
    assert f"for JS at β = {betas} exactly when" in summary
    assert "is at least " + ", ".join(thresholds) + "." in summary
    pearson = _by(report, "Pearson chi^2 under the literal reading of '0 not in dom f'' "
                          "(Theorem 3.1)")["pearson"].counterexample
    beta = float(sp.Rational(pearson["beta"]))
    assert f"(π* = ({pearson['pi* (exact KKT)']}) on the three-action problem at β = {beta:g})" in (
        summary)


# --- the words' scope: Pearson read literally, antisymmetry, the reach of the target ---------

def test_pearson_under_the_literal_reading_has_an_optimum_with_zeros(
    report: list[ClaimResult],
) -> None:
    """Read literally, Theorem 3.1 admits Pearson; on the three-action example at beta = 0.05
    the engine's KKT solve gives pi* = (0, 0, 1), the theorem's formula a negative probability,
    and the per-response loss no minimiser."""
    rows = _by(report, "Pearson chi^2 under the literal reading of '0 not in dom f'' "
                       "(Theorem 3.1)")
    r = rows["pearson"]
    assert (r.group, r.status) == ("extended", "REFUTED")
    assert r.counterexample["pi* (exact KKT)"] == "0, 0, 1"
    assert float(sp.Rational(r.counterexample["the formula with full support"].split(",")[0])) < 0
    problem = _sim_problem(PEARSON_EXAMPLE)
    assert problem.beta == 0.05
    star = solve_kkt(problem.psibar("identity"), np.log(problem.pi_ref), problem.beta,
                     get_divergence("pearson")).policy[0]
    np.testing.assert_allclose(star, [0, 0, 1], atol=1e-12)
    found = minimise(population_loss(loss_spec("iupo", "pearson", "per_response"), problem))
    assert not found.converged and found.policy[0, 0] < 1e-9
    assert 0.5 * np.abs(found.policy[0] - star).sum() > 0.01


def test_an_antisymmetric_paper_statistic_still_misses_pi_star(report: list[ClaimResult]) -> None:
    """f' = log u + u - 1/u: admissible, f'(e^s) = s + 2 sinh s odd, so the paper statistic is
    antisymmetric (numerically here), and the paper form's minimiser is still not pi*."""
    r = _by(report, "antisymmetry does not rescue the paper form")[None]
    assert (r.group, r.status) == ("extended", "PROVEN")
    d = derive(get_divergence(ANTISYMMETRIC_F))
    u = sp.Symbol("u", positive=True)
    assert d.admissible and sp.simplify(d.f1 - (sp.log(u) + u - 1 / u)) == 0
    spec = loss_spec("iupo", get_divergence(ANTISYMMETRIC_F), "paper")
    rng = np.random.default_rng(3)
    pw, pl, qw, ql = (rng.normal(size=20) for _ in range(4))
    np.testing.assert_allclose(pair_statistic(spec, pl, pw, ql, qw),
                               -pair_statistic(spec, pw, pl, qw, ql), atol=1e-12)
    problem = _sim_problem(EXAMPLE)
    star = solve_kkt(problem.psibar("identity"), np.log(problem.pi_ref), problem.beta,
                     get_divergence(ANTISYMMETRIC_F)).policy
    found = minimise(population_loss(spec, problem), gtol=1e-11).policy
    tv = 0.5 * np.abs(found - star).sum()
    assert tv > 1e-3 and tv == pytest.approx(float(r.witness["total variation"]), abs=1e-4)


def test_the_js_target_is_out_of_reach_only_above_a_reference_ratio(
    report: list[ClaimResult],
) -> None:
    """For JS, sup_r f'(r) - f'(rho) = log(1 + 1/rho): the target 1/(2 beta) is out of reach iff
    rho >= 1/(e^{1/(2 beta)} - 1); the report's thresholds are these, and the numeric statistic
    reaches the target just below the threshold and not just above it."""
    example = _by(report, "paper form can reach the target 1/(2 beta)")["js"].counterexample
    spec = loss_spec("iupo", "js", "paper")
    for beta in (0.1, 0.2, 0.5):
        threshold = 1 / math.expm1(1 / (2 * beta))
        assert example[f"threshold at beta = {sp.Rational(beta).limit_denominator(10)}"] == (
            f"{threshold:.3g}")
        gaps = np.linspace(0, 60, 2001)  # log pi_w - log pi_l
        for rho, reachable in ((0.9 * threshold, True), (1.1 * threshold, False)):
            stats = pair_statistic(spec, gaps, np.zeros_like(gaps), np.full(1, math.log(rho)),
                                   np.zeros(1))
            assert (stats.max() >= 1 / (2 * beta)) == reachable, (beta, rho)


def test_outside_its_scope_a_claim_gives_its_reason_in_latex() -> None:
    """NOT APPLICABLE and UNDECIDED by :func:`~upo_theory.verdicts._outside` (a condition that
    fails, that SymPy could not decide, or that holds only on a grid) and by
    :func:`~upo_theory.verdicts.guarded` (an error, no time left) write their reason in LaTeX
    too: the condition as the derivation typesets it, an error message as a code span."""
    from dataclasses import replace

    from docs_helpers import latex_prose_problems

    from upo_theory import Condition
    from upo_theory.verdicts import ADMISSIBLE, Claim, _outside, about, guarded

    claim = Claim("a claim", "eq. (0)", "s", "extended", "for admissible f", "$s$",
                  "for admissible $f$", name_latex="a claim")
    failing = _outside(claim, derive(get_divergence("pearson")), ADMISSIBLE)
    assert failing is not None and failing.status == "NOT APPLICABLE"
    assert failing.detail_latex.startswith(
        r"outside the scope: $\lim_{u \to 0^+} f'(u) = -\infty$ fails ($f'(0^+) = -2$")
    undecided = _outside(claim, derive(get_divergence("Abs(u-1)**1.5")), ADMISSIBLE)
    assert undecided is not None and undecided.status == "UNDECIDED"
    assert undecided.detail_latex.startswith("$f''(1) > 0$ could not be decided (SymPy could not")
    rkl = derive(get_divergence("rkl"))
    numeric = replace(rkl, checks=tuple(
        replace(c, method="numeric") if c.condition is Condition.CONVEX else c
        for c in rkl.checks))
    on_a_grid = _outside(claim, numeric, ADMISSIBLE)
    assert on_a_grid is not None and on_a_grid.status == "UNDECIDED"
    assert on_a_grid.detail_latex.startswith(r"$f$ convex on $(0, \infty)$ holds only on a grid")

    @about(claim)
    def raising() -> ClaimResult:
        raise ValueError("a $5 bet on x_1 * y")

    failed, late = guarded(raising), guarded(raising, seconds=0)
    assert failed is not None and late is not None
    assert failed.detail_latex == "SymPy failed: `ValueError: a $5 bet on x_1 * y`"
    assert (failed.status, late.status) == ("UNDECIDED", "UNDECIDED")
    for result in (failing, undecided, on_a_grid, failed, late):
        assert not latex_prose_problems(result.detail_latex), result.detail_latex
        assert result.detail and result.detail != result.detail_latex
