"""Safe parsing of a user's generator ``f(u)`` into a SymPy expression.

The text is parsed with :mod:`ast` and rebuilt node by node from a whitelist: the symbol ``u``
(and ``alpha`` where a value for it is given), numbers, ``+ - * / **`` (``^`` is read as ``**``,
with the precedence of a power), and the functions in :data:`FUNCTIONS`. Nothing in the text is
ever evaluated by Python, so attribute access, ``__import__`` or any other name is refused before
it can run. Numeric powers are bounded (:data:`MAX_NUMERIC_EXPONENT`, :data:`MAX_NUMERIC_DIGITS`)
so that no text can make SymPy build an astronomically large number, and an f with an undefined,
infinite or complex constant (``1/0``, ``log(0)``, ``sqrt(-1)``) is refused.

Examples
--------
>>> parse_generator("u*log(u) - log(u)")
u*log(u) - log(u)
>>> parse_generator("u.__class__")
Traceback (most recent call last):
...
upo_theory.expressions.ExpressionError: attribute access is not allowed in f
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import sympy as sp

from .errors import UserError

U = sp.Symbol("u", positive=True)
"""The argument of every generator: the likelihood ratio u = π/π_ref > 0."""

ALPHA = sp.Symbol("alpha", positive=True)

FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "log": sp.log,
    "ln": sp.log,
    "exp": sp.exp,
    "sqrt": sp.sqrt,
    "Abs": sp.Abs,
    "abs": sp.Abs,
    "sin": sp.sin,
    "cos": sp.cos,
    "tanh": sp.tanh,
    "atan": sp.atan,
    "Max": sp.Max,
    "Min": sp.Min,
}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
MAX_LENGTH = 500
MAX_NUMERIC_EXPONENT = 1000
MAX_NUMERIC_DIGITS = 1000


class ExpressionError(UserError):
    """A generator text that is not a safe, well-formed expression in u."""


_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def parse_generator(text: str, alpha: sp.Expr | None = None) -> sp.Expr:
    """Parse ``text`` as a generator f(u); ``alpha`` replaces the name ``alpha`` if given.

    Parameters
    ----------
    text : str
        The generator as an expression in ``u`` (``"u*log(u)"``).
    alpha : sympy.Expr, optional
        The value of ``alpha`` in ``text``.

    Returns
    -------
    sympy.Expr
        f(u).

    Raises
    ------
    ExpressionError
        For anything outside the whitelist, a syntax error, or an expression without u.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("f is empty; give an expression in u such as 'u*log(u)'")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"f is {len(text)} characters long; at most {MAX_LENGTH} allowed")
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"f {text!r} is not a valid expression: {err.msg}") from None
    expr = _build(tree.body, alpha)
    _check_numbers(expr)
    if expr.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity):
        raise ExpressionError(f"f {text!r} has an undefined or infinite value (e.g. 1/0, log(0))")
    if expr.has(sp.I):
        raise ExpressionError(f"f {text!r} is complex (e.g. sqrt(-1)); f must be real for u > 0")
    if U not in expr.free_symbols:
        raise ExpressionError(f"f {text!r} does not depend on u")
    return expr


def _build(node: ast.AST, alpha: sp.Expr | None) -> sp.Expr:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError(f"only numbers are allowed as constants in f, not {node.value!r}")
        return sp.nsimplify(node.value) if isinstance(node.value, float) else sp.Integer(node.value)
    if isinstance(node, ast.Name):
        if node.id == "u":
            return U
        if node.id == "alpha":
            if alpha is None:
                raise ExpressionError("f uses alpha: give its value (--alpha)")
            return alpha
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ExpressionError(f"unknown name {node.id!r} in f; the variable is u")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _build(node.operand, alpha)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _build(node.left, alpha), _build(node.right, alpha)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("f may call only plain functions such as log(u), not methods")
        if node.func.id not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(f"unknown function {node.func.id!r} in f; allowed: {allowed}")
        if node.keywords:
            raise ExpressionError(f"{node.func.id}() in f takes no keyword arguments")
        args = [_build(arg, alpha) for arg in node.args]
        try:
            return FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError) as err:
            raise ExpressionError(f"{node.func.id}() in f: {err}") from None
    if isinstance(node, ast.Attribute):
        raise ExpressionError("attribute access is not allowed in f")
    raise ExpressionError(f"{type(node).__name__} is not allowed in f")


def _check_power(base: sp.Expr, exponent: sp.Expr) -> None:
    """Refuse ``base**exponent`` if the exponent is a number above :data:`MAX_NUMERIC_EXPONENT`
    in size, or the power is a number of more than :data:`MAX_NUMERIC_DIGITS` digits."""
    if not exponent.is_number or exponent.is_finite is not True:
        return  # symbolic, or undefined (refused once the whole f is built)
    if abs(exponent) > MAX_NUMERIC_EXPONENT:
        shown = exponent if len(str(exponent)) <= 20 else sp.N(exponent, 3)
        raise ExpressionError(
            f"exponent {shown} in f is too large (at most {MAX_NUMERIC_EXPONENT} in size)"
        )
    if base.is_number and base.is_finite and base != 0:
        digits = float(abs(exponent)) * _digits(base)
        if digits > MAX_NUMERIC_DIGITS:
            raise ExpressionError(
                f"a number in f would have about {digits:.3g} digits "
                f"(at most {MAX_NUMERIC_DIGITS}); simplify the constants"
            )


def _check_numbers(expr: sp.Expr) -> None:
    """Refuse an f holding a rational with more than :data:`MAX_NUMERIC_DIGITS` digits (a
    product of allowed powers can build one; Python cannot even print it)."""
    for number in expr.atoms(sp.Rational):
        digits = _digits(number)
        if digits > MAX_NUMERIC_DIGITS:
            raise ExpressionError(
                f"a number in f has about {digits:.3g} digits (at most "
                f"{MAX_NUMERIC_DIGITS}); simplify the constants"
            )


def _digits(number: sp.Expr) -> float:
    """Decimal digits of a rational's numerator or denominator, or of another number's size."""
    if number.is_Rational:  # from the bit length: str() of a huge int is itself refused
        return max(abs(number.p).bit_length(), number.q.bit_length()) * math.log10(2)
    try:
        return abs(float(sp.log(sp.Abs(number), 10).evalf(5)))
    except TypeError:
        return 0.0
