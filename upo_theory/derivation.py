"""Everything about a generator f that the paper's Theorem 3.1 needs, derived by SymPy.

For a generator f (paper, eq. before (11)): f', f'', the inverse (f')⁻¹ in closed form where
SymPy finds one, the range (inf f', sup f') on (0, ∞), and the conditions of Theorem 3.1:

* f(1) = 0 and f differentiable on (0, ∞);
* f convex on (0, ∞) (f'' ≥ 0) and strictly convex at 1 (f''(1) > 0);
* f' strictly increasing on (0, ∞), hence invertible;
* 0 ∉ dom f', i.e. lim_{u→0+} f'(u) = −∞, which forces η ≡ 0 in eq. (15) and so full support.

A condition that SymPy cannot decide is checked on a dense logarithmic grid instead, and the check
says so (``method="numeric"``): it is then evidence, not proof. Where neither settles it (SymPy
raises, or the grid cannot be evaluated) the check is ``method="undecided"`` with ``holds=None``:
f is then not admissible, and :meth:`Derivation.failure` names that condition. No SymPy failure
escapes :func:`derive` as an exception.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import mpmath
import numpy as np
import sympy as sp

from .budget import time_limited
from .divergences import Divergence
from .expressions import U

T = sp.Symbol("t", real=True)
"""The log-ratio t = log u."""
Y = sp.Symbol("y", real=True)
"""A value of f'; (f')⁻¹ is written in y."""
_Z = sp.Symbol("z", positive=True)
_GRID = np.logspace(-12, 12, 4001)
SOLVE_SECONDS = 5
"""How long SymPy may search for a closed form of (f')⁻¹ before the numeric inverse is used."""

Method = Literal["symbolic", "numeric", "not applicable", "undecided"]
SYMPY_FAILURES = (ArithmeticError, AttributeError, NotImplementedError, RecursionError, TypeError,
                  ValueError, sp.polys.polyerrors.PolynomialError)
"""What SymPy raises on an expression it cannot handle (its own bugs included)."""


class Condition(str, enum.Enum):
    """The conditions of Theorem 3.1 on f, in the order :func:`derive` checks them."""

    NORMALISED = "f(1) = 0"
    DIFFERENTIABLE = "f differentiable on (0, oo)"
    CONVEX = "f convex on (0, oo)"
    STRICTLY_CONVEX_AT_ONE = "f''(1) > 0"
    STRICTLY_INCREASING = "f' strictly increasing"
    INFINITE_AT_ZERO = "lim_{u->0+} f'(u) = -oo"

    def __str__(self) -> str:
        return self.value

    @property
    def latex(self) -> str:
        """The condition as prose with LaTeX maths (``$...$``), for a page to typeset; the
        value (``"f(1) = 0"``) is what the terminal prints."""
        return _CONDITION_LATEX[self]


_CONDITION_LATEX: dict[Condition, str] = {
    Condition.NORMALISED: "$f(1) = 0$",
    Condition.DIFFERENTIABLE: r"$f$ differentiable on $(0, \infty)$",
    Condition.CONVEX: r"$f$ convex on $(0, \infty)$",
    Condition.STRICTLY_CONVEX_AT_ONE: "$f''(1) > 0$",
    Condition.STRICTLY_INCREASING: "$f'$ strictly increasing",
    Condition.INFINITE_AT_ZERO: r"$\lim_{u \to 0^+} f'(u) = -\infty$",
}


def code_span(text: str) -> str:
    """``text`` (an error message, say) as a Markdown code span inside prose with LaTeX maths:
    shown as written, never read as maths or Markdown."""
    text = " ".join(text.split())
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _tex(expr: sp.Basic | float | int) -> str:
    return sp.latex(sp.sympify(expr))


@dataclass(frozen=True)
class Check:
    """One condition of Theorem 3.1: whether it holds (None: not applicable), and why;
    ``detail_latex`` is the why as prose with LaTeX maths (SymPy's ``latex`` of the same
    objects), for a page to typeset."""

    condition: Condition
    holds: bool | None
    detail: str
    method: Method = "symbolic"
    detail_latex: str = ""

    @property
    def name(self) -> str:
        """The condition as text, e.g. ``"f(1) = 0"``."""
        return self.condition.value

    @property
    def latex(self) -> str:
        """The condition as prose with LaTeX maths, e.g. ``"$f(1) = 0$"``."""
        return self.condition.latex


OPTIMUM_CONDITIONS: tuple[Condition, ...] = (
    Condition.NORMALISED, Condition.DIFFERENTIABLE, Condition.CONVEX,
    Condition.STRICTLY_CONVEX_AT_ONE, Condition.STRICTLY_INCREASING,
)
"""What the UPO optimum of eq. (15) needs; f'(0+) finite is allowed (the η terms handle it)."""


@dataclass(frozen=True)
class Derivation:
    """The derived objects of one generator f; build with :func:`derive`.

    Parameters
    ----------
    divergence : Divergence
        The generator f it was derived from.
    f1, f2 : sympy.Expr or None
        f' and f'' in ``u`` (None where f is not differentiable).
    inverse : sympy.Expr or None
        The closed form of (f')⁻¹ in ``y``, where SymPy finds one.
    inf_f1, sup_f1 : sympy.Expr or None
        f'(0+) and sup f' on (0, ∞).
    checks : tuple of Check
        The conditions of Theorem 3.1, each with its verdict and method.
    """

    divergence: Divergence
    f1: sp.Expr | None
    f2: sp.Expr | None
    inverse: sp.Expr | None
    inf_f1: sp.Expr | None
    sup_f1: sp.Expr | None
    checks: tuple[Check, ...]

    @property
    def f(self) -> sp.Expr:
        return self.divergence.f

    @property
    def admissible(self) -> bool:
        """Whether every condition of Theorem 3.1 holds."""
        return all(c.holds for c in self.checks)

    @property
    def increasing(self) -> bool:
        """Whether f' is shown strictly increasing: only then are its limits at 0+ and ∞ its
        infimum and supremum (for f = 1 − u², f' = −2u falls to −∞: its limit at ∞ is its inf)."""
        return any(c.condition is Condition.STRICTLY_INCREASING and c.holds for c in self.checks)

    @property
    def bounds(self) -> tuple[sp.Expr | None, sp.Expr | None]:
        """(inf f', sup f') over (0, ∞): the limits at 0+ and ∞ where f' increases, else None."""
        return (self.inf_f1, self.sup_f1) if self.increasing else (None, None)

    @property
    def differentiable(self) -> bool:
        return self.f1 is not None

    def failure(self, conditions: tuple[Condition, ...] = tuple(Condition)) -> Check | None:
        """The first of ``conditions`` that fails or that SymPy could not decide, or None.

        A condition skipped because an earlier one failed (``method="not applicable"``) is no
        failure of its own: the earlier one is returned.
        """
        return next((c for c in self.checks if c.condition in conditions and (
            c.holds is False or c.method == "undecided")), None)

    @property
    def reason(self) -> str:
        """"admissible for Theorem 3.1", or the first condition that fails, with why."""
        return self._reason(lambda c: c.name, lambda c: c.detail)

    @property
    def reason_latex(self) -> str:
        """:attr:`reason` as prose with LaTeX maths, for a page to typeset."""
        return self._reason(lambda c: c.latex, lambda c: c.detail_latex or code_span(c.detail))

    def _reason(self, name: Callable[[Check], str], why: Callable[[Check], str]) -> str:
        """The verdict, each condition written by ``name`` and its reason by ``why``."""
        if self.admissible:
            return "admissible for Theorem 3.1"
        failed = self.failure()
        if failed is None or failed.method == "undecided":
            what = name(failed) if failed is not None else "a condition"
            because = why(failed) if failed is not None else "not decided"
            return (f"admissibility for Theorem 3.1 undecided: {what} could not be decided "
                    f"({because})")
        return f"not admissible for Theorem 3.1: {name(failed)} fails ({why(failed)})"

    @property
    def log_ratio_derivative(self) -> sp.Expr:
        """f'(e^t), the reward reparameterisation in log space."""
        if self.f1 is None:
            raise ValueError(f"f = {self.f} is not differentiable on (0, oo)")
        return sp.expand_log(self.f1.subs(U, sp.exp(T)), force=True)

    @property
    def log_inverse(self) -> sp.Expr | None:
        """log (f')⁻¹(y), the log-ratio at which f' takes the value y (closed form or None)."""
        return _log_of_inverse(self.inverse, self.sup_f1)


def derive(divergence: Divergence) -> Derivation:
    """Derive f', f'', (f')⁻¹, the range of f' and Theorem 3.1's conditions for ``divergence``
    (once per process: every derivation is kept in :data:`_SETTLED`).

    Parameters
    ----------
    divergence : Divergence
        The generator f (:func:`get_divergence` makes one from a name or an expression).

    Returns
    -------
    Derivation
        SymPy's objects (``f1``, ``f2``, ``inverse``, ``sup_f1``, ``inf_f1``, the log-space
        kernel) and each :class:`Condition` of Theorem 3.1 with how it was decided.
    """
    key = (divergence.f, divergence)
    if key not in _SETTLED:
        _SETTLED[key] = _derive(divergence.f, divergence)
    return _SETTLED[key]


_SETTLED: dict[tuple[sp.Expr, Divergence], Derivation] = {}
"""Every derivation of this process, including those made elsewhere (a user's f is derived in
a budgeted child process and settled here)."""


def settle(derivation: Derivation) -> None:
    """Let :func:`derive` return ``derivation`` for its divergence without deriving again."""
    _SETTLED[(derivation.f, derivation.divergence)] = derivation


def _derive(f: sp.Expr, divergence: Divergence) -> Derivation:
    checks = [_check_normalised(f)]
    skipped = _differentiability(f)
    if skipped is not None:
        checks.append(skipped)
        why, why_latex = (("f is not differentiable", "$f$ is not differentiable")
                          if skipped.holds is False else ("f' is undecided", "$f'$ is undecided"))
        for condition in (Condition.CONVEX, Condition.STRICTLY_CONVEX_AT_ONE,
                          Condition.STRICTLY_INCREASING, Condition.INFINITE_AT_ZERO):
            checks.append(Check(condition, None, why, "not applicable", why_latex))
        return Derivation(divergence, None, None, None, None, None, tuple(checks))

    checks.append(Check(Condition.DIFFERENTIABLE, True, "f has no kink on (0, oo)", "symbolic",
                        r"$f$ has no kink on $(0, \infty)$"))
    f1 = _simplified(sp.diff(f, U))
    f2 = _simplified(sp.diff(f1, U))
    checks.append(_sign_check(Condition.CONVEX, f2, strict=False))
    checks.append(_strictly_convex_at_one(f2))
    checks.append(_sign_check(Condition.STRICTLY_INCREASING, f2, strict=True))
    inf_f1, inf_method = limit_at(f1, 0)
    sup_f1, _ = limit_at(f1, sp.oo)
    checks.append(_infinite_at_zero(inf_f1, inf_method))
    inverse = _inverse(f1)
    return Derivation(divergence, f1, f2, inverse, inf_f1, sup_f1, tuple(checks))


def _simplified(expr: sp.Expr) -> sp.Expr:
    try:
        return sp.simplify(expr)
    except SYMPY_FAILURES:
        return expr


def _differentiability(f: sp.Expr) -> Check | None:
    """None if f is differentiable on (0, ∞); else the failing or undecided check."""
    try:
        kink = _first_kink(f)
    except SYMPY_FAILURES as error:
        return Check(Condition.DIFFERENTIABLE, None,
                     f"SymPy could not look for kinks ({_failure_text(error)})", "undecided",
                     f"SymPy could not look for kinks ({code_span(_failure_text(error))})")
    if kink is None:
        return None
    if kink is _UNKNOWN:
        return Check(Condition.DIFFERENTIABLE, None,
                     "SymPy could not solve for the points where an |.| or Max/Min switches",
                     "undecided", r"SymPy could not solve for the points where an "
                     r"$\lvert\cdot\rvert$ or $\max$/$\min$ switches")
    point, left, right = kink
    at = _tex(point)
    return Check(Condition.DIFFERENTIABLE, False, f"not differentiable at u = {point}: "
                 f"f'({point}-) = {left}, f'({point}+) = {right}", "symbolic",
                 f"not differentiable at $u = {at}$: $f'({at}^-) = {_tex(left)}$, "
                 f"$f'({at}^+) = {_tex(right)}$")


def _failure_text(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:120]}" if text else type(error).__name__


def _strictly_convex_at_one(f2: sp.Expr) -> Check:
    """f''(1) > 0. Where f'' is piecewise (SymPy differentiates |u - 1|^(3/2) to a branch
    ``0 if u = 1``) or undefined at 1, the one-sided limits decide: both > 0 (+oo included)."""
    name = Condition.STRICTLY_CONVEX_AT_ONE
    try:
        value = sp.simplify(f2.subs(U, 1))
        if not f2.has(sp.Piecewise) and value.is_extended_real and value.is_comparable:
            return Check(name, bool(value > 0), f"f''(1) = {value}", "symbolic",
                         f"$f''(1) = {_tex(value)}$")
        left, right = sp.limit(f2, U, 1, "-"), sp.limit(f2, U, 1, "+")
        positive = sp.And(sp.sympify(left > 0), sp.sympify(right > 0))
    except SYMPY_FAILURES as error:
        return Check(name, None, f"SymPy could not evaluate f''(1) ({_failure_text(error)})",
                     "undecided", f"SymPy could not evaluate $f''(1)$ "
                     f"({code_span(_failure_text(error))})")
    detail = f"f''(1) = {left}" if left == right else f"f''(1-) = {left}, f''(1+) = {right}"
    detail_latex = (f"$f''(1) = {_tex(left)}$" if left == right
                    else f"$f''(1^-) = {_tex(left)}$, $f''(1^+) = {_tex(right)}$")
    if positive not in (sp.true, sp.false):
        return Check(name, None, f"{detail} could not be compared with 0", "undecided",
                     f"{detail_latex} could not be compared with $0$")
    return Check(name, bool(positive), detail, "symbolic", detail_latex)


def limit_at(f1: sp.Expr, point: sp.Expr) -> tuple[sp.Expr, Method]:
    """lim g(u) at 0+ or oo by SymPy; else a numeric estimate (or nan when none is clear)."""
    try:
        value = sp.limit(f1, U, point, "+" if point == 0 else "-")
        if value.is_extended_real and (value.is_comparable or value in (sp.oo, -sp.oo)):
            return value, "symbolic"
    except SYMPY_FAILURES:
        pass
    return _numeric_limit(f1, point), "numeric"


def _numeric_limit(f1: sp.Expr, point: sp.Expr) -> sp.Expr:
    """g(u) at u = 10^∓50, 10^∓100, 10^∓200 (40 digits): their common value if they agree, ±oo
    if they grow monotonically past 1e30 in size, else nan (undecided)."""
    sign = -1 if point == 0 else 1
    try:
        with mpmath.workdps(40):
            fn = sp.lambdify(U, f1, "mpmath")
            values = [fn(mpmath.mpf(10) ** (sign * k)) for k in (50, 100, 200)]
            if not all(isinstance(v, mpmath.mpf) and mpmath.isfinite(v) for v in values):
                return sp.nan
            a, b, c = (float(v) for v in values)
    except (*SYMPY_FAILURES, NameError, ZeroDivisionError):
        return sp.nan
    if abs(c - b) <= 1e-9 * (1 + abs(c)) and abs(b - a) <= 1e-9 * (1 + abs(c)):
        return sp.Float(c, 15)
    if abs(c) > 1e30 and (a < b < c or a > b > c):
        return sp.oo if c > 0 else -sp.oo
    return sp.nan


def _infinite_at_zero(inf_f1: sp.Expr, method: Method) -> Check:
    name = Condition.INFINITE_AT_ZERO
    points = r"$u = 10^{-50}, 10^{-100}, 10^{-200}$"
    if inf_f1 is sp.nan:
        return Check(name, None, "SymPy found no lim_{u->0+} f'(u) and f'(u) at u = 1e-50, "
                     "1e-100, 1e-200 shows no clear limit", "undecided",
                     rf"SymPy found no $\lim_{{u \to 0^+}} f'(u)$ and $f'(u)$ at {points} "
                     "shows no clear limit")
    how = "" if method == "symbolic" else " (f'(u) at u = 1e-50, 1e-100, 1e-200)"
    how_latex = "" if method == "symbolic" else f" ($f'(u)$ at {points})"
    if inf_f1 == -sp.oo:
        return Check(name, True, f"f'(0+) = -oo, so 0 is not in dom f'{how}", method,
                     rf"$f'(0^+) = -\infty$, so $0 \notin \operatorname{{dom}} f'${how_latex}")
    return Check(name, False, f"f'(0+) = {inf_f1} is finite: 0 is in dom f', so the optimum may "
                 f"put zero mass on actions (eq. 15's eta terms are active){how}", method,
                 f"$f'(0^+) = {_tex(inf_f1)}$ is finite: $0 \\in \\operatorname{{dom}} f'$, so the "
                 r"optimum may put zero mass on actions (the $\eta$ terms of eq. 15 are active)"
                 + how_latex)


def _check_normalised(f: sp.Expr) -> Check:
    try:
        at_one = sp.simplify(f.subs(U, 1))
    except SYMPY_FAILURES as error:
        return Check(Condition.NORMALISED, None, f"SymPy could not evaluate f(1) "
                     f"({_failure_text(error)})", "undecided", "SymPy could not evaluate $f(1)$ "
                     f"({code_span(_failure_text(error))})")
    return Check(Condition.NORMALISED, at_one == 0, f"f(1) = {at_one}", "symbolic",
                 f"$f(1) = {_tex(at_one)}$")


_UNKNOWN = object()
"""Returned by :func:`_first_kink` when SymPy cannot find where a piece switches."""


def _first_kink(f: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | object | None:
    """A point of (0, ∞) where the one-sided derivatives of f differ; None if there is none;
    :data:`_UNKNOWN` if SymPy cannot solve for the switching points."""
    candidates: set[sp.Expr] = set()
    expr = f.rewrite(sp.Abs) if f.has(sp.Max, sp.Min) else f
    for node in expr.atoms(sp.Abs, sp.sign, sp.Heaviside):
        zeros = sp.solveset(sp.Eq(node.args[0], 0), U, sp.Interval.open(0, sp.oo))
        if not isinstance(zeros, sp.FiniteSet):
            if zeros is sp.EmptySet:
                continue
            return _UNKNOWN
        candidates |= set(zeros)
    h = sp.Symbol("h", positive=True)
    for point in sorted(candidates, key=float):
        quotient = (f.subs(U, point + h) - f.subs(U, point)) / h
        right = sp.limit(quotient, h, 0, "+")
        left = sp.limit((f.subs(U, point) - f.subs(U, point - h)) / h, h, 0, "+")
        if sp.simplify(right - left) != 0:
            return point, left, right
    return None


def _sign_check(name: Condition, f2: sp.Expr, strict: bool) -> Check:
    """f'' ≥ 0 (or > 0 but at isolated points) on (0, ∞), by solveset, else on a grid."""
    relation = "> 0 except at isolated points" if strict else ">= 0"
    relation_latex = "$f'' > 0$ except at isolated points" if strict else r"$f'' \geq 0$"
    try:
        decided = _solve_sign(name, f2, strict, relation, relation_latex)
    except SYMPY_FAILURES:
        decided = None
    if decided is not None:
        return decided
    try:
        with np.errstate(all="ignore"):
            values = sp.lambdify(U, f2, "numpy")(_GRID) * np.ones_like(_GRID)
        values = np.asarray(values, dtype=np.float64)
    except (*SYMPY_FAILURES, NameError, ZeroDivisionError) as error:
        return Check(name, None, f"SymPy could not decide f'' {relation}, nor evaluate it on a "
                     f"grid ({_failure_text(error)})", "undecided",
                     f"SymPy could not decide {relation_latex}, nor evaluate $f''$ on a grid "
                     f"({code_span(_failure_text(error))})")
    if np.isnan(values).any():
        return Check(name, None, f"SymPy could not decide f'' {relation}, and f'' is undefined "
                     "at points of a grid", "undecided", f"SymPy could not decide "
                     f"{relation_latex}, and $f''$ is undefined at points of a grid")
    bad = values <= 0 if strict else values < 0
    if bad.any():
        witness, value = _GRID[np.argmax(bad)], values[np.argmax(bad)]
        return Check(name, False, f"f''({witness:.3g}) = {value:.3g}", "numeric",
                     f"$f''({_number(witness)}) = {_number(value)}$")
    return Check(name, True, f"f'' {relation} on a grid of u in [1e-12, 1e12]", "numeric",
                 rf"{relation_latex} on a grid of $u \in [10^{{-12}}, 10^{{12}}]$")


def _number(value: float) -> str:
    """``value`` to 3 significant digits in LaTeX (``1.5 \\times 10^{-7}``)."""
    mantissa, _, exponent = f"{value:.3g}".partition("e")
    return mantissa + (rf" \times 10^{{{int(exponent)}}}" if exponent else "")


def _solve_sign(name: Condition, f2: sp.Expr, strict: bool, relation: str,
                relation_latex: str) -> Check | None:
    """The check decided by solveset, or None when solveset returns an unsolved condition."""
    domain = sp.Interval.open(0, sp.oo)
    negative = sp.solveset(f2 < 0, U, domain)
    zeros = sp.solveset(sp.Eq(f2, 0), U, domain) if strict else sp.EmptySet
    if isinstance(negative, sp.ConditionSet) or isinstance(zeros, sp.ConditionSet):
        return None
    if negative is sp.EmptySet and (zeros is sp.EmptySet or zeros.is_FiniteSet):
        return Check(name, True, f"f'' {relation} on (0, oo)", "symbolic",
                     rf"{relation_latex} on $(0, \infty)$")
    witness = _point_in(negative if negative is not sp.EmptySet else zeros)
    value = sp.simplify(f2.subs(U, witness))
    return Check(name, False, f"f''({witness}) = {value}", "symbolic",
                 f"$f''({_tex(witness)}) = {_tex(value)}$")


def _point_in(region: sp.Set) -> sp.Expr:
    if region.is_FiniteSet:
        return next(iter(region))
    interval = next(iter(region.args)) if isinstance(region, sp.Union) else region
    lo, hi = interval.inf, interval.sup
    if hi == sp.oo:
        return lo + 1
    return (lo + hi) / 2


def _inverse(f1: sp.Expr) -> sp.Expr | None:
    """(f')⁻¹(y) in closed form: the branch of solve(f'(u) = y) that inverts f' at test points.

    None when SymPy finds no such branch within :data:`SOLVE_SECONDS` (solving and checking the
    candidates together: a quartic's radicals can take long to evaluate).
    """
    return time_limited(lambda: _inverting_branch(f1), SOLVE_SECONDS)


def _inverting_branch(f1: sp.Expr) -> sp.Expr | None:
    try:
        solutions = sp.solve(sp.Eq(f1, Y), U, check=False)  # _inverts checks each candidate
        for candidate in solutions:
            if all(_inverts(candidate, f1, u0) for u0 in (sp.Rational(1, 3), 2, 5)):
                return sp.simplify(candidate)
    except SYMPY_FAILURES:  # TypeError: an undecidable relational
        return None
    return None


def _inverts(candidate: sp.Expr, f1: sp.Expr, u0: sp.Expr) -> bool:
    try:
        value = complex(candidate.subs(Y, f1.subs(U, u0)).evalf())
    except TypeError:  # not a number at this point (e.g. a free parameter remains)
        return False
    return abs(value.imag) < 1e-12 and abs(value.real - float(u0)) < 1e-9


def _log_of_inverse(inverse: sp.Expr | None, sup: sp.Expr | None) -> sp.Expr | None:
    """log (f')⁻¹(y) expanded on y < sup f' (written through z = sup − y > 0 to fix signs)."""
    if inverse is None:
        return None
    try:
        return _expanded_log(inverse, sup)
    except SYMPY_FAILURES:
        return sp.log(inverse)


def _expanded_log(inverse: sp.Expr, sup: sp.Expr | None) -> sp.Expr:
    if sup is not None and sup.is_finite:
        shifted = sp.simplify(inverse.subs(Y, sup - _Z))
        expanded = sp.expand_log(sp.log(shifted), force=True).subs(_Z, sup - Y)
    else:
        expanded = sp.expand_log(sp.log(inverse), force=True)
    if expanded.has(sp.I) or not _agrees(expanded, sp.log(inverse), sup):
        return sp.log(inverse)
    return expanded


def _agrees(a: sp.Expr, b: sp.Expr, sup: sp.Expr | None) -> bool:
    top = float(sup) if sup is not None and sup.is_finite else 3.0
    for y0 in (top - 0.25, top - 2.0, top - 7.5):
        va, vb = complex(a.subs(Y, y0).evalf()), complex(b.subs(Y, y0).evalf())
        if abs(va - vb) > 1e-9 * max(1.0, abs(vb)):
            return False
    return True
