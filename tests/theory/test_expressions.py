"""The safe parser of a user's f(u): what it accepts, what it refuses, that it never runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from upo_theory import ExpressionError, get_divergence, parse_generator
from upo_theory.expressions import FUNCTIONS, MAX_LENGTH, MAX_NUMERIC_EXPONENT, U

ONE_ARG = ("log", "ln", "exp", "sqrt", "Abs", "abs", "sin", "cos", "tanh", "atan")
_SYMPY_ONE_ARG = {"log": sp.log, "ln": sp.log, "exp": sp.exp, "sqrt": sp.sqrt, "Abs": sp.Abs,
                  "abs": sp.Abs, "sin": sp.sin, "cos": sp.cos, "tanh": sp.tanh, "atan": sp.atan}


def _refused(text: str, **kwargs: object) -> str:
    """The one-line message with which ``text`` is refused."""
    with pytest.raises(ExpressionError) as info:
        parse_generator(text, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert message and "\n" not in message and len(message) < MAX_LENGTH + 200, message
    return message


# --- accepted --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("u*log(u) - log(u)", U * sp.log(U) - sp.log(U)),
        ("(sqrt(u) - 1)**2", (sp.sqrt(U) - 1) ** 2),
        ("(sqrt(u) - 1)^2", (sp.sqrt(U) - 1) ** 2),
        ("u^3 - 1", U**3 - 1),
        ("2*u^2 - u^3/3", 2 * U**2 - U**3 / 3),
        ("-u^2 + 1", 1 - U**2),
        ("u^-1", 1 / U),
        ("-ln(u)", -sp.log(U)),
        ("abs(u - 1)/2", sp.Abs(U - 1) / 2),
        ("Max(u, 1) - Min(u, 1)", sp.Max(U, 1) - sp.Min(U, 1)),
        ("0.5*u - 1/2", U / 2 - sp.Rational(1, 2)),
        ("exp(u) - E", sp.exp(U) - sp.E),
        ("atan(u) - pi/4", sp.atan(U) - sp.pi / 4),
        ("+u - 1", U - 1),
    ],
)
def test_whitelisted_expressions_parse_to_sympy(text: str, expected: sp.Expr) -> None:
    assert sp.simplify(parse_generator(text) - expected) == 0


def test_alpha_is_replaced_by_its_value() -> None:
    a = sp.Rational(1, 3)
    parsed = parse_generator("(u**(1 - alpha) - (1 - alpha)*u - alpha)/(alpha*(alpha - 1))", a)
    expected = (U ** (1 - a) - (1 - a) * U - a) / (a * (a - 1))
    assert sp.simplify(parsed - expected) == 0
    assert parsed.free_symbols == {U}


def test_the_argument_u_is_positive() -> None:
    """u = π/π_ref > 0, so log(u**2) = 2 log u must simplify."""
    assert sp.simplify(sp.expand_log(parse_generator("log(u**2)")) - 2 * sp.log(U)) == 0


# A grammar of whitelisted expressions, rendered as text and built directly in SymPy.
_LEAVES = st.one_of(
    st.just(("u", U)),
    st.integers(1, 9).map(lambda n: (str(n), sp.Integer(n))),
    st.sampled_from([("0.25", sp.Rational(1, 4)), ("pi", sp.pi), ("E", sp.E)]),
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
        lambda x: (f"({x[0][0]}) {x[1]} ({x[2][0]})",
                   {"+": sp.Add, "-": lambda a, b: a - b, "*": sp.Mul,
                    "/": lambda a, b: a / b}[x[1]](x[0][1], x[2][1]))
    )
    power = st.tuples(children, st.integers(-3, 3), st.sampled_from(["**", "^"])).map(
        lambda x: (f"({x[0][0]}){x[2]}({x[1]})", x[0][1] ** x[1])
    )
    call = st.tuples(st.sampled_from(ONE_ARG), children).map(
        lambda x: (f"{x[0]}({x[1][0]})", _SYMPY_ONE_ARG[x[0]](x[1][1]))
    )
    return st.one_of(binary, power, call)


_EXPRESSIONS = st.recursive(_LEAVES, _extend, max_leaves=8)


@settings(max_examples=80)
@given(_EXPRESSIONS)
def test_parser_agrees_with_sympy_built_directly(pair: tuple[str, sp.Expr]) -> None:
    text, expected = pair
    if U not in expected.free_symbols:
        _refused(text)
    else:
        assert parse_generator(text) == expected


# --- refused ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "in_message"),
    [
        ("u.__class__", "attribute"),
        ("log(u).func", "attribute"),
        ("__import__('os').system('true')", "not methods"),
        ("__import__('os')", "__import__"),
        ("x*log(x)", "'x'"),
        ("u*log(v)", "'v'"),
        ("alpha*u", "alpha"),
        ("(lambda: u)()", "plain functions"),
        ("lambda u: u", "Lambda"),
        ("[u for u in (1, 2)]", "ListComp"),
        ("sum(u for u in (1, 2))", "sum"),
        ("'u' + u", "constants"),
        ("b'u'", "constants"),
        ("u + 1j", "constants"),
        ("u + True", "constants"),
        ("u + None", "constants"),
        ("log(u, base=2)", "keyword"),
        ("open('f', 'w')", "'open'"),
        ("eval('u')", "'eval'"),
        ("u if u > 1 else 1", "IfExp"),
        ("u < 1", "Compare"),
        ("[u]", "List"),
        ("{u: 1}", "Dict"),
        ("(u, 1)", "Tuple"),
        ("(v := u)", "NamedExpr"),
        ("u % 2", "BinOp"),
        ("u // 2", "BinOp"),
        ("~u", "UnaryOp"),
        ("u**2000", "exponent"),
        ("u**(10**10)", "exponent"),
        ("2**(-5000)*u", "exponent"),
        ("u**", "not a valid expression"),
        ("u; import os", "not a valid expression"),
        ("", "empty"),
        ("   ", "empty"),
        ("log(2) + 1", "does not depend on u"),
        ("pi", "does not depend on u"),
    ],
)
def test_refused_with_a_one_line_message(text: str, in_message: str) -> None:
    assert in_message in _refused(text)


def test_refuses_non_strings_and_overlong_text() -> None:
    _refused(None)  # type: ignore[arg-type]
    assert str(MAX_LENGTH) in _refused("u+" * MAX_LENGTH + "u")


def test_exponents_up_to_the_limit_are_accepted() -> None:
    assert parse_generator(f"u**{MAX_NUMERIC_EXPONENT}") == U**MAX_NUMERIC_EXPONENT
    assert parse_generator(f"u^(-{MAX_NUMERIC_EXPONENT})") == U**-MAX_NUMERIC_EXPONENT


@pytest.mark.parametrize(
    "text",
    [
        "2**1000**1000*u",  # an exponent with a thousand digits
        "((999**999)**999)**999*u",  # each exponent small, the number astronomically large
        "(10**999)**(10**999)*u",
        # each factor allowed, their product 5700 digits: Python could not even print it
        "9**999*9**999*9**999*9**999*9**999*9**999*u",
        "u/(7**999*7**999)",
    ],
)
def test_numbers_too_large_to_build_are_refused_at_once(text: str) -> None:
    message = _refused(text)
    assert "digits (at most 1000)" in message and "simplify the constants" in message


@pytest.mark.parametrize(
    "text",
    [
        "log()",  # wrong number of arguments
        "exp(u, u)",
        "Abs(u, u, u)",
        "u + 1/0",  # undefined numbers
        "u*log(0)",
        "u**(0/0)",
        "u**log(0)",
        "1e400*u",
        "u**sqrt(-1)",  # complex values
        "u + sqrt(-1)",
    ],
)
def test_malformed_calls_and_undefined_numbers_are_expression_errors(text: str) -> None:
    message = _refused(text)  # names what is wrong
    assert any(why in message for why in ("argument", "undefined or infinite", "is complex"))


# Fuzzing: random token strings over the whitelist and beyond either parse to an expression in u
# or are refused with ExpressionError; no other exception escapes.
_TOKENS = ["u", "u", "(", ")", "+", "-", "*", "/", "**", "^", ",", "0", "1", "2", "0.5", "1e400",
           "log", "exp", "sqrt", "Abs", "Max", "Min", "pi", "E", "alpha", "x", ".", "'", "[", "]",
           "lambda", ":", "=", "not", "if", "else", "%", "~"]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=12), st.booleans())
def test_fuzzed_text_parses_or_is_refused_cleanly(tokens: list[str], with_alpha: bool) -> None:
    text = " ".join(tokens)
    alpha = sp.Rational(1, 3) if with_alpha else None
    try:
        expr = parse_generator(text, alpha)
    except ExpressionError as err:
        message = str(err)
        assert message and "\n" not in message
        return
    assert U in expr.free_symbols
    assert expr.free_symbols == {U}
    assert not expr.has(sp.zoo, sp.nan, sp.oo, sp.I)


# --- never evaluated -------------------------------------------------------------------------

def _payloads(target: Path) -> list[str]:
    return [
        f"__import__('os').system('touch {target}')",
        f"open('{target}', 'w')",
        f"u + __import__('pathlib').Path('{target}').touch()",
        f"exec(\"open('{target}', 'w')\")",
        f"u*log(u) + eval(\"open('{target}', 'w')\")",
        "().__class__.__bases__[0].__subclasses__()",
    ]


def test_payloads_are_refused_and_never_run(tmp_path: Path) -> None:
    target = tmp_path / "created"
    for payload in _payloads(target):
        _refused(payload)
        with pytest.raises(ExpressionError):
            get_divergence(payload)
        assert not target.exists(), payload


def test_functions_are_exactly_the_documented_whitelist() -> None:
    assert set(FUNCTIONS) == {*ONE_ARG, "Max", "Min"}
