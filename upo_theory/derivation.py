"""Everything about a generator f that the paper's Theorem 3.1 needs, derived by SymPy.

For a generator f (paper, eq. before (11)): f', f'', the inverse (f')⁻¹ in closed form where
SymPy finds one, the range (inf f', sup f') on (0, ∞), and the conditions of Theorem 3.1:

* f(1) = 0 and f differentiable on (0, ∞);
* f convex on (0, ∞) (f'' ≥ 0) and strictly convex at 1 (f''(1) > 0);
* f' strictly increasing on (0, ∞), hence invertible;
* 0 ∉ dom f', i.e. lim_{u→0+} f'(u) = −∞, which forces η ≡ 0 in eq. (15) and so full support.

A condition that SymPy cannot decide is checked on a dense logarithmic grid instead, and the check
says so (``method="numeric"``): it is then evidence, not proof.
"""

from __future__ import annotations

import enum
import functools
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import sympy as sp

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

Method = Literal["symbolic", "numeric", "not applicable"]


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


@dataclass(frozen=True)
class Check:
    """One condition of Theorem 3.1: whether it holds (None: not applicable), and why."""

    condition: Condition
    holds: bool | None
    detail: str
    method: Method = "symbolic"

    @property
    def name(self) -> str:
        """The condition as text, e.g. ``"f(1) = 0"``."""
        return self.condition.value


OPTIMUM_CONDITIONS: tuple[Condition, ...] = (
    Condition.NORMALISED, Condition.DIFFERENTIABLE, Condition.CONVEX,
    Condition.STRICTLY_CONVEX_AT_ONE, Condition.STRICTLY_INCREASING,
)
"""What the UPO optimum of eq. (15) needs; f'(0+) finite is allowed (the η terms handle it)."""


@dataclass(frozen=True)
class Derivation:
    """The derived objects of one generator f; build with :func:`derive`."""

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
    def differentiable(self) -> bool:
        return self.f1 is not None

    def failure(self, conditions: tuple[Condition, ...] = tuple(Condition)) -> Check | None:
        """The first of ``conditions`` that fails (not applicable is no failure), or None."""
        return next((c for c in self.checks if c.condition in conditions and c.holds is False),
                    None)

    @property
    def reason(self) -> str:
        """"admissible for Theorem 3.1", or the first condition that fails, with why."""
        if self.admissible:
            return "admissible for Theorem 3.1"
        failed = next(c for c in self.checks if c.holds is False)
        return f"not admissible for Theorem 3.1: {failed.name} fails ({failed.detail})"

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
    """Derive f', f'', (f')⁻¹, the range of f' and Theorem 3.1's conditions for ``divergence``."""
    return _derive(divergence.f, divergence)


@functools.lru_cache(maxsize=128)
def _derive(f: sp.Expr, divergence: Divergence) -> Derivation:
    checks = [_check_normalised(f)]
    kink = _first_kink(f)
    if kink is not None:
        point, left, right = kink
        checks.append(
            Check(
                Condition.DIFFERENTIABLE,
                False,
                f"not differentiable at u = {point}: f'({point}-) = {left}, f'({point}+) = {right}",
            )
        )
        skipped = "f is not differentiable"
        for condition in (Condition.CONVEX, Condition.STRICTLY_CONVEX_AT_ONE,
                          Condition.STRICTLY_INCREASING, Condition.INFINITE_AT_ZERO):
            checks.append(Check(condition, None, skipped, "not applicable"))
        return Derivation(divergence, None, None, None, None, None, tuple(checks))

    checks.append(Check(Condition.DIFFERENTIABLE, True, "f has no kink on (0, oo)"))
    f1 = sp.simplify(sp.diff(f, U))
    f2 = sp.simplify(sp.diff(f1, U))
    checks.append(_sign_check(Condition.CONVEX, f2, strict=False))
    f2_at_1 = sp.simplify(f2.subs(U, 1))
    checks.append(Check(Condition.STRICTLY_CONVEX_AT_ONE, bool(f2_at_1 > 0), f"f''(1) = {f2_at_1}"))
    checks.append(_sign_check(Condition.STRICTLY_INCREASING, f2, strict=True))
    inf_f1 = sp.limit(f1, U, 0, "+")
    sup_f1 = sp.limit(f1, U, sp.oo)
    if inf_f1 == -sp.oo:
        checks.append(Check(Condition.INFINITE_AT_ZERO, True,
                            "f'(0+) = -oo, so 0 is not in dom f'"))
    else:
        checks.append(
            Check(
                Condition.INFINITE_AT_ZERO,
                False,
                f"f'(0+) = {inf_f1} is finite: 0 is in dom f', so the optimum may put zero mass "
                "on actions (eq. 15's eta terms are active)",
            )
        )
    inverse = _inverse(f1)
    return Derivation(divergence, f1, f2, inverse, inf_f1, sup_f1, tuple(checks))


def _check_normalised(f: sp.Expr) -> Check:
    at_one = sp.simplify(f.subs(U, 1))
    return Check(Condition.NORMALISED, at_one == 0, f"f(1) = {at_one}")


def _first_kink(f: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """A point of (0, ∞) where the one-sided derivatives of f differ, if any."""
    candidates: set[sp.Expr] = set()
    expr = f.rewrite(sp.Abs) if f.has(sp.Max, sp.Min) else f
    for node in expr.atoms(sp.Abs, sp.sign, sp.Heaviside):
        zeros = sp.solveset(sp.Eq(node.args[0], 0), U, sp.Interval.open(0, sp.oo))
        if isinstance(zeros, sp.FiniteSet):
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
    domain = sp.Interval.open(0, sp.oo)
    relation = "> 0 except at isolated points" if strict else ">= 0"
    try:
        negative = sp.solveset(f2 < 0, U, domain)
        zeros = sp.solveset(sp.Eq(f2, 0), U, domain) if strict else sp.EmptySet
        decided = not isinstance(negative, sp.ConditionSet) and not isinstance(
            zeros, sp.ConditionSet
        )
    except (NotImplementedError, TypeError, ValueError):
        decided = False
    if decided:
        if negative is sp.EmptySet and (zeros is sp.EmptySet or zeros.is_FiniteSet):
            return Check(name, True, f"f'' {relation} on (0, oo)")
        witness = _point_in(negative if negative is not sp.EmptySet else zeros)
        return Check(name, False, f"f''({witness}) = {sp.simplify(f2.subs(U, witness))}")
    values = sp.lambdify(U, f2, "numpy")(_GRID) * np.ones_like(_GRID)
    bad = values <= 0 if strict else values < 0
    if bad.any():
        witness = _GRID[np.argmax(bad)]
        return Check(name, False, f"f''({witness:.3g}) = {values[np.argmax(bad)]:.3g}", "numeric")
    return Check(name, True, f"f'' {relation} on a grid of u in [1e-12, 1e12]", "numeric")


def _point_in(region: sp.Set) -> sp.Expr:
    if region.is_FiniteSet:
        return next(iter(region))
    interval = next(iter(region.args)) if isinstance(region, sp.Union) else region
    lo, hi = interval.inf, interval.sup
    if hi == sp.oo:
        return lo + 1
    return (lo + hi) / 2


class _OutOfTime(BaseException):
    """Not an Exception: SymPy catches those internally and would carry on past the limit."""


def _time_limited(fn: Callable[[], sp.Expr | None], seconds: int) -> sp.Expr | None:
    """``fn()``, or None if it runs past ``seconds`` (enforced in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return fn()

    def _raise(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        return fn()
    except _OutOfTime:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _inverse(f1: sp.Expr) -> sp.Expr | None:
    """(f')⁻¹(y) in closed form: the branch of solve(f'(u) = y) that inverts f' at test points.

    None when SymPy finds no such branch within :data:`SOLVE_SECONDS` (solving and checking the
    candidates together: a quartic's radicals can take long to evaluate).
    """
    return _time_limited(lambda: _inverting_branch(f1), SOLVE_SECONDS)


def _inverting_branch(f1: sp.Expr) -> sp.Expr | None:
    try:
        solutions = sp.solve(sp.Eq(f1, Y), U, check=False)  # _inverts checks each candidate
    except (NotImplementedError, ValueError, TypeError):  # TypeError: an undecidable relational
        return None
    for candidate in solutions:
        if all(_inverts(candidate, f1, u0) for u0 in (sp.Rational(1, 3), 2, 5)):
            return sp.simplify(candidate)
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
