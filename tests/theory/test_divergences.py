"""The registry of generators f: names, aliases, α, user expressions, the docs' f column."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from upo_theory import REGISTRY, Divergence, ExpressionError, get_divergence, registered
from upo_theory.divergences import DEFAULT_ALPHA, as_alpha
from upo_theory.expressions import U

A = sp.Symbol("a", positive=True)

# the Mathematics page's f column, typed from the table (not from the code).
TABLE_F = {
    "rkl": lambda a: U * sp.log(U),
    "fkl": lambda a: -sp.log(U),
    "js": lambda a: U * sp.log(U) - (U + 1) * sp.log((U + 1) / 2),
    "alpha": lambda a: (U ** (1 - a) - (1 - a) * U - a) / (a * (a - 1)),
    "hellinger": lambda a: (sp.sqrt(U) - 1) ** 2,
    "neyman": lambda a: (U - 1) ** 2 / U,
    "pearson": lambda a: (U - 1) ** 2,
    "tv": lambda a: sp.Abs(U - 1) / 2,
}


def test_registry_holds_the_eight_divergences_of_the_issue() -> None:
    assert list(REGISTRY) == list(TABLE_F)
    assert [d.name for d in registered()] == list(TABLE_F)


@pytest.mark.parametrize("name", list(TABLE_F))
def test_registered_f_is_the_table_f(name: str) -> None:
    d = get_divergence(name)
    a = d.params.get("alpha", DEFAULT_ALPHA)
    assert sp.simplify(d.f - TABLE_F[name](a)) == 0
    assert d.f.free_symbols == {U}


@given(st.fractions(min_value=Fraction(1, 50), max_value=Fraction(49, 50), max_denominator=50))
def test_alpha_divergence_has_the_given_alpha(alpha: Fraction) -> None:
    d = get_divergence("alpha", alpha=f"{alpha.numerator}/{alpha.denominator}")
    a = sp.Rational(alpha.numerator, alpha.denominator)
    assert d.params == {"alpha": a}
    assert d.label == f"alpha(alpha={a})"
    assert sp.simplify(d.f - TABLE_F["alpha"](a)) == 0


@pytest.mark.parametrize(
    ("alias", "name"),
    [("reverse_kl", "rkl"), ("KL", "rkl"), ("forward-kl", "fkl"), ("Jensen-Shannon", "js"),
     ("chi2", "pearson"), ("pearson_chi2", "pearson"), ("neyman_chi2", "neyman"),
     ("total_variation", "tv"), ("  js ", "js")],
)
def test_aliases_resolve_to_the_registered_generator(alias: str, name: str) -> None:
    d = get_divergence(alias)
    assert d.name == name
    assert d.f == get_divergence(name).f


@pytest.mark.parametrize("f", ["js", "rkl", "u*log(u)"])
def test_alpha_for_a_divergence_without_it_is_refused_not_ignored(f: str) -> None:
    """An option the run would ignore is a mistake the user should hear of (issue 28)."""
    with pytest.raises(ExpressionError, match="has no alpha"):
        get_divergence(f, alpha=0.3)
    assert get_divergence(f).params == {}
    assert get_divergence("u**alpha - 1", alpha=0.3).params == {"alpha": sp.Rational(3, 10)}


@pytest.mark.parametrize(
    ("given_alpha", "expected"),
    [(None, sp.Rational(1, 2)), (0.3, sp.Rational(3, 10)), ("1/3", sp.Rational(1, 3)),
     (sp.Rational(2, 7), sp.Rational(2, 7)), ("1e-2", sp.Rational(1, 100)),
     (0.25, sp.Rational(1, 4))],
)
def test_alpha_is_read_exactly(given_alpha: object, expected: sp.Rational) -> None:
    assert as_alpha(given_alpha) == expected  # type: ignore[arg-type]
    assert get_divergence("alpha", alpha=given_alpha).params["alpha"] == expected  # type: ignore


def test_a_float_that_rounds_a_simple_fraction_is_that_fraction() -> None:
    """1/3 as a float is 0.3333333333333333 = 3333333333333333/10**16 exactly, whose
    u**(-alpha) SymPy needs minutes for; it means 1/3."""
    assert as_alpha(1 / 3) == sp.Rational(1, 3)
    assert as_alpha(2 / 7) == sp.Rational(2, 7)
    assert as_alpha("0.999") == sp.Rational(999, 1000)


@pytest.mark.parametrize("bad", ["0.12345", "1/1001", 1e-20])
def test_alpha_needing_a_large_denominator_is_refused(bad: object) -> None:
    with pytest.raises(ExpressionError, match="denominator"):
        as_alpha(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 1, -0.5, 1.5, "3/2", "nan", "inf", "1/0", "abc", "", True])
def test_alpha_outside_the_open_unit_interval_is_refused(bad: object) -> None:
    with pytest.raises(ExpressionError) as info:
        get_divergence("alpha", alpha=bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert "alpha" in message and "0 < alpha < 1" in message and "\n" not in message


def test_alpha_text_is_never_evaluated(tmp_path: Path) -> None:
    target = tmp_path / "created"
    payload = f"__import__('os').system('touch {target}')"
    with pytest.raises(ExpressionError):
        get_divergence("alpha", alpha=payload)
    with pytest.raises(ExpressionError):
        get_divergence("u**(1 - alpha)", alpha=payload)
    assert not target.exists()


def test_user_generator_keeps_its_text_as_name() -> None:
    d = get_divergence(" u*log(u) - log(u) ")
    assert isinstance(d, Divergence)
    assert d.name == "u*log(u) - log(u)" and d.title == "user-defined f"
    assert sp.simplify(d.f - (U * sp.log(U) - sp.log(U))) == 0
    assert d.params == {}


def test_user_generator_with_alpha() -> None:
    d = get_divergence("(u**(1 - alpha) - (1 - alpha)*u - alpha)/(alpha*(alpha - 1))", alpha="1/4")
    assert d.params == {"alpha": sp.Rational(1, 4)}
    assert sp.simplify(d.f - get_divergence("alpha", alpha="1/4").f) == 0
    with pytest.raises(ExpressionError, match="alpha"):
        get_divergence("u**alpha - 1")


def test_unknown_name_is_parsed_as_an_expression_and_refused() -> None:
    with pytest.raises(ExpressionError, match="'kullback'"):
        get_divergence("kullback")


def test_a_user_f_whose_limit_at_zero_sympy_cannot_take_still_compiles() -> None:
    """f(0+) for Max(u log u, u - 1) (SymPy's limit raises): estimated numerically, = 0."""
    from upo_theory import generator_function

    g = generator_function(get_divergence("Max(u*log(u), u-1)"))
    assert g.at_zero == pytest.approx(0.0, abs=1e-40)
    assert float(g(0.5)) == pytest.approx(0.5 * math.log(0.5), rel=1e-14)
