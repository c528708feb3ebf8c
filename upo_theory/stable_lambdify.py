"""Turning a SymPy expression into numerically stable NumPy / torch / mpmath functions.

One SymPy expression is the single definition; :func:`stabilise` rewrites it into primitives that
do not cancel or overflow needlessly (``log(1 + e^x) → softplus(x)``, ``e^x − 1 → expm1(x)``,
``log(1 + x) → log1p(x)``, ``softplus(x) − x → softplus(−x)``, ``1 − σ(x) → σ(−x)``,
``W(e^x) → ω(x)``), and :class:`Compiled` lambdifies the result once per backend. NumPy and
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


class wrightomega(sp.Function):
    """The Wright omega function ω(x) = W(e^x), evaluated without forming e^x."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        w = wrightomega(self.args[0])
        return w / (1 + w)


def _is_lambertw_of_exp(e: sp.Expr) -> bool:
    return isinstance(e, sp.LambertW) and len(e.args) == 1 and isinstance(e.args[0], sp.exp)


def _wrightomega_of(e: sp.Expr) -> sp.Expr:
    """W(e^x) → ω(x): e^x overflows for x > 709 where ω(x) ≈ x − log x is moderate."""
    return wrightomega(e.args[0].args[0])


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


def _minus_sigmoid_argument(e: sp.Expr) -> sp.Expr | None:
    """x if ``e`` is −σ(x), else None."""
    if e.is_Mul and len(e.args) == 2 and e.args[0] == -1 and isinstance(e.args[1], sigmoid):
        return e.args[1].args[0]
    return None


def _is_one_minus_sigmoid(e: sp.Expr) -> bool:
    return bool(e.is_Add) and sp.S.One in e.args and any(
        _minus_sigmoid_argument(a) is not None for a in e.args
    )


def _sigmoid_of_minus(e: sp.Expr) -> sp.Expr:
    """1 − σ(x) + rest → σ(−x) + rest: exact where 1 − σ(x) cancels (σ(x) → 1 as x → ∞)."""
    rest = list(e.args)
    rest.remove(sp.S.One)
    term = next(a for a in rest if _minus_sigmoid_argument(a) is not None)
    rest.remove(term)
    return sp.Add(sigmoid(-_minus_sigmoid_argument(term)), *rest)


def _softplus_pair(e: sp.Expr) -> tuple[sp.Expr, sp.Expr, int] | None:
    """(±softplus(x), ∓x, ±1) if the sum ``e`` has such a pair of terms, else None."""
    if not e.is_Add:
        return None
    for term in e.args:
        sign = -1 if term.is_Mul and term.args[0] == -1 else 1
        inner = -term if sign == -1 else term
        if isinstance(inner, softplus) and -sign * inner.args[0] in e.args:
            return term, -sign * inner.args[0], sign
    return None


def _is_softplus_pair(e: sp.Expr) -> bool:
    return _softplus_pair(e) is not None


def _softplus_of_minus(e: sp.Expr) -> sp.Expr:
    """±(softplus(x) − x) + rest → ±softplus(−x) + rest: exact where softplus(x) − x cancels."""
    term, x_term, sign = _softplus_pair(e)  # type: ignore[misc]
    rest = list(e.args)
    rest.remove(term)
    rest.remove(x_term)
    return sp.Add(sign * softplus(sign * x_term), *rest)


_SOFTPLUS = ReplaceOptim(_is_log_one_plus_exp, _softplus_of)
_TAIL = ReplaceOptim(_is_softplus_pair, _softplus_of_minus)
_SIGMOID = ReplaceOptim(_is_one_minus_sigmoid, _sigmoid_of_minus)
_OMEGA = ReplaceOptim(_is_lambertw_of_exp, _wrightomega_of)
_RULES = [_OMEGA, _SOFTPLUS, *optims_c99, _SOFTPLUS, _TAIL, _SIGMOID]


def stabilise(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` into stable primitives (softplus, expm1, log1p, σ(−x), ω(x))."""
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
    "wrightomega": scipy.special.wrightomega,
}
_MPMATH = {
    "softplus": lambda x: mpmath.log1p(mpmath.exp(x)),
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "expm1": mpmath.expm1,
    "log1p": mpmath.log1p,
    "LambertW": mpmath.lambertw,
    "wrightomega": lambda x: mpmath.lambertw(mpmath.exp(x)),
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
