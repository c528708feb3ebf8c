"""The KKT solve of the UPO optimum against an independent constrained optimiser, closed forms."""

import numpy as np
import pytest
import scipy.optimize
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from sim.problems import CATALOGUE, bradley_terry, cyclic, random_preferences
from sim.value import upo_value
from upo_theory import (
    InadmissibleError,
    U,
    derive,
    generator_function,
    get_divergence,
    kernel_for,
    solve_kkt,
    upo_optimum,
)

ADMISSIBLE = ["rkl", "fkl", "js", "alpha", "hellinger", "neyman"]
SOLVABLE = [*ADMISSIBLE, "pearson"]


def slsqp_optimum(problem, divergence, psi, x=0):
    """max_π J(π) on the simplex by SLSQP, from π_ref: an optimiser that knows no KKT algebra."""
    psibar, ref, beta = problem.psibar(psi)[x], problem.pi_ref[x], problem.beta
    derivation = derive(divergence)
    f1 = sympy.lambdify(U, derivation.f1, "numpy")

    def negative_j(pi):
        return -(pi @ psibar - beta * ref @ generator_function(divergence)(pi / ref))

    def gradient(pi):
        return -(psibar - beta * f1(pi / ref))

    lower = 0.0 if derivation.inf_f1.is_finite else 1e-12
    out = scipy.optimize.minimize(
        negative_j, ref, jac=gradient, method="SLSQP",
        bounds=[(lower, 1.0)] * len(ref),
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1, "jac": np.ones_like}],
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    return out.x


@pytest.mark.parametrize("f", SOLVABLE)
@pytest.mark.parametrize("psi", ["identity", "logit"])
@pytest.mark.parametrize("make", [bradley_terry, random_preferences, cyclic])
def test_kkt_matches_a_general_constrained_optimiser(f, psi, make):
    problem = make(actions=4, contexts=2, beta=0.3, seed=3)
    divergence = get_divergence(f)
    result = upo_optimum(problem, divergence, psi)
    assert result.converged
    reference = np.stack([slsqp_optimum(problem, divergence, psi, x) for x in range(2)])
    assert np.max(np.abs(result.policy - reference)) < 1e-6
    j_kkt = upo_value(problem, divergence, psi, result.policy)
    assert np.all(j_kkt >= upo_value(problem, divergence, psi, reference) - 1e-12)


@settings(max_examples=30)
@given(
    f=st.sampled_from(SOLVABLE), psi=st.sampled_from(["identity", "logit"]),
    actions=st.integers(2, 12), contexts=st.integers(1, 4), seed=st.integers(0, 10**6),
    beta=st.floats(0.02, 5.0), mu=st.sampled_from(["uniform", "ref"]),
)
def test_kkt_residuals_are_tiny(f, psi, actions, contexts, seed, beta, mu):
    problem = random_preferences(actions, contexts, beta, seed=seed, mu=mu)
    result = upo_optimum(problem, f, psi)
    scale = 1 + np.abs(problem.psibar(psi)).max() / beta
    assert result.converged
    assert result.residuals.stationarity.max() < 1e-11 * scale
    assert result.residuals.normalisation.max() < 1e-13
    assert result.residuals.dual.max() == 0.0
    assert np.all(result.policy >= 0)


@settings(max_examples=30)
@given(actions=st.integers(2, 50), seed=st.integers(0, 10**6), beta=st.floats(0.05, 5.0))
def test_reverse_kl_optimum_is_the_gibbs_policy(actions, seed, beta):
    """For f = u log u, π* ∝ π_ref exp(Ψ̄/β) in closed form (the RLHF/IPO optimum)."""
    problem = bradley_terry(actions, 2, beta, seed=seed)
    psibar = problem.psibar("identity")
    gibbs = softmax(np.log(problem.pi_ref) + psibar / beta, axis=1)
    assert np.allclose(upo_optimum(problem, "rkl").policy, gibbs, rtol=1e-12, atol=1e-15)


def test_vectorised_solve_equals_one_context_at_a_time():
    problem = random_preferences(6, 5, 0.2, seed=11)
    together = upo_optimum(problem, "js").policy
    psibar, log_ref = problem.psibar("identity"), np.log(problem.pi_ref)
    for x in range(problem.contexts):
        alone = solve_kkt(psibar[x], log_ref[x], 0.2, get_divergence("js")).policy[0]
        assert np.allclose(together[x], alone, rtol=1e-12, atol=1e-15)


def test_pearson_optimum_puts_exactly_zero_mass_where_the_multiplier_is_active():
    """0 ∈ dom f' for Pearson χ²: the optimum leaves the interior, so Theorem 3.1's assumption
    (0 ∉ dom f') is what guarantees full support."""
    problem = bradley_terry(6, 1, 0.05, seed=2, reward_scale=2.0)
    pearson = upo_optimum(problem, "pearson", "logit")
    assert pearson.zero_mass.any() and not pearson.zero_mass.all()
    reference = slsqp_optimum(problem, get_divergence("pearson"), "logit")
    assert np.max(np.abs(pearson.policy[0] - reference)) < 1e-6
    target = (problem.psibar("logit") - pearson.lam[:, None]) / problem.beta
    assert np.all(target[pearson.zero_mass] <= -2.0)  # at or below inf f' = f'(0) = −2
    for f in ADMISSIBLE:  # the admissible f never leave the interior
        assert not upo_optimum(problem, f, "logit").zero_mass.any()


def test_bracket_follows_from_sup_f1_for_extreme_beta():
    """Tiny β pushes the top action towards the pole (Ψ̄ − λ)/β → sup f' (finite for JS)."""
    problem = bradley_terry(20, 3, 1e-3, seed=5, reward_scale=3.0)
    for f in ("js", "fkl", "hellinger", "neyman", "alpha"):
        result = upo_optimum(problem, f, "logit")
        assert result.converged and result.residuals.normalisation.max() < 1e-12
        sup = kernel_for(get_divergence(f)).sup
        assert np.all((problem.psibar("logit") - result.lam[:, None]) / 1e-3 < sup)


def test_symmetric_cyclic_preferences_leave_pi_ref_unchanged():
    problem = CATALOGUE["rock_paper_scissors"]().problem
    for f in ADMISSIBLE:
        assert np.allclose(upo_optimum(problem, f).policy, problem.pi_ref, atol=1e-14)


@pytest.mark.parametrize("f", ["tv", "sin(u - 1)", "-u*log(u)"])
def test_generators_without_a_kkt_solution_are_refused(f):
    with pytest.raises(InadmissibleError, match="fails"):
        upo_optimum(CATALOGUE["default"]().problem, f)
