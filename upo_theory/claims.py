"""The paper's claims, each within the scope the paper gives it, and checks beyond the paper.

Every result has a **group** and a **scope**:

* ``group="paper"``: a claim the paper makes, checked only where the paper makes it (its
  ``scope``: "for reverse KL", "for admissible f", ...). Outside that scope a paper claim is NOT
  APPLICABLE (or, for claims the paper makes for reverse KL alone, not listed for other f).
* ``group="extended"``: a statement of our own beyond the paper, whose text says its own scope
  (e.g. "for f other than reverse KL the eq. 23 statistic differs from h").

A statement is PROVEN when SymPy simplifies the difference of its two sides to 0 under the stated
assumptions (or, for "differs" statements, at a witness point whose values are reported); REFUTED
when a concrete point makes it fail (the point and both values are reported); NOT APPLICABLE when
its hypotheses fail for that divergence (the reason is reported); UNDECIDED wherever SymPy can
neither prove nor refute it, raises, or runs past :data:`CLAIM_SECONDS` — never silently PROVEN,
never a traceback.

The central claim (eqs. 22, 24, Algorithm 1)
--------------------------------------------
*Minimising the IUPO loss gives the IUPO optimum.* With y, y' ~ μ and the winner drawn from p*,
the population loss of a statistic s is L = Σ_{i,j} μ_i μ_j p*(y_i ≻ y_j) (s(y_i, y_j) − τ)²,
τ = 1/(2β) (half the expectation, which counts the draw (y, y') and the draw (y', y): the
engine's :class:`~upo_theory.TableLoss` is that expectation, twice L, with the same minimisers).
For the per-response statistic s = v_i − v_j, v = f'(π/π_ref):

1. L is a quadratic in v with Hessian 4 Σ_{i<j} μ_i μ_j (e_i − e_j)(e_i − e_j)ᵀ, a weighted graph
   Laplacian (p* drops out since p*(y_i ≻ y_j) + p*(y_j ≻ y_i) = 1): positive semi-definite, with
   kernel the constant vectors when μ has full support. So L is convex in v and strictly convex
   across the constants.
2. ∂L/∂v_k = 2 μ_k Σ_j μ_j [(v_k − v_j) − τ (2 p*(y_k ≻ y_j) − 1)], which vanishes at
   v = Ψ̄/β + c for every c, where Ψ̄(y_k) = Σ_j μ_j p*(y_k ≻ y_j) (Ψ = identity), because
   Σ_j μ_j Ψ̄(y_j) = 1/2. Hence the minimisers over v are exactly {Ψ̄/β + c}.
3. Theorem 3.1 (eq. 16): π* has f'(π*/π_ref) = Ψ̄/β − λ/β, i.e. c = −λ/β; and since
   c ↦ Σ π_ref (f')⁻¹(Ψ̄/β + c) is strictly increasing, c = −λ/β is the only c whose policy sums
   to 1. So π* is the unique minimiser of L over policies: the central claim holds for the
   per-response form, for every admissible f.

SymPy checks steps 1 and 2 for K = 3 and 4 with symbolic μ, p*, β, c
(:func:`_quadratic_loss_certificate`). The paper form of eq. (23) is not a difference of one
function of each response, and its minimiser differs from π*: at π* its gradient is not zero
(the tabular engine computes both on :data:`EXAMPLE`, a 3-action problem).

Two forms (proved in :func:`forms_equal`): the paper form and the per-response form agree for all
inputs iff g(s) = f'(e^s) is affine, i.e. f'(u) = c log u + d — reverse KL up to scale and terms
linear in u. (⇐) both forms equal c(t_w − t_l). (⇒) at p_w = a + b, p_l = b, q_w = q_l = 0 in log
space equality reads g(a + b) = g(a) + g(b) − g(0), Cauchy's equation, whose continuous solutions
are affine. The paper form is antisymmetric iff g(s) + g(−s) is constant.
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
from .problem import total_variation
from .table_loss import gradient_norm_at, population_loss

Status = Literal["PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED"]
Group = Literal["paper", "extended"]
CLAIM_STATUSES: tuple[str, ...] = ("PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED")
CLAIM_GROUPS: dict[str, str] = {
    "paper": "The paper's claims, each within the scope the paper states",
    "extended": "Extended checks, beyond the paper (each statement says its own scope)",
}
CLAIM_SECONDS = 5
"""How long SymPy may work on one claim for one f before the claim is UNDECIDED."""
CLAIMS_SECONDS = 15
"""How long all the claims for one f may take together (the rest are then UNDECIDED)."""
CENTRAL_PER_RESPONSE = "eq. 24 minimiser is the eq. 22 optimum, per-response statistic"
CENTRAL_PAPER = "eq. 24 minimiser is the eq. 22 optimum, paper statistic (eq. 23)"
CENTRAL_CLAIMS: tuple[str, ...] = (CENTRAL_PER_RESPONSE, CENTRAL_PAPER)
"""The paper's central claim (Algorithm 1 solves eq. 22), once per form of the statistic."""

CENTRAL_PROOF: tuple[str, ...] = (
    "With y, y' ~ mu and the winner drawn from p*, the loss is L = sum_{i,j} mu_i mu_j "
    "p*(y_i > y_j) (v_i - v_j - 1/(2 beta))^2 in v = f'(pi/pi_ref): a quadratic whose Hessian is "
    "a weighted graph Laplacian (p* drops out, as p*(y_i > y_j) + p*(y_j > y_i) = 1), so L is "
    "convex in v, strictly across the constant vectors when mu has full support.",
    "Its gradient 2 mu_k sum_j mu_j [(v_k - v_j) - (2 p*(y_k > y_j) - 1)/(2 beta)] vanishes at "
    "v = Psibar/beta + c for every c, with Psibar(y_k) = sum_j mu_j p*(y_k > y_j) (Psi = "
    "identity), because sum_j mu_j Psibar(y_j) = 1/2: the minimisers over v are exactly "
    "v = Psibar/beta + c.",
    "Theorem 3.1 gives f'(pi*/pi_ref) = (Psibar - lambda)/beta, i.e. c = -lambda/beta; and "
    "c -> sum pi_ref (f')^-1(Psibar/beta + c) is strictly increasing, so no other c gives a "
    "policy: pi* is the unique minimiser of L.",
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
        return claim.result(label, "NOT APPLICABLE", f"outside the scope: {failed.name} fails "
                            f"({failed.detail})")
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

    Returns whether every check passed and what was checked.
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
        loss = sum(mu[i] * mu[j] * p[i][j] * (v[i] - v[j] - tau) ** 2
                   for i in range(k) for j in range(k))
        psibar = [sum(mu[j] * p[i][j] for j in range(k)) for i in range(k)]
        at = {v[i]: psibar[i] / _beta + c for i in range(k)}
        normalised = {mu[-1]: 1 - sum(mu[:-1])}
        gradient = [sp.expand(sp.diff(loss, v[i]).subs(at).subs(normalised)) for i in range(k)]
        hessian = sp.hessian(loss, v)
        laplacian = all(sp.diff(hessian, s) == sp.zeros(k, k) for s in (*upper.values(), _beta))
        constants = sp.expand(hessian * sp.ones(k, 1)) == sp.zeros(k, 1)
        minors = [sp.expand(hessian[:m, :m].det()) for m in range(1, k)]
        if not (all(g == 0 for g in gradient) and laplacian and constants
                and all(m.is_positive for m in minors)):
            return False, f"the check failed for K = {k}"
    return True, ("SymPy, for K = 3 and 4 with symbolic mu, p*, beta, c: the gradient of the "
                  "population loss in v = f'(pi/pi_ref) vanishes at v = Psibar/beta + c; its "
                  "Hessian is a Laplacian (free of p* and beta, constants in its kernel, leading "
                  "minors > 0): convex, strictly across the constants")


def _central(name: str, scope: str) -> _Claim:
    form = ("f'(pi(y_w)/piref(y_w)) - f'(pi(y_l)/piref(y_l)) (eq. 17)"
            if name == CENTRAL_PER_RESPONSE else "f'(pi(y_w)/pi(y_l)) - f'(piref_w/piref_l) "
            "(eq. 23)")
    return _Claim(name, "eqs. (22), (24), Algorithm 1",
                  f"the policy that minimises the IUPO loss (eq. 24) with the statistic {form} is "
                  "the IUPO optimum pi* of eq. 22", "paper", scope)


@_about(_central(CENTRAL_PER_RESPONSE, "for every admissible f (mu with full support)"))
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


@_about(_Claim("per-response statistic antisymmetric in (y_w, y_l)", "beyond the paper",
               "s(y_l, y_w) = -s(y_w, y_l)", "extended", "for every differentiable f"),
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
    }
    return claim.result(label, "REFUTED", f"sup f' = {d.sup_f1}: the statistic stays below "
                        f"sup f' - f'(piref_w/piref_l) = {gap} at equal reference probabilities, "
                        f"under the target {1 / (2 * beta)}", counterexample=example)


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
    """The paper's claims (the central claim first), then the extended checks; else as given."""
    return sorted(results, key=lambda r: (r.group != "paper", r.claim not in CENTRAL_CLAIMS))


def verify_all(alpha: float | str | None = None) -> list[ClaimResult]:
    """The whole verification report: the paper's claims, then the extended checks."""
    return list(_verify_all(None if alpha is None else str(alpha)))


@functools.lru_cache(maxsize=8)
def _verify_all(alpha: str | None) -> tuple[ClaimResult, ...]:
    results = [r for claim in GENERAL if (r := _guarded(claim)) is not None]
    per_divergence = [_verify_divergence(div) for div in registered(alpha)]
    order = {claim.about.name: i for i, claim in enumerate(PER_DIVERGENCE)}  # type: ignore[attr-defined]
    results += sorted((r for rs in per_divergence for r in rs), key=lambda r: order[r.claim])
    return tuple(_ordered(results))
