"""The generator f itself as a numeric function, and the integrand of D_f under a mixture.

The kernels of :mod:`upo_theory.kernels` evaluate f' in log space for the losses; the objective
J(π) of eq. (11) and the Monte-Carlo estimates of D_f(π, π_ref) need f. Both functions here are
compiled from the same SymPy expression as everything else
(:mod:`upo_theory.stable_lambdify`), so no consumer lambdifies f on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .derivation import T, limit_at
from .divergences import Divergence
from .expressions import U
from .stable_lambdify import Compiled


@dataclass(frozen=True)
class GeneratorFunction:
    """f(u) elementwise for u ≥ 0, with f(0) the limit f(0+) (``inf`` where it is infinite,
    ``nan`` where SymPy cannot find it and f at u = 1e-50, 1e-100, 1e-200 shows no clear limit)."""

    divergence: Divergence
    compiled: Compiled
    at_zero: float

    def __call__(self, u: Any) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        positive = u > 0
        return np.where(positive, self.compiled(np.where(positive, u, 1.0)), self.at_zero)

    def mp(self, u: Any) -> Any:
        """f(u) in arbitrary precision (mpmath), for u > 0."""
        return self.compiled.mp(u)


@functools.lru_cache(maxsize=64)
def generator_function(divergence: Divergence) -> GeneratorFunction:
    """f of ``divergence`` compiled for NumPy (and mpmath), with its limit at 0+.

    Parameters
    ----------
    divergence : Divergence
        The generator f.

    Returns
    -------
    GeneratorFunction
        f as a vectorised function of u ≥ 0.

    Examples
    --------
    >>> from upo_theory import get_divergence
    >>> float(generator_function(get_divergence("pearson"))(0.0))
    1.0
    """
    at_zero, _ = limit_at(divergence.f, sp.S.Zero)  # nan where neither SymPy nor numbers tell
    return GeneratorFunction(divergence, Compiled(divergence.f, U), float(at_zero))


@functools.lru_cache(maxsize=64)
def mixture_integrand(divergence: Divergence) -> Callable[[np.ndarray], np.ndarray]:
    """t ↦ 2 f(e^t) / (1 + e^t), the integrand of D_f under the mixture M = (π + π_ref)/2.

    With t = log π(y)/π_ref(y), π_ref/M = 2/(1 + e^t), so D_f(π, π_ref) = E_{π_ref}[f(e^t)] =
    E_M[2 f(e^t)/(1 + e^t)]. For JS it is bounded by 2 log 2 where f(e^t) grows like t·e^t, so
    responses that π favours and π_ref rarely samples do not make a Monte-Carlo estimate
    heavy-tailed. The stabilised expression is evaluated in float64; where that overflows (|t| in
    the hundreds), the same expression is evaluated in mpmath and rounded, so a value is ``inf``
    only when the integrand itself exceeds the float64 range.

    Parameters
    ----------
    divergence : Divergence
        The generator f.

    Returns
    -------
    callable
        The integrand as a function of an array of log-ratios t.
    """
    f = divergence.f.subs(U, sp.exp(T))
    compiled = Compiled(sp.expand(2 * f / (1 + sp.exp(T))), T)

    def evaluate(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        out = np.array(compiled(t), dtype=np.float64)
        for i in zip(*np.nonzero(~np.isfinite(out)), strict=True):
            out[i] = float(compiled.mp(t[i]))
        return out

    return evaluate
