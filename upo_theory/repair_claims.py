"""The project's repair of Algorithm 1 (group "repair"): the per-response statistic of the
KKT conditions (eq. 17) in eq. 24, and its central claim, not a claim of the paper.

The central claim (eqs. 22, 24, Algorithm 1), and the repair
------------------------------------------------------------
*Minimising the IUPO loss gives the IUPO optimum.* With y, y' ~ μ and the winner drawn from p*,
the loss of a statistic s is, as the engine defines it (:meth:`~upo_theory.PairTable.population`,
the exact expectation over the draws (y, y') and (y', y)),
L = Σ_{i,j} 2 μ_i μ_j p*(y_i ≻ y_j) (s(y_i, y_j) − τ)², τ = 1/(2β).
For the per-response statistic s = v_i − v_j, v = f'(π/π_ref), for every K ≥ 2:

1. L is a quadratic in v with Hessian 4 Σ_{i<j} μ_i μ_j (e_i − e_j)(e_i − e_j)ᵀ (the ordered
   pair (i, j) gives 4 μ_i μ_j p*_ij (e_i − e_j)(e_i − e_j)ᵀ, and with (j, i),
   p*_ij + p*_ji = 1 removes p*): a weighted graph Laplacian, positive semi-definite, with kernel
   the constant vectors when μ has full support. So L is convex in v and strictly convex across
   the constants. (With half the expectation, Σ μ_i μ_j p*_ij (…)², it is 2 Σ_{i<j}.)
2. ∂L/∂v_k = 4 μ_k Σ_j μ_j [(v_k − v_j) − τ (2 p*(y_k ≻ y_j) − 1)]. At v = Ψ̄/β + c, with
   Ψ̄(y_k) = Σ_j μ_j p*(y_k ≻ y_j) (Ψ = identity), the bracket sums to
   (1/β)[Ψ̄_k Σ_j μ_j − Σ_j μ_j Ψ̄_j − Ψ̄_k + ½ Σ_j μ_j] = 0, since Σ_j μ_j = 1 and
   Σ_j μ_j Ψ̄_j = Σ_{i,j} μ_i μ_j p*_ji = ½ (p* + p*ᵀ = 1). This is algebra for every K; with
   step 1 the minimisers over v are exactly {Ψ̄/β + c}.
3. Theorem 3.1 (eq. 16): π* has f'(π*/π_ref) = Ψ̄/β − λ/β, i.e. c = −λ/β; and since
   c ↦ Σ π_ref (f')⁻¹(Ψ̄/β + c) is strictly increasing, c = −λ/β is the only c whose policy sums
   to 1. So π* is the unique minimiser of L over policies.
4. No spurious stationary points in the logits θ (π = softmax θ): ∂v_k/∂θ_j =
   f''(u_k) u_k (δ_kj − π_j), so ∇_θL = (I − π1ᵀ) D ∇_vL with D = diag(f''(u) u). The kernel of
   I − π1ᵀ (a projection of rank K − 1) is span(π), so ∇_θL = 0 gives D ∇_vL = a π; L depends on
   v through differences only, so 1ᵀ∇_vL = 0, i.e. a Σ_k π_k / D_kk = 0, and a = 0 when f'' > 0:
   ∇_vL = 0, and π = π* by step 3.

SymPy certifies steps 1 and 2 for K = 3 and 4 with symbolic μ, p*, β, c
(:func:`_quadratic_loss_certificate`) and step 4's chain rule and projection for K = 3 with f'
an unknown function (:func:`_logit_certificate`); the engine's minimiser equals π* on random
problems up to K = 50 (:func:`per_response_minimiser_at_large_k`). The same claim for the
paper's statistic (eq. 23) is the paper's, refuted in :mod:`~upo_theory.paper_claims`.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy as sp

from .admission import get_divergence
from .claim_terms import (
    BETA,
    CENTRAL_PER_RESPONSE,
    EXAMPLE,
    X,
    antisymmetry,
    central_claim,
    central_instance,
    per_response_statistic,
    show,
    statistic_latex,
)
from .derivation import Derivation, code_span, derive
from .divergences import registered
from .expressions import U
from .losses import LossSpec
from .minimise import minimise
from .optimum import upo_optimum
from .problem import Problem, random_preference_table, total_variation
from .table_loss import population_loss
from .verdicts import ADMISSIBLE, DIFFERENTIABLE, Claim, ClaimResult, about

CENTRAL_PROOF: tuple[str, ...] = (
    "With y, y' ~ mu and the winner drawn from p*, the loss (as the engine weighs pairs, "
    "2 mu_i mu_j p*_ij: the exact expectation) is L = sum_{i,j} 2 mu_i mu_j p*(y_i > y_j) "
    "(v_i - v_j - 1/(2 beta))^2 in v = f'(pi/pi_ref), for any number K of actions: a quadratic "
    "whose Hessian 4 sum_{i<j} mu_i mu_j (e_i - e_j)(e_i - e_j)^T is a weighted graph Laplacian "
    "(p* drops out, as p*(y_i > y_j) + p*(y_j > y_i) = 1), so L is convex in v, strictly across "
    "the constant vectors when mu has full support.",
    "Its gradient 4 mu_k sum_j mu_j [(v_k - v_j) - (2 p*(y_k > y_j) - 1)/(2 beta)] vanishes at "
    "v = Psibar/beta + c for every c, with Psibar(y_k) = sum_j mu_j p*(y_k > y_j) (Psi = "
    "identity), because sum_j mu_j = 1 and sum_j mu_j Psibar(y_j) = 1/2: the minimisers over v "
    "are exactly v = Psibar/beta + c (algebra for every K; SymPy certifies it at K = 3, 4).",
    "Theorem 3.1 gives f'(pi*/pi_ref) = (Psibar - lambda)/beta, i.e. c = -lambda/beta; and "
    "c -> sum pi_ref (f')^-1(Psibar/beta + c) is strictly increasing, so no other c gives a "
    "policy: pi* is the unique minimiser of L.",
    "In the logits theta (pi = softmax theta): grad_theta L = (I - pi 1^T) D grad_v L with "
    "D = diag(f''(u) u) > 0, and 1^T grad_v L = 0, so grad_theta L = 0 forces grad_v L = 0: no "
    "spurious stationary points in theta either.",
    "The paper statistic f'(pi(y_w)/pi(y_l)) - f'(piref_w/piref_l) is not a difference of one "
    "function of each response (unless f'(e^s) is affine: reverse KL); at pi* the gradient of "
    "its loss is not zero, so pi* does not minimise it.",
)
"""The central claim's proof, step by step (the module docs give it with formulas)."""
_QUADRATIC_CERTIFICATE_LATEX = (
    "a written argument for every $K$ (the module docs, `CENTRAL_PROOF`), certified by SymPy "
    r"for $K = 3$ and $4$ with symbolic $\mu$, $p^*$, $\beta$, $c$: the gradient of the "
    r"population loss (pairs weighed $2 \mu_i \mu_j p^*_{ij}$) in "
    r"$v = f'(\pi/\pi_{\mathrm{ref}})$ vanishes at $v = \bar\Psi/\beta + c$; its Hessian is "
    r"$4 \sum_{i<j} \mu_i \mu_j (e_i - e_j)(e_i - e_j)^\top$, a Laplacian (free of $p^*$ and "
    r"$\beta$, constants in its kernel, leading minors $> 0$): convex, strictly across the "
    "constants")
"""The detail of :func:`_quadratic_loss_certificate` when it passes, in LaTeX."""
_LOGIT_CERTIFICATE_LATEX = (
    r"SymPy, $K = 3$, $f'$ an undetermined function: $\partial v_k / \partial \theta_j = "
    r"f''(u_k)\, u_k\, (\delta_{kj} - \pi_j)$, so $\nabla_\theta L = (I - \pi \mathbf{1}^\top)"
    r"\, D\, \nabla_v L$, $D = \operatorname{diag}\big(f''(u)\, u\big)$; "
    r"$P = I - \pi \mathbf{1}^\top$ has $P^2 = P$, $P \pi = 0$, trace $K - 1$ (kernel "
    r"$\operatorname{span}(\pi)$); $\mathbf{1}^\top \nabla_v L = 0$ for the quadratic loss")
"""The detail of :func:`_logit_certificate` when it passes, in LaTeX."""
_CHECKS_LATEX: dict[str, str] = {
    "K = 3": "$K = 3$", "K = 4": "$K = 4$", "P^2 = P": "$P^2 = P$", "P pi = 0": r"$P \pi = 0$",
    "trace P = K - 1": r"$\operatorname{tr} P = K - 1$",
    "1^T grad_v L = 0": r"$\mathbf{1}^\top \nabla_v L = 0$",
}
"""The plain names of the certificates' checks, in LaTeX (for the detail of a failure)."""


def _failure_latex(detail: str) -> str:
    """The detail of a failed certificate (which checks failed) with its maths in LaTeX."""
    for plain, tex in _CHECKS_LATEX.items():
        detail = detail.replace(plain, tex)
    return detail


@functools.lru_cache(maxsize=1)
def _quadratic_loss_certificate() -> tuple[bool, str]:
    """Steps 1–2 of the central claim's proof (module docs) for K = 3 and 4, symbolically.

    The loss weighs the ordered pair (i, j) by 2 μ_i μ_j p*_ij, as the engine does
    (:meth:`~upo_theory.PairTable.population`); its Hessian is checked to be exactly
    4 Σ_{i<j} μ_i μ_j (e_i − e_j)(e_i − e_j)ᵀ. Returns whether every check passed and what was
    checked.
    """
    for k in (3, 4):
        mu = sp.symbols(f"mu1:{k + 1}", positive=True)
        v = sp.symbols(f"v1:{k + 1}", real=True)
        c = sp.Symbol("c", real=True)
        upper = {(i, j): sp.Symbol(f"p{i + 1}{j + 1}", positive=True)
                 for i, j in itertools.combinations(range(k), 2)}
        p = [[sp.S.Half if i == j else upper[(i, j)] if i < j else 1 - upper[(j, i)]
              for j in range(k)] for i in range(k)]
        tau = 1 / (2 * BETA)
        loss = sum(2 * mu[i] * mu[j] * p[i][j] * (v[i] - v[j] - tau) ** 2  # the engine's weights
                   for i in range(k) for j in range(k))
        psibar = [sum(mu[j] * p[i][j] for j in range(k)) for i in range(k)]
        at = {v[i]: psibar[i] / BETA + c for i in range(k)}
        normalised = {mu[-1]: 1 - sum(mu[:-1])}
        gradient = [sp.expand(sp.diff(loss, v[i]).subs(at).subs(normalised)) for i in range(k)]
        hessian = sp.hessian(loss, v)
        e = sp.eye(k)
        stated = sum((4 * mu[i] * mu[j] * (e[:, i] - e[:, j]) * (e[:, i] - e[:, j]).T
                      for i, j in itertools.combinations(range(k), 2)), sp.zeros(k, k))
        as_stated = sp.expand(hessian - stated) == sp.zeros(k, k)
        laplacian = as_stated and all(sp.diff(hessian, s) == sp.zeros(k, k)
                                      for s in (*upper.values(), BETA))
        constants = sp.expand(hessian * sp.ones(k, 1)) == sp.zeros(k, 1)
        minors = [sp.expand(hessian[:m, :m].det()) for m in range(1, k)]
        if not (all(g == 0 for g in gradient) and laplacian and constants
                and all(m.is_positive for m in minors)):
            return False, f"the check failed for K = {k}"
    return True, ("a written argument for every K (the module docs, CENTRAL_PROOF), certified "
                  "by SymPy for K = 3 and 4 with symbolic mu, p*, beta, c: the gradient of the "
                  "population loss (pairs weighed 2 mu_i mu_j p*_ij) in v = f'(pi/pi_ref) "
                  "vanishes at v = Psibar/beta + c; its Hessian is 4 sum_{i<j} mu_i mu_j "
                  "(e_i - e_j)(e_i - e_j)^T, a Laplacian (free of p* and beta, constants in its "
                  "kernel, leading minors > 0): convex, strictly across the constants")


@about(central_claim(CENTRAL_PER_RESPONSE, "for every admissible f and every K (mu with full "
                     "support)", r"for every admissible $f$ and every $K$ ($\mu$ with full "
                     "support)"))
def per_response_minimiser_is_optimum_for_every_f() -> ClaimResult:
    """The central claim for the per-response statistic, for every admissible f at once."""
    claim = per_response_minimiser_is_optimum_for_every_f.about
    ok, detail = _quadratic_loss_certificate()
    if not ok:
        return claim.result(None, "UNDECIDED", detail, detail_latex=_failure_latex(detail))
    return claim.result(None, "PROVEN", detail + "; with Theorem 3.1, c = -lambda/beta is the "
                        "only c whose policy sums to 1, so pi* is the unique minimiser",
                        detail_latex=_QUADRATIC_CERTIFICATE_LATEX + r"; with Theorem 3.1, "
                        r"$c = -\lambda/\beta$ is the only $c$ whose policy sums to 1, so $\pi^*$ "
                        "is the unique minimiser")


@functools.lru_cache(maxsize=1)
def _logit_certificate() -> tuple[bool, str]:
    """Step 4 of the central claim's proof (module docs) for K = 3, symbolically, f' unknown.

    With π = softmax(θ), u = π/π_ref and v_k = f'(u_k) for an undetermined function f': the
    Jacobian ∂v_k/∂θ_j is f''(u_k) u_k (δ_kj − π_j), i.e. ∇_θL = (I − π1ᵀ) D ∇_vL with
    D = diag(f''(u) u); P = I − π1ᵀ is a projection (P² = P) of trace K − 1 with Pπ = 0, so its
    kernel is span(π); and the loss of :func:`_quadratic_loss_certificate` has 1ᵀ∇_vL = 0.
    """
    k = 3
    theta = sp.symbols(f"theta1:{k + 1}", real=True)
    q = sp.symbols(f"q1:{k + 1}", positive=True)
    fprime = sp.Function("fprime")
    total = sum(sp.exp(t) for t in theta)
    pi = [sp.exp(t) / total for t in theta]
    u = [pi[i] / q[i] for i in range(k)]
    jacobian = sp.Matrix(k, k, lambda i, j: sp.diff(fprime(u[i]), theta[j]))
    second = [sp.diff(fprime(X), X).subs(X, u[i]) for i in range(k)]
    stated = sp.Matrix(k, k, lambda i, j: second[i] * u[i] * ((1 if i == j else 0) - pi[j]))
    chain = all(sp.simplify(e) == 0 for e in jacobian - stated)
    p_vec = sp.Matrix(pi)
    projection = sp.eye(k) - p_vec * sp.ones(1, k)
    idempotent = all(sp.simplify(e) == 0 for e in projection * projection - projection)
    kernel = all(sp.simplify(e) == 0 for e in projection * p_vec)
    rank = sp.simplify(projection.trace()) == k - 1
    mu = sp.symbols(f"mu1:{k + 1}", positive=True)
    v = sp.symbols(f"v1:{k + 1}", real=True)
    upper = {(i, j): sp.Symbol(f"p{i + 1}{j + 1}", positive=True)
             for i, j in itertools.combinations(range(k), 2)}
    p = [[sp.S.Half if i == j else upper[(i, j)] if i < j else 1 - upper[(j, i)]
          for j in range(k)] for i in range(k)]
    loss = sum(2 * mu[i] * mu[j] * p[i][j] * (v[i] - v[j] - 1 / (2 * BETA)) ** 2
               for i in range(k) for j in range(k))
    constants = sp.expand(sum(sp.diff(loss, x) for x in v)) == 0
    checks = {"chain rule": chain, "P^2 = P": idempotent, "P pi = 0": kernel,
              "trace P = K - 1": rank, "1^T grad_v L = 0": constants}
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        return False, "SymPy could not confirm: " + ", ".join(failed)
    return True, ("SymPy, K = 3, f' an undetermined function: d v_k / d theta_j = f''(u_k) u_k "
                  "(delta_kj - pi_j), so grad_theta L = (I - pi 1^T) D grad_v L, D = "
                  "diag(f''(u) u); P = I - pi 1^T has P^2 = P, P pi = 0, trace K - 1 (kernel "
                  "span(pi)); 1^T grad_v L = 0 for the quadratic loss")


def _random_problem(rng: np.random.Generator, k: int, beta: float) -> Problem:
    """One context with K actions: π_ref and μ Dirichlet(1), p*(y_i ≻ y_j) uniform in
    [0.05, 0.95] above the diagonal (p* + p*ᵀ = 1)."""
    prefs = random_preference_table(rng, 1, k)
    return Problem(rng.dirichlet(np.ones(k))[None], rng.dirichlet(np.ones(k))[None], prefs, beta)


def _theta_gradient_gap(d: Derivation, rng: np.random.Generator, k: int = 6) -> float:
    """Largest |engine's ∂L/∂θ − (I − π1ᵀ) D ∇_vL| at a random θ, per-response form, on a
    random problem, with ∇_vL by the formula of the module docs (pairs weighed 2 μ_i μ_j p*_ij)
    and D = diag(f''(u) u) from SymPy's f''."""
    problem = _random_problem(rng, k, 0.5)
    loss = population_loss(LossSpec("identity", d.divergence, "per_response"), problem)
    theta = rng.normal(size=(1, k))
    pi = np.exp(theta[0] - theta[0].max())
    pi /= pi.sum()
    u = pi / problem.pi_ref[0]
    f1, f2 = (sp.lambdify(U, e, "numpy") for e in (d.f1, d.f2))
    v, mu, p = f1(u), problem.mu[0], problem.prefs[0]
    residual = (v[:, None] - v[None, :]) - (2 * p - 1) / (2 * problem.beta)
    grad_v = 4 * mu * (residual * mu[None, :]).sum(axis=1)
    grad_theta = (np.eye(k) - np.outer(pi, np.ones(k))) @ (f2(u) * u * grad_v)
    return float(np.abs(loss(theta)[1][0] - grad_theta).max())


@about(Claim("no spurious stationary points in the logits", "eqs. (17), (24); the project's "
             "repair", "for the per-response loss L(softmax(theta)), grad_theta L = 0 only at "
             "pi*: grad_theta L = (I - pi 1^T) D grad_v L with D = diag(f''(u) u) > 0 and "
             "1^T grad_v L = 0, so grad_v L = 0", "repair",
             "for every admissible f with f'' > 0 on (0, oo) (every registered admissible f)",
             r"for the per-response loss $L(\operatorname{softmax}\theta)$, "
             r"$\nabla_\theta L = 0$ only at $\pi^*$: $\nabla_\theta L = (I - \pi \mathbf{1}^\top)"
             r"\, D\, \nabla_v L$ with $D = \operatorname{diag}\big(f''(u)\, u\big) > 0$ and "
             r"$\mathbf{1}^\top \nabla_v L = 0$, so $\nabla_v L = 0$",
             r"for every admissible $f$ with $f'' > 0$ on $(0, \infty)$ (every registered "
             "admissible $f$)",
             name_latex="no spurious stationary points in the logits"))
def no_spurious_theta_stationary_points() -> ClaimResult:
    """Step 4 of the central claim (module docs): a stationary θ is π*, so gradient descent in
    the logits has no other resting point. SymPy's certificate, f'' > 0 for each registered
    admissible f, and the engine's gradient against (I − π1ᵀ) D ∇_vL at random θ."""
    claim = no_spurious_theta_stationary_points.about
    ok, detail = _logit_certificate()
    if not ok:
        return claim.result(None, "UNDECIDED", detail, detail_latex=_failure_latex(detail))
    admissible = [derive(div) for div in registered() if derive(div).admissible]
    positive = [d.divergence.label for d in admissible if sp.simplify(d.f2).is_positive]
    unsure = [d.divergence.label for d in admissible if d.divergence.label not in positive]
    if unsure:
        return claim.result(None, "UNDECIDED", f"SymPy could not show f'' > 0 for {unsure}",
                            detail_latex="SymPy could not show $f'' > 0$ for "
                            + ", ".join(code_span(label) for label in unsure))
    rng = np.random.default_rng(2024)
    gap = max(_theta_gradient_gap(d, rng) for d in admissible)
    return claim.result(None, "PROVEN", detail + "; f'' > 0 on (0, oo) (SymPy) for " + ", ".join(
        positive) + "; so a stationary theta has grad_v L = 0, and pi = pi* (steps 1-3)",
        witness={"largest |engine grad_theta L - (I - pi 1^T) D grad_v L|, random theta, K = 6":
                 f"{gap:.1e}"},
        detail_latex=_LOGIT_CERTIFICATE_LATEX + r"; $f'' > 0$ on $(0, \infty)$ (SymPy) for "
        + ", ".join(positive) + r"; so a stationary $\theta$ has $\nabla_v L = 0$, and "
        r"$\pi = \pi^*$ (steps 1–3)")


no_spurious_theta_stationary_points.seconds = 30  # type: ignore[attr-defined]

LARGE_K: tuple[tuple[int, str], ...] = (
    (5, "rkl"), (10, "js"), (20, "hellinger"), (50, "fkl"), (50, "neyman"))
"""The general-K check's problems (actions, divergence); the slow test runs more of them."""
LARGE_K_SEED = 7


def per_response_gap(k: int, name: str, rng: np.random.Generator,
                     beta: float = 0.5) -> tuple[float, bool]:
    """(total variation between the engine's minimiser of the per-response loss and π*, whether
    the minimiser converged) on one random problem with ``k`` actions."""
    problem = _random_problem(rng, k, beta)
    divergence = get_divergence(name)
    star = upo_optimum(problem, divergence, "identity").policy
    found = minimise(population_loss(LossSpec("identity", divergence, "per_response"), problem),
                     gtol=1e-10)
    return float(total_variation(found.policy, star)[0]), found.converged


@about(Claim("per-response minimiser is pi* on random problems up to K = 50",
             "eqs. (17), (22), (24); the project's repair",
             "the engine's minimiser of the per-response loss equals pi* (total variation "
             "< 1e-8) on random problems with K = 5 to 50 actions", "repair",
             "for the seeded random problems listed (a numerical check of the general-K "
             "argument, not a proof)",
             r"the engine's minimiser of the per-response loss equals $\pi^*$ (total variation "
             r"$< 10^{-8}$) on random problems with $K = 5$ to $50$ actions",
             "for the seeded random problems listed (a numerical check of the general-$K$ "
             "argument, not a proof)",
             name_latex=r"per-response minimiser is $\pi^*$ on random problems up to $K = 50$"))
def per_response_minimiser_at_large_k() -> ClaimResult:
    """The general-K argument (module docs, steps 1–3) checked numerically: random π_ref, μ, p*
    (:func:`_random_problem`, seed :data:`LARGE_K_SEED`), β = 1/2, for :data:`LARGE_K`."""
    claim = per_response_minimiser_at_large_k.about
    rng = np.random.default_rng(LARGE_K_SEED)
    gaps = {f"K = {k}, {name}": per_response_gap(k, name, rng) for k, name in LARGE_K}
    witness = {key: f"total variation {tv:.1e}" + ("" if ok else " (not converged)")
               for key, (tv, ok) in gaps.items()}
    if all(ok and tv < 1e-8 for tv, ok in gaps.values()):
        return claim.result(None, "PROVEN", "a numerical check, not a proof: on every listed "
                            "problem the minimiser converged within total variation 1e-8 of pi*",
                            witness=witness, detail_latex="a numerical check, not a proof: on "
                            "every listed problem the minimiser converged within total variation "
                            r"$10^{-8}$ of $\pi^*$")
    return claim.result(None, "REFUTED", "the minimiser is not pi* on a listed problem",
                        counterexample=witness,
                        detail_latex=r"the minimiser is not $\pi^*$ on a listed problem")


per_response_minimiser_at_large_k.seconds = 30  # type: ignore[attr-defined]


@about(central_claim(CENTRAL_PER_RESPONSE, "for admissible f (mu with full support)",
                     r"for admissible $f$ ($\mu$ with full support)"),
       needs=ADMISSIBLE)
def per_response_minimiser_is_optimum(d: Derivation) -> ClaimResult:
    """The central claim, per-response statistic, for this f (the general proof applies)."""
    claim = per_response_minimiser_is_optimum.about
    general = per_response_minimiser_is_optimum_for_every_f()
    if general.status != "PROVEN":
        return claim.result(d.divergence.label, "UNDECIDED", general.detail,
                            detail_latex=general.detail_latex)
    spec = LossSpec("identity", d.divergence, "per_response")
    pi, found, gradient = central_instance(d, spec)
    return claim.result(d.divergence.label, "PROVEN", "f is admissible, so the general proof "
                        "applies (see the result for every admissible f)", witness={
                            **EXAMPLE.describe(), "pi*": show(pi), "minimiser": show(found),
                            "|gradient of eq. 24 at pi*|": f"{gradient:.1e}",
                            "total variation": f"{float(total_variation(found, pi)):.1e}"},
                        detail_latex="$f$ is admissible, so the general proof applies (see the "
                        "result for every admissible $f$)")


@about(Claim("per-response statistic antisymmetric in (y_w, y_l)",
             "eq. (17); the project's repair", "s(y_l, y_w) = -s(y_w, y_l)", "repair",
             "for every differentiable f",
             "$s(y_l, y_w) = -s(y_w, y_l)$ for the per-response statistic "
             f"$s(y_w, y_l) = {statistic_latex(per_response_statistic)}$",
             "for every differentiable $f$",
             name_latex="per-response statistic antisymmetric in $(y_w, y_l)$"),
       needs=DIFFERENTIABLE)
def per_response_antisymmetric(d: Derivation) -> ClaimResult:
    """The per-response statistic changes sign when y_w and y_l swap."""
    claim = per_response_antisymmetric.about
    return antisymmetry(d, per_response_statistic, claim,
                        "the statistic is a difference of the same function at the two responses",
                        "the statistic is a difference of the same function at the two responses")
