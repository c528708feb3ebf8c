"""Safe parsing of a user's generator ``f(u)`` into a SymPy expression.

The text is parsed with :mod:`ast` and rebuilt node by node from a whitelist: the symbol ``u``
(and ``alpha`` where a value for it is given), numbers, ``+ - * / **`` (``^`` is read as a power),
and the functions in :data:`FUNCTIONS`. Nothing in the text is ever evaluated by Python, so
attribute access, ``__import__`` or any other name is refused before it can run.

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
from collections.abc import Callable

import sympy as sp

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


class ExpressionError(ValueError):
    """A generator text that is not a safe, well-formed expression in u."""


_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.BitXor: lambda a, b: a**b,
}


def parse_generator(text: str, alpha: sp.Expr | None = None) -> sp.Expr:
    """Parse ``text`` as a generator f(u); ``alpha`` replaces the name ``alpha`` if given.

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
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"f {text!r} is not a valid expression: {err.msg}") from None
    expr = _build(tree.body, alpha)
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
        if isinstance(node.op, ast.Pow | ast.BitXor) and right.is_number:
            if abs(float(right)) > MAX_NUMERIC_EXPONENT:
                raise ExpressionError(
                    f"exponent {right} in f is too large (at most {MAX_NUMERIC_EXPONENT})"
                )
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("f may call only plain functions such as log(u), not methods")
        if node.func.id not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(f"unknown function {node.func.id!r} in f; allowed: {allowed}")
        if node.keywords:
            raise ExpressionError(f"{node.func.id}() in f takes no keyword arguments")
        return FUNCTIONS[node.func.id](*(_build(arg, alpha) for arg in node.args))
    if isinstance(node, ast.Attribute):
        raise ExpressionError("attribute access is not allowed in f")
    raise ExpressionError(f"{type(node).__name__} is not allowed in f")
