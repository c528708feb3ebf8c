"""The paper's claims, each proven symbolically or refuted with numbers a reader can plug in.

A claim is PROVEN when SymPy simplifies the difference of its two sides to 0 under the stated
assumptions (all probabilities positive, log-ratios real, values of f' below sup f'); REFUTED
when a concrete point makes the two sides differ (the point and both values are reported); NOT
APPLICABLE when its hypotheses fail for that divergence (the reason is reported). Where SymPy can
neither simplify nor find a differing point the claim is UNDECIDED, never silently PROVEN.

Claims per divergence (``g(s) = f'(e^s)``, the kernel in log space):

* Theorem 3.1, eq. (14)/(16): ∂/∂π [π_ref f(π/π_ref)] = f'(π/π_ref), and
  π* = π_ref (f')⁻¹((Ψ̄ − λ)/β) solves β f'(π*/π_ref) = Ψ̄ − λ.
* Proposition 3.2, eqs. (17)–(21): with Ψ = logit and Bradley–Terry p*, the optimum satisfies
  r(y_w) − r(y_l) = β[f'(u_w) − f'(u_l)], so p*(y_w ≻ y_l) is the f-DPO likelihood (eq. 5).
* eq. (5) → (4): f-DPO equals DPO.       * Prop. 4.1, eqs. (23), (9): the IUPO statistic is h.
* The paper-form statistic (eq. 23) equals the per-response one; each form is antisymmetric.
* The target 1/(2β) of eq. (24) is within reach of each form's statistic.

Theorem (proved in :func:`forms_equal`): the two forms agree for all inputs iff g is affine,
i.e. f'(u) = c log u + d — reverse KL up to scale and terms linear in u. (⇐) both forms equal
c(t_w − t_l). (⇒) at p_w = a + b, p_l = b, q_w = q_l = 0 equality reads
g(a + b) = g(a) + g(b) − g(0), Cauchy's equation, whose continuous solutions are affine.
The paper form is antisymmetric iff g(s) + g(−s) is constant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import mpmath
import sympy as sp

from .derivation import Derivation, T, Y, derive
from .divergences import Divergence, get_divergence, registered
from .expressions import U

Status = Literal["PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED"]

_pw, _pl, _qw, _ql = sp.symbols("pi_w pi_l piref_w piref_l", positive=True)
_beta, _z, _zw, _zl = sp.symbols("beta z z_w z_l", positive=True)
_lam, _rbar, _x, _xw, _xl, _s = sp.symbols("lambda rbar x x_w x_l s", real=True)
_P = sp.Symbol("pi", positive=True)
_Q = sp.Symbol("pi_ref", positive=True)


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim, for one divergence or for none."""

    claim: str
    reference: str
    divergence: str | None
    status: Status
    statement: str
    detail: str
    counterexample: dict[str, str] | None = None


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def _vanishes(expr: sp.Expr) -> bool:
    """Whether SymPy simplifies ``expr`` to 0 (trying log expansion too)."""
    for candidate in (expr, sp.expand_log(expr, force=True)):
        if sp.simplify(candidate) == 0:
            return True
    return sp.simplify(sp.expand_log(sp.simplify(expr), force=True)) == 0


def _witness(
    lhs: sp.Expr, rhs: sp.Expr, points: list[dict[sp.Symbol, sp.Expr]]
) -> tuple[dict[sp.Symbol, sp.Expr], sp.Float, sp.Float] | None:
    """The first point at which the two sides differ numerically, with both values."""
    for point in points:
        with mpmath.workdps(30):
            a, b = sp.N(lhs.subs(point), 25), sp.N(rhs.subs(point), 25)
        if a.is_real and b.is_real and abs(a - b) > 1e-12 * max(1, abs(b)):
            return point, a, b
    return None


def _decide(
    claim: str, reference: str, div: str | None, statement: str, lhs: sp.Expr, rhs: sp.Expr,
    points: list[dict[sp.Symbol, sp.Expr]], proof: str,
) -> ClaimResult:
    """PROVEN if lhs − rhs simplifies to 0, REFUTED at a differing point, else UNDECIDED."""
    if _vanishes(lhs - rhs):
        return ClaimResult(claim, reference, div, "PROVEN", statement, proof)
    found = _witness(lhs, rhs, points)
    if found is None:
        return ClaimResult(
            claim, reference, div, "UNDECIDED", statement,
            "SymPy could not simplify the difference to 0, and it vanished at every test point",
        )
    point, a, b = found
    example = {str(k): str(v) for k, v in point.items()}
    example.update({"left side": f"{float(a):.10g}", "right side": f"{float(b):.10g}"})
    return ClaimResult(
        claim, reference, div, "REFUTED", statement,
        f"the two sides differ: {float(a):.6g} != {float(b):.6g}", example,
    )


def _na(claim: str, reference: str, d: Derivation, statement: str, why: str) -> ClaimResult:
    return ClaimResult(claim, reference, d.divergence.label, "NOT APPLICABLE", statement, why)


# ---- Claims that hold for no particular divergence -------------------------------------------


def logit_inverts_sigmoid() -> ClaimResult:
    """Proposition 3.2's first step: logit(σ(z)) = z for real z."""
    lhs = sp.log(_sigmoid(_x) / (1 - _sigmoid(_x)))
    return _decide(
        "logit(sigma(z)) = z", "Proposition 3.2", None, "log(s/(1-s)) with s = 1/(1+exp(-z)) is z",
        lhs, _x, [{_x: sp.Rational(3, 7)}], "simplifies to z for every real z",
    )


def js_derivative() -> ClaimResult:
    """The paper's JS derivative (Section 5.1): f'(u) = log(2u/(1+u))."""
    d = derive(get_divergence("js"))
    return _decide(
        "JS derivative f'(u) = log(2u/(1+u))", "Section 5.1", "js",
        "d/du [u log u - (u+1) log((u+1)/2)] = log(2u/(1+u))",
        sp.diff(d.f, U), sp.log(2 * U / (1 + U)), [{U: sp.Rational(1, 3)}],
        "SymPy's derivative of the paper's f simplifies to log(2u/(1+u))",
    )


def eq26_is_eq24_with_js() -> ClaimResult:
    """eq. (26) is eq. (24) with the paper form (23) and the JS f'."""
    d = derive(get_divergence("js"))
    a, b = _pw / _pl, _qw / _ql
    eq24 = (d.f1.subs(U, a) - d.f1.subs(U, b) - 1 / (2 * _beta)) ** 2
    eq26 = (sp.log(2 * a / (a + 1)) - sp.log(2 * b / (b + 1)) - 1 / (2 * _beta)) ** 2
    pt = {_pw: sp.Rational(1, 2), _pl: sp.Rational(1, 5), _qw: sp.Rational(1, 3),
          _ql: sp.Rational(1, 4), _beta: sp.Rational(1, 10)}
    return _decide(
        "eq. 26 is eq. 24 with the JS f'", "eqs. (23), (24), (26)", "js",
        "(f'(pi_w/pi_l) - f'(piref_w/piref_l) - 1/(2 beta))^2 with f' = log(2u/(1+u)) is eq. 26",
        eq24, eq26, [pt], "the integrands coincide identically",
    )


# ---- Claims per divergence -------------------------------------------------------------------


def stationarity(d: Derivation) -> ClaimResult:
    """Theorem 3.1, eq. (14): ∂/∂π [π_ref f(π/π_ref)] = f'(π/π_ref)."""
    name, ref = "stationarity d/dpi [pi_ref f(pi/pi_ref)] = f'(pi/pi_ref)", "Theorem 3.1, eq. (14)"
    statement = "the derivative of the divergence term in pi(y) is f'(pi(y)/pi_ref(y))"
    if not d.differentiable:
        return _na(name, ref, d, statement, d.reason)
    lhs = sp.diff(_Q * d.f.subs(U, _P / _Q), _P)
    return _decide(name, ref, d.divergence.label, statement, lhs, d.f1.subs(U, _P / _Q),
                   [{_P: sp.Rational(1, 3), _Q: sp.Rational(1, 2)}], "chain rule; simplifies to 0")


def _value_below_sup(d: Derivation, z: sp.Symbol, x: sp.Symbol) -> sp.Expr:
    """A general value y < sup f': sup − z with z > 0 when sup is finite, else a real x."""
    return d.sup_f1 - z if d.sup_f1.is_finite else x


def optimum_closed_form(d: Derivation) -> ClaimResult:
    """Theorem 3.1, eq. (16): π* = π_ref (f')⁻¹((Ψ̄ − λ)/β) solves β f'(π*/π_ref) = Ψ̄ − λ."""
    name, ref = "pi* = pi_ref (f')^-1((Psibar - lambda)/beta)", "Theorem 3.1, eq. (16)"
    statement = "f'((f')^-1(y)) = y for every y < sup f', so the closed form solves eq. (16)"
    if not d.admissible:
        if d.differentiable and d.inf_f1.is_finite:
            y0 = d.inf_f1 - 1
            why = (f"{d.reason}; the closed form gives u = (f')^-1({y0}) = "
                   f"{sp.simplify(d.inverse.subs(Y, y0)) if d.inverse is not None else '?'}"
                   " (not a probability ratio): the optimum needs eta(y) > 0 and pi*(y) = 0")
            return _na(name, ref, d, statement, why)
        return _na(name, ref, d, statement, d.reason)
    if d.inverse is None:
        return _na(name, ref, d, statement, "SymPy found no closed form of (f')^-1; the numeric "
                   "inverse is used instead")
    y = _value_below_sup(d, _z, _x)
    lhs = d.f1.subs(U, d.inverse.subs(Y, y))
    return _decide(name, ref, d.divergence.label, statement, lhs, y,
                   [{_z: sp.Rational(1, 2), _x: sp.Rational(-1, 3)}],
                   "(f')^-1 is derived by solve(f'(u) = y); composing gives y for y < sup f'")


def fdpo_likelihood(d: Derivation) -> ClaimResult:
    """Proposition 3.2: Ψ = logit with Bradley–Terry p* gives the f-DPO likelihood (eq. 5 / 21)."""
    name, ref = "logit-UPO optimum gives the f-DPO likelihood", "Proposition 3.2, eqs. (5), (21)"
    statement = ("with p* = sigma(r_w - r_l), Psibar(y) = r(y) - rbar; at the optimum "
                 "sigma(beta f'(u_w) - beta f'(u_l)) = p*(y_w > y_l), lambda and rbar cancel")
    if not d.admissible or d.inverse is None:
        return _na(name, ref, d, statement, d.reason if not d.admissible else "no closed (f')^-1")
    y_w, y_l = _value_below_sup(d, _zw, _xw), _value_below_sup(d, _zl, _xl)
    r_w, r_l = _beta * y_w + _rbar + _lam, _beta * y_l + _rbar + _lam  # eq. (16) with Ψ̄ = r − r̄
    u_w, u_l = d.inverse.subs(Y, (r_w - _rbar - _lam) / _beta), d.inverse.subs(
        Y, (r_l - _rbar - _lam) / _beta
    )
    lhs = _beta * (d.f1.subs(U, u_w) - d.f1.subs(U, u_l))
    return _decide(name, ref, d.divergence.label, statement, lhs, r_w - r_l,
                   [{_zw: 1, _zl: 2, _xw: 0, _xl: -1, _beta: sp.Rational(1, 5), _lam: 1, _rbar: 0}],
                   "beta (f'(u_w) - f'(u_l)) simplifies to r_w - r_l; with logit(sigma(z)) = z "
                   "the Bradley-Terry likelihood is eq. 5")


def _g(d: Derivation, s: sp.Expr) -> sp.Expr:
    return d.log_ratio_derivative.subs(T, s)


_R = sp.Rational
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


def fdpo_is_dpo(d: Derivation) -> ClaimResult:
    """eq. (5) → eq. (4): f-DPO's loss equals DPO's."""
    name, ref = "f-DPO (eq. 5) is DPO (eq. 4)", "eqs. (4), (5)"
    statement = "-log sigma(beta f'(pi_w/piref_w) - beta f'(pi_l/piref_l)) = DPO's loss"
    if not d.differentiable:
        return _na(name, ref, d, statement, d.reason)
    fdpo = -sp.log(_sigmoid(_beta * _per_response_statistic(d)))
    dpo = -sp.log(_sigmoid(_beta * _H))
    points = [{**p, _beta: sp.Rational(1, 10)} for p in _LOG_POINTS]
    return _decide(name, ref, d.divergence.label, statement, fdpo, dpo, points,
                   "f'(u) = log u + 1: the constants cancel in the difference")


def iupo_is_ipo(d: Derivation) -> ClaimResult:
    """Proposition 4.1: the IUPO statistic (eq. 23) is IPO's h (eq. 9)."""
    name, ref = "IUPO statistic (eq. 23) is IPO's h (eq. 9)", "Proposition 4.1"
    statement = "f'(pi_w/pi_l) - f'(piref_w/piref_l) = log(pi_w/pi_l) - log(piref_w/piref_l)"
    if not d.differentiable:
        return _na(name, ref, d, statement, d.reason)
    return _decide(name, ref, d.divergence.label, statement, _paper_statistic(d), _H,
                   _LOG_POINTS, "f'(u) = log u + 1, so the statistic is h (eq. 25)")


def per_response_is_ipo(d: Derivation) -> ClaimResult:
    """Proposition 4.1 for the per-response statistic: f'(π_w/π_ref,w) − f'(π_l/π_ref,l) = h."""
    name, ref = "per-response statistic is IPO's h (eq. 9)", "Proposition 4.1 (per response)"
    statement = "f'(pi_w/piref_w) - f'(pi_l/piref_l) = log(pi_w/pi_l) - log(piref_w/piref_l)"
    if not d.differentiable:
        return _na(name, ref, d, statement, d.reason)
    return _decide(name, ref, d.divergence.label, statement, _per_response_statistic(d), _H,
                   _LOG_POINTS, "f'(u) = log u + 1, so the statistic is h")


def forms_equal(d: Derivation) -> ClaimResult:
    """The paper form (eq. 23) equals the per-response form, iff g(s) = f'(e^s) is affine."""
    name, ref = "paper form (eq. 23) = per-response form", "eqs. (17), (23); beyond the paper"
    statement = ("f'(pi_w/pi_l) - f'(piref_w/piref_l) = f'(pi_w/piref_w) - f'(pi_l/piref_l) "
                 "for all probabilities; true iff f'(e^s) is affine in s")
    if not d.differentiable:
        return _na(name, ref, d, statement, d.reason)
    paper, per_response = _paper_statistic(d), _per_response_statistic(d)
    # The Cauchy point of the module's proof: p_w = a + b, p_l = b, q_w = q_l = 0 in log space.
    cauchy = {_pw: sp.exp(2) / 10, _pl: sp.exp(1) / 10, _qw: sp.Rational(1, 10),
              _ql: sp.Rational(1, 10)}
    result = _decide(name, ref, d.divergence.label, statement, paper, per_response,
                     [*_LOG_POINTS, cauchy], "f'(e^s) is affine in s, so both forms equal "
                     "c (t_w - t_l)")
    affine = sp.simplify(sp.diff(_g(d, _s), _s, 2)) == 0
    if result.status == "REFUTED" and not affine:
        return ClaimResult(**{**result.__dict__, "detail": result.detail
                              + "; f'(e^s) is not affine in s (its second derivative is not 0)"})
    return result


def _antisymmetry(
    d: Derivation, statistic: Callable[..., sp.Expr], name: str, ref: str, statement: str,
    proof: str,
) -> ClaimResult:
    """Whether swapping y_w and y_l flips the sign of ``statistic``."""
    if not d.differentiable:
        return _na(name, ref, d, statement, d.reason)
    swapped = statistic(d, _pl, _pw, _ql, _qw)
    return _decide(name, ref, d.divergence.label, statement, swapped, -statistic(d),
                   _LOG_POINTS, proof)


def per_response_antisymmetric(d: Derivation) -> ClaimResult:
    """The per-response statistic changes sign when y_w and y_l swap."""
    return _antisymmetry(
        d, _per_response_statistic, "per-response statistic antisymmetric in (y_w, y_l)",
        "beyond the paper", "s(y_l, y_w) = -s(y_w, y_l)",
        "the statistic is a difference of the same function at the two responses",
    )


def paper_form_antisymmetric(d: Derivation) -> ClaimResult:
    """The paper form is antisymmetric iff g(s) + g(−s) is constant."""
    return _antisymmetry(
        d, _paper_statistic, "paper-form statistic antisymmetric in (y_w, y_l)",
        "eq. (23); beyond the paper",
        "f'(pi_l/pi_w) - f'(piref_l/piref_w) = -(f'(pi_w/pi_l) - f'(piref_w/piref_l)); "
        "true iff f'(e^s) + f'(e^-s) is constant",
        "f'(e^s) + f'(e^-s) is constant, so the swap flips the sign",
    )


def target_reachable(d: Derivation) -> ClaimResult:
    """Can the paper-form statistic reach IUPO's target 1/(2β) (eq. 24) for every β and π_ref?"""
    name, ref = "paper form can reach the target 1/(2 beta)", "eq. (24)"
    statement = ("for every beta > 0 and pi_ref there is pi with "
                 "f'(pi_w/pi_l) - f'(piref_w/piref_l) = 1/(2 beta)")
    if not d.admissible:
        return _na(name, ref, d, statement, d.reason)
    if not d.sup_f1.is_finite:
        return ClaimResult(name, ref, d.divergence.label, "PROVEN", statement,
                           "sup f' = oo, so f'(pi_w/pi_l) takes every value above f'(0+)")
    gap = sp.simplify(d.sup_f1 - d.f1.subs(U, 1))
    beta = sp.Rational(1, 2 * (sp.floor(gap) + 2))  # a target 1/(2 beta) above the reach
    example = {
        "beta": str(beta), "piref_w/piref_l": "1", "sup of the statistic": f"{float(gap):.6g}",
        "target 1/(2 beta)": str(1 / (2 * beta)),
    }
    return ClaimResult(
        name, ref, d.divergence.label, "REFUTED", statement,
        f"sup f' = {d.sup_f1}: the statistic stays below sup f' - f'(piref_w/piref_l) = {gap} "
        f"at equal reference probabilities, under the target {1 / (2 * beta)}", example,
    )


PER_DIVERGENCE: tuple[Callable[[Derivation], ClaimResult], ...] = (
    stationarity,
    optimum_closed_form,
    fdpo_likelihood,
    fdpo_is_dpo,
    iupo_is_ipo,
    per_response_is_ipo,
    forms_equal,
    per_response_antisymmetric,
    paper_form_antisymmetric,
    target_reachable,
)
GENERAL: tuple[Callable[[], ClaimResult], ...] = (
    logit_inverts_sigmoid,
    js_derivative,
    eq26_is_eq24_with_js,
)


def verify_divergence(divergence: Divergence) -> list[ClaimResult]:
    """Every per-divergence claim for one divergence."""
    d = derive(divergence)
    return [claim(d) for claim in PER_DIVERGENCE]


def verify_all(alpha: float | str | None = None) -> list[ClaimResult]:
    """The whole verification report: general claims, then each claim for every registered f."""
    return list(_verify_all(None if alpha is None else str(alpha)))


@functools.lru_cache(maxsize=8)
def _verify_all(alpha: str | None) -> tuple[ClaimResult, ...]:
    results = [claim() for claim in GENERAL]
    divergences = registered(alpha)
    for claim in PER_DIVERGENCE:
        results.extend(claim(derive(div)) for div in divergences)
    return tuple(results)
