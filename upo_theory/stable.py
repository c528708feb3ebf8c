"""Turning a SymPy expression into numerically stable NumPy / torch / mpmath functions.

One SymPy expression is the single definition; :func:`stabilise` rewrites it into primitives that
do not cancel or overflow needlessly (``log(1 + e^x) → softplus(x)``, ``e^x − 1 → expm1(x)``,
``log(1 + x) → log1p(x)``), and :class:`Compiled` lambdifies the result once per backend. NumPy and
torch therefore evaluate the same expression and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import scipy.special
import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.codegen.rewriting import ReplaceOptim, optimize, optims_c99


class sigmoid(sp.Function):
    """σ(x) = 1 / (1 + e^{−x})."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)


class softplus(sp.Function):
    """softplus(x) = log(1 + e^x), evaluated without overflow."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])


def _is_log_one_plus_exp(e: sp.Expr) -> bool:
    if isinstance(e, log1p):
        return isinstance(e.args[0], sp.exp)
    if isinstance(e, sp.log) and e.args[0].is_Add and len(e.args[0].args) == 2:
        a, b = e.args[0].args
        return (a == 1 and isinstance(b, sp.exp)) or (b == 1 and isinstance(a, sp.exp))
    return False


def _softplus_of(e: sp.Expr) -> sp.Expr:
    inner = e.args[0] if isinstance(e, log1p) else next(
        a for a in e.args[0].args if isinstance(a, sp.exp)
    )
    return softplus(inner.args[0])


_SOFTPLUS = ReplaceOptim(_is_log_one_plus_exp, _softplus_of)
_RULES = [_SOFTPLUS, *optims_c99, _SOFTPLUS]


def stabilise(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` into stable primitives (softplus, expm1, log1p), then float constants."""
    return optimize(expr, _RULES)


def _np_softplus(x: Any) -> Any:
    return np.logaddexp(0.0, x)


def _torch_namespace() -> dict[str, Callable[..., Any]]:
    import torch

    return {
        "exp": torch.exp,
        "log": torch.log,
        "expm1": torch.expm1,
        "log1p": torch.log1p,
        "sqrt": torch.sqrt,
        "Abs": torch.abs,
        "softplus": lambda x: torch.logaddexp(x, torch.zeros_like(x)),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "sin": torch.sin,
        "cos": torch.cos,
        "atan": torch.atan,
    }


_NUMPY = {
    "exp": np.exp,
    "log": np.log,
    "expm1": np.expm1,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "Abs": np.abs,
    "softplus": _np_softplus,
    "sigmoid": scipy.special.expit,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "atan": np.arctan,
    "LambertW": lambda x: scipy.special.lambertw(x).real,
}
_MPMATH = {
    "softplus": lambda x: mpmath.log1p(mpmath.exp(x)),
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "expm1": mpmath.expm1,
    "log1p": mpmath.log1p,
    "LambertW": mpmath.lambertw,
}


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch")


@dataclass
class Compiled:
    """One stabilised SymPy expression in one variable, callable on NumPy arrays and tensors."""

    expr: sp.Expr
    var: sp.Symbol
    _cache: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.expr = stabilise(self.expr)
        self._numeric = self.expr.evalf(n=20)

    def _fn(self, backend: str) -> Callable[..., Any]:
        if backend not in self._cache:
            if backend == "mpmath":
                self._cache[backend] = sp.lambdify(self.var, self.expr, [_MPMATH, "mpmath"])
            else:
                namespace = _torch_namespace() if backend == "torch" else _NUMPY
                self._cache[backend] = sp.lambdify(self.var, self._numeric, [namespace])
        return self._cache[backend]

    def __call__(self, x: Any) -> Any:
        """Evaluate on a NumPy array (or float) or a torch tensor, keeping its dtype."""
        if is_torch(x):
            out = self._fn("torch")(x)
            return out if is_torch(out) else x.new_full(x.shape, float(out))
        arr = np.asarray(x)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._fn("numpy")(arr) + np.zeros_like(arr)

    def mp(self, x: Any) -> mpmath.mpf:
        """Evaluate in arbitrary precision (mpmath), the reference for the float kernels."""
        return self._fn("mpmath")(mpmath.mpf(x))
