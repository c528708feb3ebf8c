"""Numeric kernels in log space: f'(e^t), its slope and log (f')⁻¹, for NumPy and torch.

Every pair statistic of the loss family (eqs. 4, 5, 10, 23–24) is a difference of values
``f'(u)`` at likelihood ratios ``u = e^t``; sequence log-ratios t reach ±10⁴, where u itself
overflows. :class:`LogSpaceKernel` evaluates ``k(t) = f'(e^t)`` from the SymPy expression that
:mod:`upo_theory.derivation` derived, stabilised by :mod:`upo_theory.stable`.

Where the exact k(t) or its slope would exceed ``exp(cap)`` with ``cap = log(finfo.max) / 4``
(≈ e^177 in float64, e^22 in float32), k is continued by its tangent line (a C¹ extension), so that
values, squares of values and gradients stay finite for |t| ≤ 10⁴ in both dtypes. Inside the
bounds the kernel is the exact f'(e^t); :meth:`LogSpaceKernel.bounds` says where they are.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .cli import UserError
from .derivation import Derivation, T, Y, derive
from .divergences import Divergence
from .stable import Compiled, is_torch

T_MAX = 1.0e4
"""Largest |t| for which kernels promise finite values and gradients."""


class NotDifferentiableError(UserError):
    """The generator has no derivative on (0, ∞), so it has no kernel."""


@dataclass
class LogSpaceKernel:
    """``k(t) = f'(e^t)`` with ``k'(t) = f''(e^t) e^t`` and ``log (f')⁻¹``; see module docs."""

    derivation: Derivation
    value: Compiled
    slope_expr: Compiled
    inverse: Compiled | None
    _bounds: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _shape: Compiled | None = field(default=None, repr=False)

    @property
    def sup(self) -> float:
        """sup of f' on (0, ∞): k(t) → sup as t → ∞."""
        return float(self.derivation.sup_f1)

    @property
    def inf(self) -> float:
        """inf of f' on (0, ∞): k(t) → inf as t → −∞."""
        return float(self.derivation.inf_f1)

    def bounds(self, dtype: Any = np.float64) -> tuple[float, float]:
        """The interval of t on which k is exact; outside it k is the tangent continuation."""
        name = np.dtype(_numpy_dtype(dtype)).name
        if name not in self._bounds:
            cap = math.log(float(np.finfo(name).max)) / 4
            self._bounds[name] = (_edge(self, cap, -1.0), _edge(self, cap, 1.0))
        return self._bounds[name]

    def __call__(self, t: Any) -> Any:
        """f'(e^t) for an array or tensor t (exact within :meth:`bounds`, tangent outside)."""
        return self._continued(self.value, t)

    def difference(self, a: Any, b: Any) -> Any:
        """k(a) − k(b) with k's additive constant cancelled exactly, as every pair statistic is.

        JS: k(t) = log 2 − softplus(−t) rounds to log 2 for t > 37, so k(a) − k(b) would be 0;
        softplus(−b) − softplus(−a) is not. (A constant inside a function, as in Hellinger's
        −expm1(−t/2), still rounds to sup f' for large t: there ties at 0 remain.)
        """
        if self._shape is None:
            constant, _ = self.value.expr.as_independent(T, as_Add=True)
            self._shape = Compiled(self.value.expr - constant, T)
        return self._continued(self._shape, a) - self._continued(self._shape, b)

    def _continued(self, part: Compiled, t: Any) -> Any:
        """``part`` (k or k less a constant) within :meth:`bounds`, its tangent outside."""
        lo, hi = self.bounds(t.dtype if hasattr(t, "dtype") else np.float64)
        clipped = _clip(t, lo, hi)
        return part(clipped) + self.slope_expr(clipped) * (t - clipped)

    def slope(self, t: Any) -> Any:
        """d/dt f'(e^t) = f''(e^t) e^t, the derivative of :meth:`__call__`."""
        lo, hi = self.bounds(t.dtype if hasattr(t, "dtype") else np.float64)
        return self.slope_expr(_clip(t, lo, hi))

    def log_inverse(self, y: Any) -> np.ndarray:
        """log (f')⁻¹(y) for NumPy y: +inf at or above sup f', −inf at or below inf f'.

        Closed form where SymPy found one and it reproduces y (a closed form can cancel
        catastrophically, e.g. y + W(e^{1−y}) − 1 for y → −∞); else a bracketed bisection on the
        exact f'(e^t), not its tangent continuation (safeguarded: the bracket is
        [−T_MAX, T_MAX] and f' is increasing) polished by two Newton steps.
        """
        y = np.asarray(y, dtype=np.float64)
        inside = (y < self.sup) & (y > self.inf)
        safe = np.where(inside, y, float(self.value(np.zeros(1))[0]))  # f'(1) is in range
        if self.inverse is not None:
            out = self.inverse(safe)
            with np.errstate(over="ignore", invalid="ignore"):
                wrong = ~(np.abs(self.value(out) - safe) <= 1e-8 * (1.0 + np.abs(safe)))
            if wrong.any():
                out = np.where(wrong, self._solve(safe), out)
        else:
            out = self._solve(safe)
        out = np.where(inside, out, np.where(y >= self.sup, np.inf, -np.inf))
        return out

    def _solve(self, y: np.ndarray) -> np.ndarray:
        lo = np.full_like(y, -T_MAX)
        hi = np.full_like(y, T_MAX)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = self.value(mid) < y  # ±inf where f'(e^t) overflows: still ordered
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        t = 0.5 * (lo + hi)
        for _ in range(2):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                step = (self.value(t) - y) / self.slope_expr(t)
            t = np.where(np.isfinite(step), np.clip(t - step, lo - 1.0, hi + 1.0), t)
        return t


def kernel_for(divergence: Divergence) -> LogSpaceKernel:
    """The log-space kernel of a differentiable generator (admissible or not)."""
    return _kernel(derive(divergence))


@functools.lru_cache(maxsize=128)
def _kernel(derivation: Derivation) -> LogSpaceKernel:
    if not derivation.differentiable:
        raise NotDifferentiableError(
            f"{derivation.divergence.label}: {derivation.reason}; it has no f' kernel"
        )
    value = derivation.log_ratio_derivative
    log_inv = derivation.log_inverse
    return LogSpaceKernel(
        derivation,
        Compiled(value, T),
        Compiled(sp.diff(Compiled(value, T).expr, T), T),
        Compiled(log_inv, Y) if log_inv is not None else None,
    )


def _numpy_dtype(dtype: Any) -> Any:
    """The NumPy float type whose range matches ``dtype`` (NumPy or torch)."""
    name = str(dtype).replace("torch.", "")
    try:
        name = np.dtype(dtype).name
    except TypeError:
        pass
    return {"float32": np.float32, "float16": np.float16, "bfloat16": np.float32}.get(
        name, np.float64
    )


def _edge(kernel: LogSpaceKernel, cap: float, side: float) -> float:
    """The |t| on one side beyond which |k| or |k'| exceeds e^cap (±inf if never by T_MAX)."""
    limit = mpmath.exp(cap)

    def too_big(t: float) -> bool:
        with mpmath.workdps(40):
            return abs(kernel.value.mp(t)) > limit or abs(kernel.slope_expr.mp(t)) > limit

    if not too_big(side * T_MAX):
        return side * math.inf
    inner, outer = 0.0, side * T_MAX
    for _ in range(60):
        mid = 0.5 * (inner + outer)
        inner, outer = (inner, mid) if too_big(mid) else (mid, outer)
    return inner


def _clip(t: Any, lo: float, hi: float) -> Any:
    if math.isinf(lo) and math.isinf(hi):
        return t
    if is_torch(t):
        return t.clamp(min=None if math.isinf(lo) else lo, max=None if math.isinf(hi) else hi)
    return np.clip(t, lo, hi)
