"""Numeric kernels in log space: f'(e^t), its slope and log (f')⁻¹, for NumPy and torch.

Every pair statistic of the loss family (eqs. 4, 5, 10, 23–24) is a difference of values
``f'(u)`` at likelihood ratios ``u = e^t``; sequence log-ratios t reach ±10⁴, where u itself
overflows. :class:`LogSpaceKernel` evaluates ``k(t) = f'(e^t)`` from the SymPy expression that
:mod:`upo_theory.derivation` derived, stabilised by :mod:`upo_theory.stable_lambdify`.

Exactness. Inside :meth:`LogSpaceKernel.bounds` the kernel is the exact f'(e^t) in the dtype of
t (to a few ulps), and so is its gradient: torch's autograd does not differentiate the stabilised
expression (whose ``expm1`` backward rounds f''(e^t) e^t to exactly 0 at t ≈ 9 in float32) but
takes the slope from SymPy's own derivative of it (:func:`_autograd`). Pair statistics are
differences k(a) − k(b) taken without k's additive constant where k rounds to it
(:meth:`LogSpaceKernel.difference`), so that 1 − e^{−2a} − (1 − e^{−2b}) is e^{−2b} − e^{−2a}
there, not a cancellation of two values near 1.

Bounds. The bounds are where |k| or |k'| would exceed ``exp(cap)``, with cap chosen so that every
loss of the family stays finite with a finite gradient for |t| ≤ :data:`T_MAX` and batches of
up to :data:`BATCH_MAX` pairs: the statistic's square, summed over the batch, must be
representable (:func:`cap`: ≈ 337 in float64, ≈ 27 in float32). Beyond the bounds k is continued
by its tangent line (a C¹ extension). In float64 the bounds cover |t| ≤ 200 for every registered
f except Neyman χ² below t ≈ −168, where k(t) = 1 − e^{−2t} exceeds e^337 and its IUPO loss
e^674: training statistics are computed in float64 (``llm.losses``) for this reason.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .derivation import Derivation, T, Y, derive
from .divergences import Divergence
from .errors import UserError
from .stable_lambdify import Compiled, is_torch

T_MAX = 1.0e4
"""Largest |t| for which kernels promise finite values and gradients."""
BATCH_MAX = 2**20
"""Largest batch over which a loss built from the kernel is promised to sum to a finite value."""


def cap(dtype: Any = np.float64) -> float:
    """log of the largest |k| and |k'| kept exact: (e^cap (1 + 2 T_MAX))² · 4 · BATCH_MAX fits
    the dtype, so statistics (differences of two kernels, continued up to T_MAX), their squares
    summed over a batch and the losses' gradients are all finite."""
    largest = math.log(float(np.finfo(_numpy_dtype(dtype)).max))
    return (largest - math.log(4 * BATCH_MAX) - 2 * math.log1p(2 * T_MAX)) / 2


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
    _constant: float = field(default=0.0, repr=False)

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
            self._bounds[name] = (_edge(self, cap(name), -1.0), _edge(self, cap(name), 1.0))
        return self._bounds[name]

    def __call__(self, t: Any) -> Any:
        """f'(e^t) for an array or tensor t (exact within :meth:`bounds`, tangent outside)."""
        return self._continued(self.value, t)

    def difference(self, a: Any, b: Any) -> Any:
        """k(a) − k(b), as every pair statistic is, exact also where k rounds to its constant.

        k = c + r with c the constant of the expanded f'(e^t) (log 2 for JS, 1 for Hellinger's
        1 − e^{−t/2}). Where |r(a)| + |r(b)| < 2⁻²⁶ |c|, k(a) − k(b) would keep fewer than half
        its digits (JS's k rounds to log 2 for t > 37, Hellinger's to 1 for t > 75, making the
        difference 0), so there it is r(a) − r(b) = softplus(−b) − softplus(−a) or
        e^{−b/2} − e^{−a/2}; elsewhere the stabilised k, exact near t = 0 (an ``expm1``). The
        switch is kept far from ordinary log-ratios: each form rounds differently, and a loss
        that switched between them near its minimum would be too rough for a line search.
        """
        whole = self._continued(self.value, a) - self._continued(self.value, b)
        if self._shape is None:
            expanded = sp.expand(self.derivation.log_ratio_derivative)
            constant, rest = expanded.as_independent(T, as_Add=True)
            self._constant = abs(float(constant))
            self._shape = Compiled(rest, T) if constant != 0 else self.value
        if self._shape is self.value:
            return whole
        rest = self._continued(self._shape, a), self._continued(self._shape, b)
        tiny = abs(rest[0]) + abs(rest[1]) < 2.0**-26 * self._constant
        where = _torch_where if is_torch(tiny) else np.where
        return where(tiny, rest[0] - rest[1], whole)

    def _continued(self, part: Compiled, t: Any) -> Any:
        """``part`` (k or k less a constant) within :meth:`bounds`, its tangent outside; under
        torch's autograd with the exact slope as its derivative."""
        if is_torch(t) and t.requires_grad and _grad_enabled():
            return _autograd().apply(t, self, part)
        return self._evaluate(part, t)

    def _evaluate(self, part: Compiled, t: Any) -> Any:
        lo, hi = self.bounds(t.dtype if hasattr(t, "dtype") else np.float64)
        clipped = _clip(t, lo, hi)
        return part(clipped) + self.slope_expr(clipped) * (t - clipped)

    def slope(self, t: Any) -> Any:
        """d/dt f'(e^t) = f''(e^t) e^t, the derivative of :meth:`__call__`."""
        lo, hi = self.bounds(t.dtype if hasattr(t, "dtype") else np.float64)
        return self.slope_expr(_clip(t, lo, hi))

    def log_inverse(self, y: Any) -> np.ndarray:
        """log (f')⁻¹(y) for NumPy y: +inf at or above sup f', −inf at or below inf f'.

        Closed form where SymPy found one and it reproduces y to the inverse's conditioning — a
        t within 1e-10 (1 + |t|) of the root, up to 64 ulps of y divided by the slope (a closed
        form can cancel catastrophically, e.g. y + W(1 − y) − 1 for y → −∞, whose error is ulps
        of |y|, not of t); else a bracketed bisection on the exact f'(e^t), not its tangent
        continuation (safeguarded: the bracket is [−T_MAX, T_MAX] and f' is increasing)
        polished by two Newton steps.
        """
        y = np.asarray(y, dtype=np.float64)
        inside = (y < self.sup) & (y > self.inf)
        safe = np.where(inside, y, float(self.value(np.zeros(1))[0]))  # f'(1) is in range
        if self.inverse is not None:
            out = self.inverse(safe)
            with np.errstate(over="ignore", invalid="ignore"):
                slack = (64 * np.finfo(np.float64).eps * (1.0 + np.abs(safe))
                         + 1e-10 * (1.0 + np.abs(out)) * np.abs(self.slope_expr(out)))
                wrong = ~(np.abs(self.value(out) - safe) <= slack)
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
    """The log-space kernel of a differentiable generator (admissible or not).

    Parameters
    ----------
    divergence : Divergence
        A generator f with a derivative.

    Returns
    -------
    LogSpaceKernel
        k(t) = f'(e^t), its slope and inverse, compiled for NumPy and PyTorch.
    """
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


def _torch_where(condition: Any, x: Any, y: Any) -> Any:
    import torch

    return torch.where(condition, x, y)


def _grad_enabled() -> bool:
    import torch

    return torch.is_grad_enabled()


@functools.cache
def _autograd() -> Any:
    """A torch autograd Function for a kernel part: forward as :meth:`LogSpaceKernel._evaluate`,
    backward ``grad · k'(t)`` with k' from SymPy's derivative (:meth:`LogSpaceKernel.slope`),
    exact where autograd through the stabilised expression rounds (expm1's backward is
    ``grad · (expm1(x) + 1)``, 0 once expm1(x) rounds to −1)."""
    import torch

    class ContinuedKernel(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, t: Any, kernel: LogSpaceKernel, part: Compiled) -> Any:
            ctx.kernel = kernel
            ctx.save_for_backward(t)
            return kernel._evaluate(part, t)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> tuple[Any, None, None]:
            (t,) = ctx.saved_tensors
            return grad * ctx.kernel.slope(t), None, None

    return ContinuedKernel


def _clip(t: Any, lo: float, hi: float) -> Any:
    if math.isinf(lo) and math.isinf(hi):
        return t
    if is_torch(t):
        return t.clamp(min=None if math.isinf(lo) else lo, max=None if math.isinf(hi) else hi)
    return np.clip(t, lo, hi)
