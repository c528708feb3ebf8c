"""The paper's claims as the paper states them, the project's repair, and checks beyond both.

Every result has a **group** and a **scope**:

* ``group="paper"``: a claim the paper makes, with the statistic and algorithm the paper writes
  (eqs. 23, 24, 26, Algorithm 1), checked only where the paper makes it (its ``scope``: "for
  reverse KL", "for admissible f", ...). Outside that scope a paper claim is NOT APPLICABLE
  (or, for claims the paper makes for reverse KL alone, not listed for other f).
* ``group="repair"``: the project's repair of Algorithm 1, not a claim the paper makes: the
  per-response statistic f'(π(y_w)/π_ref(y_w)) − f'(π(y_l)/π_ref(y_l)) of the KKT conditions
  (eq. 17) in place of eq. 23, and the central claim for it.
* ``group="extended"``: a statement of our own beyond the paper, whose text says its own scope
  (e.g. "for f other than reverse KL the eq. 23 statistic differs from h").

A result is one statement for one f (an **instance**) or for none; the report counts the
distinct statements of each group and their instances beside them. A statement checked for each
registered f repeats one argument per f (the chain rule of eq. 14 eight times), and α = ½ is
Hellinger's f doubled, i.e. Hellinger at 2β: instances are not independent evidence.

A statement is PROVEN when SymPy simplifies the difference of its two sides to 0 under the stated
assumptions (or, for "differs" statements, at a witness point whose values are reported); REFUTED
when a concrete point makes it fail (the point and both values are reported); NOT APPLICABLE when
its hypotheses fail for that divergence (the reason is reported); UNDECIDED wherever SymPy can
neither prove nor refute it, raises, or runs past :data:`CLAIM_SECONDS` — never silently PROVEN,
never a traceback. Where a PROVEN rests on a written argument with SymPy certificates at small K
and numerical checks at larger K (the repair's central claim), its detail says so.

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
problems up to K = 50 (:func:`per_response_minimiser_at_large_k`). The paper form of eq. (23)
is not a difference of one function of each response, and its minimiser differs from π*: at π*
its gradient is not zero (the tabular engine computes both on :data:`EXAMPLE`, a 3-action
problem).

Two forms (proved in :func:`forms_equal`): the paper form and the per-response form agree for all
inputs iff g(s) = f'(e^s) is affine, i.e. f'(u) = c log u + d — reverse KL up to scale and terms
linear in u. (⇐) both forms equal c(t_w − t_l). (⇒) at p_w = a + b, p_l = b, q_w = q_l = 0 in log
space equality reads g(a + b) = g(a) + g(b) − g(0), Cauchy's equation, whose continuous solutions
are affine. The paper form is antisymmetric iff g(s) + g(−s) is constant: antisymmetry does not
make the forms equal (:func:`antisymmetry_does_not_rescue_the_paper_form`).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import mpmath
import numpy as np
import sympy as sp

from .admission import get_divergence
from .budget import time_limited, within_budget
from .derivation import OPTIMUM_CONDITIONS, SYMPY_FAILURES, Condition, Derivation, T, Y, derive
from .divergences import Divergence, is_registered, registered
from .exact_problem import ExactProblem, exact_bradley_terry, likelihood_gap
from .expressions import U
from .kernels import kernel_for
from .losses import LossSpec
from .minimise import minimise
from .optimum import OptimumResult, upo_optimum
from .problem import Problem, random_preference_table, total_variation
from .table_loss import gradient_norm_at, population_loss

Status = Literal["PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED"]
Group = Literal["paper", "repair", "extended"]
CLAIM_STATUSES: tuple[str, ...] = ("PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED")
CLAIM_GROUPS: dict[str, str] = {
    "paper": "The paper's claims, as the paper states them (each within its scope)",
    "repair": "The project's repair: the per-response statistic (eq. 17) in eq. 24, and its "
              "central claim (not a claim of the paper)",
    "extended": "Extended checks, beyond the paper (each statement says its own scope)",
}
"""The report's groups, in the order it prints them: the one source of their names and titles."""
CLAIM_SECONDS = 5
"""How long SymPy may work on one claim for one f before the claim is UNDECIDED."""
CLAIMS_SECONDS = 15
"""How long all the claims for one f may take together (the rest are then UNDECIDED)."""
# A claim about no particular f that runs the engine (minimisers, several f) may say how long it
# may take in a ``seconds`` attribute; it then runs under that limit instead of CLAIM_SECONDS.
CENTRAL_PER_RESPONSE = "eq. 24 minimiser is the eq. 22 optimum, per-response statistic"
CENTRAL_PAPER = "eq. 24 minimiser is the eq. 22 optimum, paper statistic (eq. 23)"
CENTRAL_CLAIMS: tuple[str, ...] = (CENTRAL_PER_RESPONSE, CENTRAL_PAPER)
"""The central claim (Algorithm 1 solves eq. 22), once per form of the statistic: the repair's
(eq. 17, group "repair") and the paper's (eq. 23, group "paper")."""

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

_pw, _pl, _qw, _ql = sp.symbols("pi_w pi_l piref_w piref_l", positive=True)
_beta, _z = sp.symbols("beta z", positive=True)
_x, _s = sp.symbols("x s", real=True)
_P = sp.Symbol("pi", positive=True)
_Q = sp.Symbol("pi_ref", positive=True)
_R = sp.Rational

EXAMPLE = ExactProblem(
    pi_ref=(_R(1, 6), _R(1, 3), _R(1, 2)),
    mu=(_R(1, 3),) * 3,
    prefs=((_R(1, 2), _R(2, 5), _R(1, 5)), (_R(3, 5), _R(1, 2), _R(3, 10)),
           (_R(4, 5), _R(7, 10), _R(1, 2))),
    beta=_R(1, 2),
)
"""The central claim's worked instance: 3 actions, rational p*, μ uniform, β = 1/2, Ψ = id."""
BT_EXAMPLE = exact_bradley_terry((_R(0), _R(1, 2), _R(2)), EXAMPLE.pi_ref, _R(1, 2))
"""Proposition 3.2's worked instance: Bradley–Terry with rewards (0, 1/2, 2), Ψ = logit."""
CYCLIC_EXAMPLE = ExactProblem(
    EXAMPLE.pi_ref, (_R(1, 3),) * 3,
    ((_R(1, 2), _R(4, 5), _R(1, 5)), (_R(1, 5), _R(1, 2), _R(4, 5)),
     (_R(4, 5), _R(1, 5), _R(1, 2))),
    _R(1, 2), "logit")
"""Rock–paper–scissors preferences: no reward r gives them by Bradley–Terry."""


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one statement, for one divergence or for none.

    ``group`` says whether the paper makes the statement ("paper") or it is a check beyond the
    paper ("extended"); ``scope`` the f (or setting) it is stated for. ``counterexample`` holds
    the numbers that refute a REFUTED statement; ``witness`` those that prove a PROVEN "differs"
    statement or illustrate a proof.
    """

    claim: str
    reference: str
    divergence: str | None
    status: Status
    statement: str
    detail: str
    counterexample: dict[str, str] | None = None
    group: Group = "paper"
    scope: str = ""
    witness: dict[str, str] | None = None


@dataclass(frozen=True)
class _Claim:
    """What a result needs besides its verdict: name, reference, statement, group and scope."""

    name: str
    reference: str
    statement: str
    group: Group
    scope: str

    def result(self, div: str | None, status: Status, detail: str,
               counterexample: dict[str, str] | None = None,
               witness: dict[str, str] | None = None) -> ClaimResult:
        return ClaimResult(self.name, self.reference, div, status, self.statement, detail,
                           counterexample, self.group, self.scope, witness)


F = TypeVar("F", bound=Callable[..., object])


def _about(claim: _Claim, needs: tuple[Condition, ...] = (),
           reverse_kl: bool | None = None) -> Callable[[F], F]:
    """Attach ``claim`` to the function that decides it (so a failure can still name it).

    The claim's scope is checked here, once for every claim: the function runs only where the
    conditions ``needs`` hold symbolically (else NOT APPLICABLE or UNDECIDED, :func:`_outside`)
    and, with ``reverse_kl`` True (False), only on reverse KL (only on other f); elsewhere it
    gives None: no line.
    """

    def attach(fn: F) -> F:
        if not needs and reverse_kl is None:  # a claim about no particular f
            fn.about = claim  # type: ignore[attr-defined]
            return fn

        @functools.wraps(fn)
        def decide(d: Derivation) -> ClaimResult | None:
            if reverse_kl is not None and _on_reverse_kl(d) != reverse_kl:
                return None
            return _outside(claim, d, needs) or fn(d)

        decide.about = claim  # type: ignore[attr-defined]
        return decide  # type: ignore[return-value]

    return attach


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def _vanishes(expr: sp.Expr) -> bool:
    """Whether SymPy simplifies ``expr`` to 0 (trying log expansion too)."""
    for candidate in (expr, sp.expand_log(expr, force=True)):
        if sp.simplify(candidate) == 0:
            return True
    return sp.simplify(sp.expand_log(sp.simplify(expr), force=True)) == 0


Point = dict[sp.Symbol, sp.Expr]


def _values(lhs: sp.Expr, rhs: sp.Expr, point: Point) -> tuple[sp.Float, sp.Float] | None:
    with mpmath.workdps(30):
        a, b = sp.N(lhs.subs(point), 25), sp.N(rhs.subs(point), 25)
    return (a, b) if a.is_real and b.is_real else None


def _witness(lhs: sp.Expr, rhs: sp.Expr,
             points: list[Point]) -> tuple[Point, sp.Float, sp.Float] | None:
    """The first point at which the two sides differ numerically, with both values."""
    for point in points:
        values = _values(lhs, rhs, point)
        if values is not None and abs(values[0] - values[1]) > 1e-12 * max(1, abs(values[1])):
            return point, *values
    return None


def _example(point: Point, a: sp.Float, b: sp.Float) -> dict[str, str]:
    example = {str(k): str(v) for k, v in point.items()}
    example.update({"left side": f"{float(a):.10g}", "right side": f"{float(b):.10g}"})
    return example


def _decide(claim: _Claim, div: str | None, lhs: sp.Expr, rhs: sp.Expr, points: list[Point],
            proof: str) -> ClaimResult:
    """PROVEN if lhs − rhs simplifies to 0, REFUTED at a differing point, else UNDECIDED."""
    if _vanishes(lhs - rhs):
        return claim.result(div, "PROVEN", proof)
    found = _witness(lhs, rhs, points)
    if found is None:
        return claim.result(div, "UNDECIDED", "SymPy could not simplify the difference to 0, "
                            "and it vanished at every test point")
    point, a, b = found
    return claim.result(div, "REFUTED", f"the two sides differ: {float(a):.6g} != {float(b):.6g}",
                        counterexample=_example(point, a, b))


def _differs(claim: _Claim, div: str | None, lhs: sp.Expr, rhs: sp.Expr,
             points: list[Point]) -> ClaimResult:
    """A statement "lhs differs from rhs": PROVEN at a witness point, REFUTED if they are equal."""
    found = _witness(lhs, rhs, points)
    if found is not None:
        point, a, b = found
        return claim.result(div, "PROVEN", f"they differ: {float(a):.6g} != {float(b):.6g}",
                            witness=_example(point, a, b))
    if _vanishes(lhs - rhs):
        return claim.result(div, "REFUTED", "the two sides are identical (SymPy simplifies their "
                            "difference to 0)")
    return claim.result(div, "UNDECIDED", "no test point separates the two sides, and SymPy "
                        "could not simplify their difference to 0")


def _outside(claim: _Claim, d: Derivation,
             conditions: tuple[Condition, ...]) -> ClaimResult | None:
    """NOT APPLICABLE (a condition fails) or UNDECIDED (one is undecided, or only checked on a
    grid) when ``conditions`` do not all hold symbolically; None when they do."""
    label = d.divergence.label
    failed = d.failure(conditions)
    if failed is not None and failed.method != "undecided":
        literal = ("; this reads Theorem 3.1's '0 not in dom f'' as f'(0+) = -oo: read "
                   "literally it admits this f, see the full report's extended check of Pearson "
                   "chi^2 under that reading"
                   if failed.condition is Condition.INFINITE_AT_ZERO else "")
        return claim.result(label, "NOT APPLICABLE", f"outside the scope: {failed.name} fails "
                            f"({failed.detail}){literal}")
    if failed is not None:
        return claim.result(label, "UNDECIDED", f"{failed.name} could not be decided "
                            f"({failed.detail})")
    numeric = next((c for c in d.checks if c.condition in conditions and c.method == "numeric"),
                   None)
    if numeric is not None:
        return claim.result(label, "UNDECIDED", f"{numeric.name} holds only on a grid of u "
                            f"({numeric.detail}), not symbolically")
    return None


ADMISSIBLE: tuple[Condition, ...] = tuple(Condition)
"""Every condition of Theorem 3.1 (those of the optimum and f'(0+) = −∞)."""
DIFFERENTIABLE: tuple[Condition, ...] = (Condition.DIFFERENTIABLE,)


# ---- Claims that hold for no particular divergence -------------------------------------------


@_about(_Claim("logit(sigma(z)) = z", "Proposition 3.2",
               "log(s/(1-s)) with s = 1/(1+exp(-z)) is z", "paper", "for every real z"))
def logit_inverts_sigmoid() -> ClaimResult:
    """Proposition 3.2's first step: logit(σ(z)) = z for real z."""
    claim = logit_inverts_sigmoid.about
    lhs = sp.log(_sigmoid(_x) / (1 - _sigmoid(_x)))
    return _decide(claim, None, lhs, _x, [{_x: _R(3, 7)}], "simplifies to z for every real z")


@_about(_Claim("JS derivative f'(u) = log(2u/(1+u))", "Section 5.1",
               "d/du [u log u - (u+1) log((u+1)/2)] = log(2u/(1+u))", "paper", "for JS"))
def js_derivative() -> ClaimResult:
    """The paper's JS derivative (Section 5.1): f'(u) = log(2u/(1+u))."""
    claim = js_derivative.about
    d = derive(get_divergence("js"))
    return _decide(claim, "js", sp.diff(d.f, U), sp.log(2 * U / (1 + U)), [{U: _R(1, 3)}],
                   "SymPy's derivative of the paper's f simplifies to log(2u/(1+u))")


@_about(_Claim("eq. 26 is eq. 24 with the JS f'", "eqs. (23), (24), (26)",
               "(f'(pi_w/pi_l) - f'(piref_w/piref_l) - 1/(2 beta))^2 with f' = log(2u/(1+u)) "
               "is eq. 26", "paper", "for JS"))
def eq26_is_eq24_with_js() -> ClaimResult:
    """eq. (26) is eq. (24) with the paper form (23) and the JS f'."""
    claim = eq26_is_eq24_with_js.about
    d = derive(get_divergence("js"))
    a, b = _pw / _pl, _qw / _ql
    eq24 = (d.f1.subs(U, a) - d.f1.subs(U, b) - 1 / (2 * _beta)) ** 2
    eq26 = (sp.log(2 * a / (a + 1)) - sp.log(2 * b / (b + 1)) - 1 / (2 * _beta)) ** 2
    pt = {_pw: _R(1, 2), _pl: _R(1, 5), _qw: _R(1, 3), _ql: _R(1, 4), _beta: _R(1, 10)}
    return _decide(claim, "js", eq24, eq26, [pt], "the integrands coincide identically")


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
        tau = 1 / (2 * _beta)
        loss = sum(2 * mu[i] * mu[j] * p[i][j] * (v[i] - v[j] - tau) ** 2  # the engine's weights
                   for i in range(k) for j in range(k))
        psibar = [sum(mu[j] * p[i][j] for j in range(k)) for i in range(k)]
        at = {v[i]: psibar[i] / _beta + c for i in range(k)}
        normalised = {mu[-1]: 1 - sum(mu[:-1])}
        gradient = [sp.expand(sp.diff(loss, v[i]).subs(at).subs(normalised)) for i in range(k)]
        hessian = sp.hessian(loss, v)
        e = sp.eye(k)
        stated = sum((4 * mu[i] * mu[j] * (e[:, i] - e[:, j]) * (e[:, i] - e[:, j]).T
                      for i, j in itertools.combinations(range(k), 2)), sp.zeros(k, k))
        as_stated = sp.expand(hessian - stated) == sp.zeros(k, k)
        laplacian = as_stated and all(sp.diff(hessian, s) == sp.zeros(k, k)
                                      for s in (*upper.values(), _beta))
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


def _central(name: str, scope: str) -> _Claim:
    """The central claim for one form: the paper's (eq. 23, group "paper") or the repair's
    (eq. 17 in eq. 24, group "repair": the project's, not the paper's)."""
    if name == CENTRAL_PER_RESPONSE:
        return _Claim(name, "eqs. (17), (22), (24); the project's repair of Algorithm 1",
                      "the policy that minimises the IUPO loss (eq. 24) with the per-response "
                      "statistic f'(pi(y_w)/piref(y_w)) - f'(pi(y_l)/piref(y_l)) (eq. 17) in "
                      "place of eq. 23 is the IUPO optimum pi* of eq. 22", "repair", scope)
    return _Claim(name, "eqs. (22), (23), (24), (26), Algorithm 1",
                  "the policy that minimises the IUPO loss (eq. 24) with the statistic "
                  "f'(pi(y_w)/pi(y_l)) - f'(piref_w/piref_l) (eq. 23) is the IUPO optimum pi* of "
                  "eq. 22", "paper", scope)


@_about(_central(CENTRAL_PER_RESPONSE, "for every admissible f and every K (mu with full "
                 "support)"))
def per_response_minimiser_is_optimum_for_every_f() -> ClaimResult:
    """The central claim for the per-response statistic, for every admissible f at once."""
    claim = per_response_minimiser_is_optimum_for_every_f.about
    ok, detail = _quadratic_loss_certificate()
    if not ok:
        return claim.result(None, "UNDECIDED", detail)
    return claim.result(None, "PROVEN", detail + "; with Theorem 3.1, c = -lambda/beta is the "
                        "only c whose policy sums to 1, so pi* is the unique minimiser")


@_about(_Claim("Bradley-Terry: Psibar(y) - Psibar(y') = r(y) - r(y')", "Proposition 3.2",
               "with p*(y > y') = sigma(r(y) - r(y')) and Psi = logit, Psibar(y) = "
               "E_{y'~mu} Psi(p*(y > y')) = r(y) - E_mu r, for every mu", "paper",
               "for Bradley-Terry p*, Psi = logit"))
@functools.lru_cache(maxsize=1)  # Prop. 3.2's check for every f stands on it
def bradley_terry_reward_gaps() -> ClaimResult:
    """Proposition 3.2's Bradley–Terry step: Ψ̄(y) − Ψ̄(y') = r(y) − r(y') for Ψ = logit."""
    claim = bradley_terry_reward_gaps.about
    mu1, mu2 = sp.symbols("mu1 mu2", positive=True)
    r = sp.symbols("r1:4", real=True)
    mu = (mu1, mu2, 1 - mu1 - mu2)

    def psibar(i: int) -> sp.Expr:
        return sum(m * sp.log(_sigmoid(r[i] - r[j]) / (1 - _sigmoid(r[i] - r[j])))
                   for j, m in enumerate(mu))

    lhs = sp.Matrix([psibar(0) - psibar(1), psibar(0) - psibar(2)])
    rhs = sp.Matrix([r[0] - r[1], r[0] - r[2]])
    if all(_vanishes(e) for e in lhs - rhs):
        return claim.result(None, "PROVEN", "logit(sigma(x)) = x makes Psibar(y_i) = r_i - "
                            "sum_j mu_j r_j (SymPy, 3 actions, symbolic mu and r)")
    return claim.result(None, "UNDECIDED", "SymPy could not simplify the difference to 0")


@_about(_Claim("f-DPO likelihood at the optimum without Bradley-Terry",
               "Proposition 3.2; beyond the paper",
               "for non-Bradley-Terry p* the logit-UPO optimum still satisfies "
               "sigma(beta f'(u*_w) - beta f'(u*_l)) = p*(y_w > y_l)", "extended",
               "for cyclic (rock-paper-scissors) p*, every admissible f"))
def likelihood_without_bradley_terry() -> ClaimResult:
    """Proposition 3.2's conclusion fails for preferences that are not Bradley–Terry."""
    claim = likelihood_without_bradley_terry.about
    # Psibar(y_i) = (logit(4/5) + logit(1/5) + logit(1/2)) / 3 = 0 for each i, so pi* = pi_ref
    # for every f (eq. 16 with equal Psibar), and the model's likelihood is sigma(0) = 1/2.
    psibar = [sum(sp.log(p / (1 - p)) for p in row) / 3 for row in CYCLIC_EXAMPLE.prefs]
    if not all(sp.simplify(value) == 0 for value in psibar):
        return claim.result(None, "UNDECIDED", "Psibar of the cyclic example is not constant")
    example = {**CYCLIC_EXAMPLE.describe(), "Psibar": "0, 0, 0", "pi*": "pi_ref (every f)",
               "sigma(beta f'(u*_1) - beta f'(u*_2))": "1/2", "p*(y_1 > y_2)": "4/5"}
    return claim.result(None, "REFUTED", "Psibar is constant, so pi* = pi_ref and the f-DPO "
                        "likelihood is 1/2 for every pair, while p*(y_1 > y_2) = 4/5: "
                        "Proposition 3.2 needs Bradley-Terry", counterexample=example)


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
    second = [sp.diff(fprime(_x), _x).subs(_x, u[i]) for i in range(k)]
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
    loss = sum(2 * mu[i] * mu[j] * p[i][j] * (v[i] - v[j] - 1 / (2 * _beta)) ** 2
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


@_about(_Claim("no spurious stationary points in the logits", "eqs. (17), (24); the project's "
               "repair", "for the per-response loss L(softmax(theta)), grad_theta L = 0 only at "
               "pi*: grad_theta L = (I - pi 1^T) D grad_v L with D = diag(f''(u) u) > 0 and "
               "1^T grad_v L = 0, so grad_v L = 0", "repair",
               "for every admissible f with f'' > 0 on (0, oo) (every registered admissible f)"))
def no_spurious_theta_stationary_points() -> ClaimResult:
    """Step 4 of the central claim (module docs): a stationary θ is π*, so gradient descent in
    the logits has no other resting point. SymPy's certificate, f'' > 0 for each registered
    admissible f, and the engine's gradient against (I − π1ᵀ) D ∇_vL at random θ."""
    claim = no_spurious_theta_stationary_points.about
    ok, detail = _logit_certificate()
    if not ok:
        return claim.result(None, "UNDECIDED", detail)
    admissible = [derive(div) for div in registered() if derive(div).admissible]
    positive = [d.divergence.label for d in admissible if sp.simplify(d.f2).is_positive]
    unsure = [d.divergence.label for d in admissible if d.divergence.label not in positive]
    if unsure:
        return claim.result(None, "UNDECIDED", f"SymPy could not show f'' > 0 for {unsure}")
    rng = np.random.default_rng(2024)
    gap = max(_theta_gradient_gap(d, rng) for d in admissible)
    return claim.result(None, "PROVEN", detail + "; f'' > 0 on (0, oo) (SymPy) for " + ", ".join(
        positive) + "; so a stationary theta has grad_v L = 0, and pi = pi* (steps 1-3)",
        witness={"largest |engine grad_theta L - (I - pi 1^T) D grad_v L|, random theta, K = 6":
                 f"{gap:.1e}"})


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


@_about(_Claim("per-response minimiser is pi* on random problems up to K = 50",
               "eqs. (17), (22), (24); the project's repair",
               "the engine's minimiser of the per-response loss equals pi* (total variation "
               "< 1e-8) on random problems with K = 5 to 50 actions", "repair",
               "for the seeded random problems listed (a numerical check of the general-K "
               "argument, not a proof)"))
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
                            witness=witness)
    return claim.result(None, "REFUTED", "the minimiser is not pi* on a listed problem",
                        counterexample=witness)


per_response_minimiser_at_large_k.seconds = 30  # type: ignore[attr-defined]

PEARSON_EXAMPLE = ExactProblem(EXAMPLE.pi_ref, EXAMPLE.mu, EXAMPLE.prefs, _R(1, 20))
""":data:`EXAMPLE` at β = 1/20, where Pearson χ²'s optimum has zeros."""


@_about(_Claim("Pearson chi^2 under the literal reading of '0 not in dom f'' (Theorem 3.1)",
               "Theorem 3.1; beyond the paper",
               "read literally (dom f' = (0, oo), so '0 not in dom f'' holds for every f), the "
               "theorem admits Pearson chi^2 (f' = 2(u - 1), invertible); its conclusion, "
               "pi* = pi_ref (f')^-1((Psibar - lambda)/beta) with full support, then holds",
               "extended", "for Pearson chi^2, dom f' read as (0, oo)"))
def pearson_under_the_literal_reading() -> ClaimResult:
    """What the literal reading of Theorem 3.1's "0 ∉ dom f'" does to Pearson χ².

    The report reads the condition as f'(0+) = −∞ (Pearson: f'(0+) = −2, NOT APPLICABLE). Read
    literally, every f on (0, ∞) meets it and Pearson is in scope; but on :data:`EXAMPLE` at
    β = 1/20 the KKT point (exact, in rationals) is π* = (0, 0, 1) with λ = 17/30 and η ≥ 0,
    while the theorem's formula normalised gives π(y_1) = −5/36 < 0. The per-response loss has
    then no minimiser (the engine's L-BFGS drives π(y_1) to 0, towards a point that is not π*),
    and the paper form's minimiser is interior.
    """
    claim = pearson_under_the_literal_reading.about
    ex, q = PEARSON_EXAMPLE, PEARSON_EXAMPLE.pi_ref
    psibar = [sum(m * p for m, p in zip(ex.mu, row, strict=True)) for row in ex.prefs]
    lam = psibar[2] - ex.beta * 2 * (1 / q[2] - 1)  # y_3 alone carries mass 1
    eta = [ex.beta * -2 - psibar[i] + lam for i in range(2)]  # beta inf f' - Psibar + lambda
    if not (all(e >= 0 for e in eta) and q[2] * (1 + (psibar[2] - lam) / (2 * ex.beta)) == 1):
        return claim.result("pearson", "UNDECIDED", "the exact KKT point is not (0, 0, 1)")
    full = sum(qi * p for qi, p in zip(q, psibar, strict=True))  # lambda of the formula
    formula = [qi * (1 + (p - full) / (2 * ex.beta)) for qi, p in zip(q, psibar, strict=True)]
    divergence = get_divergence("pearson")
    star = upo_optimum(ex.problem, divergence, "identity").policy[0]
    runs = {form: minimise(population_loss(LossSpec("identity", divergence, form), ex.problem),
                           gtol=1e-10) for form in ("per_response", "paper")}
    per, paper = runs["per_response"], runs["paper"]
    return claim.result("pearson", "REFUTED", "pi* has zeros", counterexample={
        **ex.describe(), "pi* (exact KKT)": "0, 0, 1", "lambda": str(lam),
        "eta(y_1), eta(y_2)": f"{eta[0]}, {eta[1]}",
        "the formula with full support": ", ".join(map(str, formula)),
        "pi* (engine)": _show(star),
        "per-response loss": f"no minimiser (converged = {per.converged}): pi(y_1) -> 0, "
                             f"towards {_show(per.policy[0])}, total variation "
                             f"{float(total_variation(per.policy, star[None])[0]):.3g} from pi*",
        "paper-form minimiser": _show(paper.policy[0])})


ANTISYMMETRIC_F = "u*log(u) + u**2/2 - u - log(u) + 1/2"
"""An admissible f with f'(u) = log u + u − 1/u: f'(e^s) = s + 2 sinh s is odd."""


@_about(_Claim("antisymmetry does not rescue the paper form", "eq. (23); beyond the paper",
               "for f = u log u + u^2/2 - u - log u + 1/2 (f' = log u + u - 1/u, admissible), "
               "the paper statistic is antisymmetric in (y_w, y_l), and yet the minimiser of "
               "the paper form's loss is not pi*", "extended",
               "for f' = log u + u - 1/u, on the three-action example"))
def antisymmetry_does_not_rescue_the_paper_form() -> ClaimResult:
    """An admissible f outside the registry whose paper statistic is antisymmetric (g(s) =
    f'(e^s) odd), for which the paper form still misses π*: antisymmetry is not the point,
    being a difference of one function of each response is (:func:`forms_equal`)."""
    claim = antisymmetry_does_not_rescue_the_paper_form.about
    d = derive(get_divergence(ANTISYMMETRIC_F))
    if not (d.admissible and _vanishes(d.f1 - (sp.log(U) + U - 1 / U))):
        return claim.result(None, "UNDECIDED", "f is not admissible with that f'")
    antisymmetric, forms = paper_form_antisymmetric(d), forms_equal(d)
    if antisymmetric.status != "PROVEN" or forms.status != "REFUTED":
        return claim.result(None, "UNDECIDED", "SymPy could not settle antisymmetry "
                            "and the forms' difference")
    pi, found, gradient = _central_instance(d, LossSpec("identity", d.divergence, "paper"))
    numbers = {**EXAMPLE.describe(), "pi*": _show(pi), "paper-form minimiser": _show(found),
               "|gradient of eq. 24 at pi*|": f"{gradient:.3g}",
               "total variation": f"{float(total_variation(found, pi)):.3g}"}
    if gradient <= 1e-6:
        return claim.result(None, "REFUTED", "the gradient at pi* vanishes",
                            counterexample=numbers)
    return claim.result(None, "PROVEN", "f is admissible (SymPy); f'(e^s) + f'(e^-s) "
                        "= 0, so the paper statistic is antisymmetric (SymPy); the two forms "
                        f"differ ({forms.detail}); the paper form's gradient at pi* is "
                        f"{gradient:.3g}, not 0", witness=numbers)


antisymmetry_does_not_rescue_the_paper_form.seconds = 30  # type: ignore[attr-defined]


# ---- Claims per divergence -------------------------------------------------------------------


@_about(_Claim("stationarity d/dpi [pi_ref f(pi/pi_ref)] = f'(pi/pi_ref)",
               "Theorem 3.1, eq. (14)",
               "the derivative of the divergence term in pi(y) is f'(pi(y)/pi_ref(y))",
               "paper", "for every differentiable f"), needs=DIFFERENTIABLE)
def stationarity(d: Derivation) -> ClaimResult:
    """Theorem 3.1, eq. (14): ∂/∂π [π_ref f(π/π_ref)] = f'(π/π_ref)."""
    claim = stationarity.about
    lhs = sp.diff(_Q * d.f.subs(U, _P / _Q), _P)
    return _decide(claim, d.divergence.label, lhs, d.f1.subs(U, _P / _Q),
                   [{_P: _R(1, 3), _Q: _R(1, 2)}], "chain rule; simplifies to 0")


@_about(_Claim("Theorem 3.1: pi* = pi_ref (f')^-1((Psibar - lambda)/beta) is the unique "
               "maximiser", "Theorem 3.1, eqs. (12)-(16)",
               "the objective of eq. 11 is strictly concave, its maximiser has full support "
               "(eta = 0), lambda exists and is unique, and pi* solves beta f'(pi*/pi_ref) = "
               "Psibar - lambda", "paper",
               "for admissible f (f' invertible, 0 not in dom f')"), needs=ADMISSIBLE)
@functools.lru_cache(maxsize=64)
def theorem_3_1(d: Derivation) -> ClaimResult:
    """Theorem 3.1 with a certificate that the KKT point is the unique maximiser of eq. (11).

    1. f'' ≥ 0 and f' strictly increasing (symbolic): f strictly convex, so the objective
       Σ π Ψ̄ − β Σ π_ref f(π/π_ref) is strictly concave on the simplex; with linear constraints
       the KKT conditions are sufficient and the maximiser is unique.
    2. f'(0+) = −∞ (symbolic limit): the objective's slope towards any y with π(y) = 0 is +∞, so
       the maximiser has full support and η ≡ 0 (eq. 15 → eq. 16).
    3. f' is a continuous increasing bijection (0, ∞) → (−∞, sup f'), so (f')⁻¹ exists;
       f'((f')⁻¹(y)) = y is checked symbolically where SymPy finds a closed form (a closed form
       that fails it refutes the claim as the paper writes it; one SymPy cannot simplify is
       reported as checked at test points only).
    4. λ exists and is unique: S(λ) = Σ π_ref (f')⁻¹((Ψ̄ − λ)/β) is continuous and strictly
       decreasing on (max Ψ̄ − β sup f', ∞), tends to 0 as λ → ∞ ((f')⁻¹(y) → 0 as y → −∞) and
       to ∞ as λ → max Ψ̄ − β sup f' ((f')⁻¹(y) → ∞ as y → sup f'); it crosses 1 once.

    The detail reports the instance :data:`EXAMPLE`: λ and Σ π* − 1.
    """
    claim = theorem_3_1.about
    label = d.divergence.label
    steps = ["f'' >= 0 and f' strictly increasing: strictly concave objective, KKT sufficient, "
             "maximiser unique", "f'(0+) = -oo: full support, eta = 0"]
    steps.append("(f')^-1 exists: f' is a continuous increasing bijection onto (-oo, sup f')")
    if d.inverse is not None:
        y = d.sup_f1 - _z if d.sup_f1.is_finite else _x
        composed = _decide(claim, label, d.f1.subs(U, d.inverse.subs(Y, y)), y,
                           [{_z: _R(1, 2), _x: _R(-1, 3)}], "")
        if composed.status == "REFUTED":
            return composed
        steps.append("its closed form satisfies f'((f')^-1(y)) = y for y < sup f' "
                     + ("(SymPy)" if composed.status == "PROVEN" else "(at test points)"))
    optimum = _optimum(d, EXAMPLE)
    pi, lam = optimum.policy[0], float(optimum.lam[0])
    steps.append("S(lambda) strictly decreasing from oo to 0: lambda unique")
    return claim.result(label, "PROVEN", "; ".join(steps), witness={
        **EXAMPLE.describe(), "lambda": f"{lam:.12g}", "sum pi* - 1": f"{pi.sum() - 1:.1e}",
        "pi*": _show(pi)})


@_about(_Claim("logit-UPO optimum gives the f-DPO likelihood",
               "Proposition 3.2, eqs. (18)-(21)",
               "with p*(y > y') = sigma(r(y) - r(y')) and Psi = logit, the UPO optimum has "
               "sigma(beta f'(u*_w) - beta f'(u*_l)) = p*(y_w > y_l): its likelihood is "
               "eq. 5", "paper", "for admissible f, Psi = logit, Bradley-Terry p*"),
        needs=ADMISSIBLE)
def fdpo_likelihood(d: Derivation) -> ClaimResult:
    """Proposition 3.2: Ψ = logit with Bradley–Terry p* gives the f-DPO likelihood (eq. 5/21)."""
    claim = fdpo_likelihood.about
    label = d.divergence.label
    bt, theorem = bradley_terry_reward_gaps(), theorem_3_1(d)
    if bt.status != "PROVEN" or theorem.status != "PROVEN":
        return claim.result(label, "UNDECIDED", "needs Theorem 3.1 and the Bradley-Terry step")
    pi = _optimum(d, BT_EXAMPLE).policy[0]
    gap = likelihood_gap(kernel_for(d.divergence), BT_EXAMPLE, pi)
    return claim.result(label, "PROVEN", "eq. 16 gives beta f'(u*_w) - beta f'(u*_l) = "
                        "Psibar(y_w) - Psibar(y_l) (Theorem 3.1), which is r_w - r_l under "
                        "Bradley-Terry; so the likelihood is sigma(r_w - r_l) = p*",
                        witness={"rewards": "0, 1/2, 2", **BT_EXAMPLE.describe(),
                                 "pi*": _show(pi), "largest |likelihood - p*|": f"{gap:.1e}"})


def _on_reverse_kl(d: Derivation) -> bool:
    return d.divergence.name == "rkl"


_LOG_POINTS = [
    {_pw: _R(1, 2), _pl: _R(1, 4), _qw: _R(1, 4), _ql: _R(1, 4)},
    {_pw: _R(1, 3), _pl: _R(1, 9), _qw: _R(1, 5), _ql: _R(1, 2)},
]


def _paper_statistic(d: Derivation, w: sp.Expr = _pw, l: sp.Expr = _pl, rw: sp.Expr = _qw,
                     rl: sp.Expr = _ql) -> sp.Expr:
    """eq. (23): f'(π(y_w)/π(y_l)) − f'(π_ref(y_w)/π_ref(y_l))."""
    return d.f1.subs(U, w / l) - d.f1.subs(U, rw / rl)


def _per_response_statistic(d: Derivation, w: sp.Expr = _pw, l: sp.Expr = _pl,
                            rw: sp.Expr = _qw, rl: sp.Expr = _ql) -> sp.Expr:
    """The KKT form (eq. 17): f'(π(y_w)/π_ref(y_w)) − f'(π(y_l)/π_ref(y_l))."""
    return d.f1.subs(U, w / rw) - d.f1.subs(U, l / rl)


_H = sp.log(_pw / _pl) - sp.log(_qw / _ql)
"""IPO's h (eq. 9)."""


@_about(_Claim("f-DPO (eq. 5) is DPO (eq. 4)", "eqs. (4), (5)",
               "-log sigma(beta f'(pi_w/piref_w) - beta f'(pi_l/piref_l)) = DPO's loss",
               "paper", "for reverse KL"), reverse_kl=True)
def fdpo_is_dpo(d: Derivation) -> ClaimResult | None:
    """eq. (5) → eq. (4): f-DPO's loss equals DPO's, for reverse KL (listed for it alone)."""
    return _decide(fdpo_is_dpo.about, d.divergence.label, *_fdpo_and_dpo(d),
                   "f'(u) = log u + 1: the constants cancel in the difference")


def _fdpo_and_dpo(d: Derivation) -> tuple[sp.Expr, sp.Expr, list[Point]]:
    """f-DPO's loss (eq. 5), DPO's (eq. 4) and the points (β = 1/10) they are compared at."""
    fdpo = -sp.log(_sigmoid(_beta * _per_response_statistic(d)))
    dpo = -sp.log(_sigmoid(_beta * _H))
    return fdpo, dpo, [{**p, _beta: _R(1, 10)} for p in _LOG_POINTS]


@_about(_Claim("IUPO statistic (eq. 23) is IPO's h (eq. 9)", "Proposition 4.1",
               "f'(pi_w/pi_l) - f'(piref_w/piref_l) = log(pi_w/pi_l) - log(piref_w/piref_l)",
               "paper", "for reverse KL"), reverse_kl=True)
def iupo_is_ipo(d: Derivation) -> ClaimResult | None:
    """Proposition 4.1: the IUPO statistic (eq. 23) is IPO's h (eq. 9), for reverse KL."""
    claim = iupo_is_ipo.about
    return _decide(claim, d.divergence.label, _paper_statistic(d), _H, _LOG_POINTS,
                   "f'(u) = log u + 1, so the statistic is h (eq. 25)")


def _optimum(d: Derivation, example: ExactProblem) -> OptimumResult:
    """π* of Theorem 3.1 on a worked instance, by the engine's KKT solve."""
    return upo_optimum(example.problem, d.divergence, example.psi)


def _central_instance(d: Derivation, spec: LossSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """(π*, the loss's minimiser, ‖∂L/∂θ‖ at π*) on :data:`EXAMPLE`, policies of shape (K,);
    L is eq. 24's expectation over the population of pairs."""
    pi = _optimum(d, EXAMPLE).policy
    loss = population_loss(spec, EXAMPLE.problem)
    found = minimise(loss, gtol=1e-13).policy
    return pi[0], found[0], gradient_norm_at(loss, pi)


@_about(_central(CENTRAL_PER_RESPONSE, "for admissible f (mu with full support)"), needs=ADMISSIBLE)
def per_response_minimiser_is_optimum(d: Derivation) -> ClaimResult:
    """The central claim, per-response statistic, for this f (the general proof applies)."""
    claim = per_response_minimiser_is_optimum.about
    general = per_response_minimiser_is_optimum_for_every_f()
    if general.status != "PROVEN":
        return claim.result(d.divergence.label, "UNDECIDED", general.detail)
    spec = LossSpec("identity", d.divergence, "per_response")
    pi, found, gradient = _central_instance(d, spec)
    return claim.result(d.divergence.label, "PROVEN", "f is admissible, so the general proof "
                        "applies (see the result for every admissible f)", witness={
                            **EXAMPLE.describe(), "pi*": _show(pi), "minimiser": _show(found),
                            "|gradient of eq. 24 at pi*|": f"{gradient:.1e}",
                            "total variation": f"{float(total_variation(found, pi)):.1e}"})


@_about(_central(CENTRAL_PAPER, "for admissible f, with the statistic as eq. 23 and "
                 "Algorithm 1 write it"), needs=ADMISSIBLE)
def paper_minimiser_is_optimum(d: Derivation) -> ClaimResult:
    """The central claim, paper statistic (eq. 23): refuted by a gradient that is not zero at π*.

    π* is interior and L(softmax(θ)) is smooth, so if π* minimised L its gradient would vanish
    there; a gradient norm far above rounding (≥ 1e-6 against ~1e-15) refutes the claim. The
    minimiser found by the engine and its total variation to π* are reported with it.
    """
    claim = paper_minimiser_is_optimum.about
    label = d.divergence.label
    spec = LossSpec("identity", d.divergence, "paper")
    pi, found, gradient = _central_instance(d, spec)
    numbers = {**EXAMPLE.describe(), "pi* (eq. 22, Theorem 3.1)": _show(pi),
               "minimiser of eq. 24": _show(found),
               "|gradient of eq. 24 at pi*|": f"{gradient:.3g}",
               "total variation": f"{float(total_variation(found, pi)):.3g}"}
    if gradient > 1e-6:
        return claim.result(label, "REFUTED", f"the gradient of the loss at pi* is {gradient:.3g}, "
                            "not 0: pi* is not its minimiser (total variation "
                            f"{total_variation(found, pi):.3g})", counterexample=numbers)
    forms = forms_equal(d)
    if forms.status == "PROVEN":
        return claim.result(label, "PROVEN", "the paper form equals the per-response form for "
                            "this f, whose minimiser is pi*", witness=numbers)
    return claim.result(label, "UNDECIDED", "the gradient at pi* vanishes on the example, but "
                        "the two forms differ", witness=numbers)


def _show(policy: np.ndarray) -> str:
    return ", ".join(f"{p:.10f}" for p in policy)


@_about(_Claim("f-DPO (eq. 5) differs from DPO (eq. 4)", "eqs. (4), (5); beyond the paper",
               "for f other than reverse KL, -log sigma(beta (f'(u_w) - f'(u_l))) is not "
               "DPO's loss (the paper states eq. 5 = eq. 4 for reverse KL only)", "extended",
               "for f other than reverse KL"), needs=DIFFERENTIABLE, reverse_kl=False)
def fdpo_differs_from_dpo(d: Derivation) -> ClaimResult | None:
    """For f other than reverse KL, f-DPO's loss (eq. 5) is not DPO's (eq. 4)."""
    return _differs(fdpo_differs_from_dpo.about, d.divergence.label, *_fdpo_and_dpo(d))


@_about(_Claim("IUPO statistic (eq. 23) differs from IPO's h (eq. 9)",
               "Proposition 4.1; beyond the paper",
               "for f other than reverse KL, f'(pi_w/pi_l) - f'(piref_w/piref_l) is not h "
               "(the paper states it is h for reverse KL only)", "extended",
               "for f other than reverse KL"), needs=DIFFERENTIABLE, reverse_kl=False)
def statistic_differs_from_h(d: Derivation) -> ClaimResult | None:
    """For f other than reverse KL, the eq. (23) statistic is not IPO's h."""
    claim = statistic_differs_from_h.about
    return _differs(claim, d.divergence.label, _paper_statistic(d), _H, _LOG_POINTS)


@_about(_Claim("paper form (eq. 23) = per-response form", "eqs. (17), (23); beyond the paper",
               "f'(pi_w/pi_l) - f'(piref_w/piref_l) = f'(pi_w/piref_w) - f'(pi_l/piref_l) "
               "for all probabilities; true iff f'(e^s) is affine in s", "extended",
               "for every differentiable f"), needs=DIFFERENTIABLE)
def forms_equal(d: Derivation) -> ClaimResult:
    """The paper form (eq. 23) equals the per-response form, iff g(s) = f'(e^s) is affine."""
    claim = forms_equal.about
    paper, per_response = _paper_statistic(d), _per_response_statistic(d)
    # The Cauchy point of the module's proof: p_w = a + b, p_l = b, q_w = q_l = 0 in log space
    # (scaled by 1/20 so that pi_w + pi_l < 1).
    cauchy = {_pw: sp.exp(2) / 20, _pl: sp.exp(1) / 20, _qw: _R(1, 20), _ql: _R(1, 20)}
    result = _decide(claim, d.divergence.label, paper, per_response, [*_LOG_POINTS, cauchy],
                     "f'(e^s) is affine in s, so both forms equal c (t_w - t_l)")
    if result.status == "REFUTED" and sp.simplify(sp.diff(_g(d, _s), _s, 2)) != 0:
        return ClaimResult(**{**result.__dict__, "detail": result.detail
                              + "; f'(e^s) is not affine in s (its second derivative is not 0)"})
    return result


def _g(d: Derivation, s: sp.Expr) -> sp.Expr:
    return d.log_ratio_derivative.subs(T, s)


def _antisymmetry(d: Derivation, statistic: Callable[..., sp.Expr], claim: _Claim,
                  proof: str) -> ClaimResult:
    """Whether swapping y_w and y_l flips the sign of ``statistic``."""
    swapped = statistic(d, _pl, _pw, _ql, _qw)
    return _decide(claim, d.divergence.label, swapped, -statistic(d), _LOG_POINTS, proof)


@_about(_Claim("per-response statistic antisymmetric in (y_w, y_l)",
               "eq. (17); the project's repair", "s(y_l, y_w) = -s(y_w, y_l)", "repair",
               "for every differentiable f"),
        needs=DIFFERENTIABLE)
def per_response_antisymmetric(d: Derivation) -> ClaimResult:
    """The per-response statistic changes sign when y_w and y_l swap."""
    claim = per_response_antisymmetric.about
    return _antisymmetry(d, _per_response_statistic, claim,
                         "the statistic is a difference of the same function at the two responses")


@_about(_Claim("paper-form statistic antisymmetric in (y_w, y_l)",
               "eq. (23); beyond the paper",
               "f'(pi_l/pi_w) - f'(piref_l/piref_w) = -(f'(pi_w/pi_l) - f'(piref_w/piref_l)); "
               "true iff f'(e^s) + f'(e^-s) is constant", "extended",
               "for every differentiable f"), needs=DIFFERENTIABLE)
def paper_form_antisymmetric(d: Derivation) -> ClaimResult:
    """The paper form is antisymmetric iff g(s) + g(−s) is constant."""
    claim = paper_form_antisymmetric.about
    return _antisymmetry(d, _paper_statistic, claim,
                         "f'(e^s) + f'(e^-s) is constant, so the swap flips the sign")


@_about(_Claim("paper form can reach the target 1/(2 beta)", "eq. (24); beyond the paper",
               "for every beta > 0 and pi_ref there is pi with f'(pi_w/pi_l) - "
               "f'(piref_w/piref_l) = 1/(2 beta)", "extended",
               "for convex differentiable f (f' continuous and increasing)"),
        needs=OPTIMUM_CONDITIONS)
def target_reachable(d: Derivation) -> ClaimResult:
    """Can the paper-form statistic reach IUPO's target 1/(2β) (eq. 24) for every β and π_ref?

    Needs only f' continuous and increasing (f convex, differentiable): then f' maps (0, ∞) onto
    (f'(0+), sup f'), so with sup f' = ∞ the value f'(π_ref ratio) + 1/(2β) is taken by some
    ratio π_w/π_l (and any positive ratio is that of two probabilities with π_w + π_l ≤ 1).
    Theorem 3.1's f'(0+) = −∞ plays no part.
    """
    claim = target_reachable.about
    label = d.divergence.label
    if not d.sup_f1.is_finite:
        return claim.result(label, "PROVEN", "sup f' = oo: f'(pi_w/pi_l) takes every value in "
                            "(f'(0+), oo), which holds f'(piref_w/piref_l) + 1/(2 beta)")
    gap = sp.simplify(d.sup_f1 - d.f1.subs(U, 1))
    beta = sp.Rational(1, 2 * (sp.floor(gap) + 2))  # a target 1/(2 beta) above the reach
    example = {
        "beta": str(beta), "piref_w/piref_l": "1", "sup of the statistic": f"{float(gap):.6g}",
        "target 1/(2 beta)": str(1 / (2 * beta)),
        "out of reach where piref_w/piref_l is at least": "(f')^-1(sup f' - 1/(2 beta)), "
                                                          "or 0 where sup f' - 1/(2 beta) <= "
                                                          "f'(0+)",
        **{f"threshold at beta = {b}": _reach_threshold(d, b) for b in REACH_BETAS},
    }
    return claim.result(label, "REFUTED", f"sup f' = {d.sup_f1}: the statistic stays below "
                        f"sup f' - f'(piref_w/piref_l) = {gap} at equal reference probabilities, "
                        f"under the target {1 / (2 * beta)}", counterexample=example)


REACH_BETAS: tuple[sp.Rational, ...] = (_R(1, 10), _R(1, 5), _R(1, 2))
"""The β of the paper's experiment, at which the reach thresholds are reported."""


def _reach_threshold(d: Derivation, beta: sp.Rational) -> str:
    """The smallest π_ref(y_w)/π_ref(y_l) at which the target 1/(2β) is out of the paper
    statistic's reach: sup_r f'(r) − f'(ρ) = sup f' − f'(ρ) ≤ 1/(2β) iff
    ρ ≥ (f')⁻¹(sup f' − 1/(2β)), or every ρ when sup f' − 1/(2β) ≤ f'(0+)."""
    level = d.sup_f1 - 1 / (2 * beta)
    if d.inf_f1 is not None and bool(level <= d.inf_f1):
        return "0 (out of reach for every pi_ref)"
    if d.inverse is None:
        return "no closed-form (f')^-1"
    return f"{float(d.inverse.subs(Y, level)):.3g}"


PerDivergence = Callable[[Derivation], "ClaimResult | None"]
PER_DIVERGENCE: tuple[PerDivergence, ...] = (
    per_response_minimiser_is_optimum,
    paper_minimiser_is_optimum,
    stationarity,
    theorem_3_1,
    fdpo_likelihood,
    fdpo_is_dpo,
    iupo_is_ipo,
    fdpo_differs_from_dpo,
    statistic_differs_from_h,
    forms_equal,
    per_response_antisymmetric,
    paper_form_antisymmetric,
    target_reachable,
)
GENERAL: tuple[Callable[[], ClaimResult], ...] = (
    per_response_minimiser_is_optimum_for_every_f,
    no_spurious_theta_stationary_points,
    per_response_minimiser_at_large_k,
    pearson_under_the_literal_reading,
    antisymmetry_does_not_rescue_the_paper_form,
    logit_inverts_sigmoid,
    bradley_terry_reward_gaps,
    js_derivative,
    eq26_is_eq24_with_js,
    likelihood_without_bradley_terry,
)


def _guarded(claim: Callable[..., ClaimResult | None], *args: Derivation,
             seconds: float | None = None) -> ClaimResult | None:
    """``claim(*args)``, UNDECIDED (never a traceback) when SymPy raises or runs past
    ``seconds`` (default :data:`CLAIM_SECONDS`)."""
    about: _Claim = claim.about  # type: ignore[attr-defined]
    label = args[0].divergence.label if args else None
    seconds = CLAIM_SECONDS if seconds is None else seconds

    def undecided(why: str) -> ClaimResult:
        return about.result(label, "UNDECIDED", why)

    if seconds <= 0:
        return undecided(f"the {CLAIMS_SECONDS} s for this f's claims ran out before this one")
    try:
        outcome = time_limited(lambda: (claim(*args),), seconds)
    except SYMPY_FAILURES as error:
        return undecided(f"SymPy failed: {type(error).__name__}: {' '.join(str(error).split())}"
                         [:200])
    if outcome is None:
        return undecided(f"SymPy ran past {seconds:.3g} s")
    return outcome[0]


def verify_divergence(divergence: Divergence) -> list[ClaimResult]:
    """Every per-divergence claim for one divergence (paper's claims, then extended checks).

    Each claim has :data:`CLAIM_SECONDS`, all of them :data:`CLAIMS_SECONDS`. For a user's f
    they run in a child process with a memory cap (:func:`upo_theory.budget.within_budget`).
    """
    if is_registered(divergence):
        return _ordered(_verify_divergence(divergence))
    return _ordered(within_budget(_verify_divergence, divergence, seconds=CLAIMS_SECONDS + 10,
                                  what=f"the claims for f {divergence.name!r}"))


def _verify_divergence(divergence: Divergence) -> list[ClaimResult]:
    """The per-divergence claims in :data:`PER_DIVERGENCE` order, within a shared deadline."""
    d = derive(divergence)
    deadline = time.monotonic() + CLAIMS_SECONDS
    return [r for claim in PER_DIVERGENCE if (r := _guarded(
        claim, d, seconds=min(CLAIM_SECONDS, deadline - time.monotonic()))) is not None]


def _ordered(results: list[ClaimResult]) -> list[ClaimResult]:
    """The groups in :data:`CLAIM_GROUPS` order (the central claim first in each); else as
    given."""
    groups = list(CLAIM_GROUPS)
    return sorted(results, key=lambda r: (groups.index(r.group), r.claim not in CENTRAL_CLAIMS))


def verify_all(alpha: float | str | None = None) -> list[ClaimResult]:
    """The whole verification report: the paper's claims, the repair, the extended checks."""
    return list(_verify_all(None if alpha is None else str(alpha)))


@functools.lru_cache(maxsize=8)
def _verify_all(alpha: str | None) -> tuple[ClaimResult, ...]:
    results = [r for claim in GENERAL
               if (r := _guarded(claim, seconds=getattr(claim, "seconds", None))) is not None]
    per_divergence = [_verify_divergence(div) for div in registered(alpha)]
    order = {claim.about.name: i for i, claim in enumerate(PER_DIVERGENCE)}  # type: ignore[attr-defined]
    results += sorted((r for rs in per_divergence for r in rs), key=lambda r: order[r.claim])
    return tuple(_ordered(results))
