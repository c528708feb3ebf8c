"""What SymPy derives from f alone, against the Mathematics page's table and Theorem 3.1."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from upo_theory import Condition, derive, get_divergence, registered
from upo_theory.derivation import T, Y
from upo_theory.expressions import U

HALF = sp.Rational(1, 2)
Z = sp.Symbol("z", positive=True)

# the Mathematics page's table, typed from the table (Neyman χ², not in the table, by hand:
# f = u − 2 + 1/u, so f' = 1 − 1/u²): f', sup f' and whether 0 ∉ dom f'.
TABLE = {
    "rkl": (sp.log(U) + 1, sp.oo, True),
    "fkl": (-1 / U, 0, True),
    "js": (sp.log(2 * U / (1 + U)), sp.log(2), True),
    "alpha": ((1 - U ** (-HALF)) / HALF, 1 / HALF, True),
    "hellinger": (1 - U ** (-HALF), 1, True),
    "neyman": (1 - 1 / U**2, 1, True),
    "pearson": (2 * (U - 1), sp.oo, False),
}
ADMISSIBLE = ("rkl", "fkl", "js", "alpha", "hellinger", "neyman")
CHECK_NAMES = ("f(1) = 0", "f differentiable on (0, oo)", "f convex on (0, oo)", "f''(1) > 0",
               "f' strictly increasing", "lim_{u->0+} f'(u) = -oo")


@pytest.mark.parametrize("name", list(TABLE))
def test_derived_f1_f2_and_range_match_the_table(name: str) -> None:
    d = derive(get_divergence(name))
    f1, sup, zero_outside = TABLE[name]
    assert sp.simplify(d.f1 - f1) == 0
    assert sp.simplify(d.f2 - sp.diff(f1, U)) == 0
    assert d.sup_f1 == sup if sup == sp.oo else sp.simplify(d.sup_f1 - sup) == 0
    assert (d.inf_f1 == -sp.oo) is zero_outside
    assert sp.simplify(d.log_ratio_derivative - f1.subs(U, sp.exp(T))) == 0


def test_table_log_space_column() -> None:
    """the Mathematics page's f'(e^t) column, e.g. JS: log 2 + t − softplus(t)."""
    column = {
        "rkl": T + 1,
        "fkl": -sp.exp(-T),
        "js": sp.log(2) + T - sp.log(1 + sp.exp(T)),
        "alpha": (1 - sp.exp(-HALF * T)) / HALF,
        "hellinger": 1 - sp.exp(-T / 2),
        "pearson": 2 * (sp.exp(T) - 1),
    }
    for name, expected in column.items():
        derived = derive(get_divergence(name)).log_ratio_derivative
        assert sp.simplify(derived - expected) == 0, name


@pytest.mark.parametrize("name", ADMISSIBLE)
def test_admissible_divergences_pass_every_check(name: str) -> None:
    d = derive(get_divergence(name))
    assert d.admissible and d.differentiable
    assert d.reason == "admissible for Theorem 3.1"
    assert tuple(c.name for c in d.checks) == CHECK_NAMES
    assert all(c.holds is True and c.method == "symbolic" for c in d.checks)


def test_pearson_is_not_admissible_because_f1_at_zero_is_finite() -> None:
    d = derive(get_divergence("pearson"))
    assert not d.admissible and d.differentiable
    assert d.inf_f1 == -2
    failed = [c for c in d.checks if c.holds is False]
    assert [c.name for c in failed] == ["lim_{u->0+} f'(u) = -oo"]
    assert "f'(0+) = -2" in d.reason and "not admissible" in d.reason


def test_total_variation_is_not_admissible_because_not_differentiable_at_one() -> None:
    d = derive(get_divergence("tv"))
    assert not d.admissible and not d.differentiable
    assert d.f1 is None and d.inverse is None and d.sup_f1 is None
    assert "not differentiable at u = 1" in d.reason
    assert "-1/2" in d.reason and "1/2" in d.reason  # the one-sided derivatives
    skipped = [c for c in d.checks if c.holds is None]
    assert len(skipped) == 4 and all(c.method == "not applicable" for c in skipped)
    with pytest.raises(ValueError, match="not differentiable"):
        _ = d.log_ratio_derivative


@pytest.mark.parametrize("name", list(TABLE))
def test_closed_form_inverse_inverts_f1_symbolically(name: str) -> None:
    d = derive(get_divergence(name))
    assert d.inverse is not None
    assert sp.simplify(d.inverse.subs(Y, d.f1) - U) == 0  # (f')⁻¹(f'(u)) = u
    # f'((f')⁻¹(y)) = y for y in the range (inf f', sup f'), written as y = sup − z, z > 0
    y = Y if d.sup_f1 == sp.oo else d.sup_f1 - Z
    assert sp.simplify(d.f1.subs(U, d.inverse.subs(Y, y)) - y) == 0


@settings(max_examples=30)
@given(st.sampled_from(list(TABLE)), st.floats(-30, 30))
def test_inverse_and_log_inverse_invert_f1_numerically(name: str, t: float) -> None:
    d = derive(get_divergence(name))
    with mpmath.workdps(80):
        u0 = mpmath.exp(mpmath.mpf(t))
        y0 = sp.lambdify(U, d.f1, "mpmath")(u0)
        if not y0 < float(d.sup_f1) - 1e-12:  # f'(u) indistinguishable from sup at this t
            return
        assert abs(sp.lambdify(Y, d.inverse, "mpmath")(y0) / u0 - 1) < 1e-30
        assert abs(sp.lambdify(Y, d.log_inverse, "mpmath")(y0) - t) < 1e-30 * (1 + abs(t))


@settings(max_examples=5)
@given(st.fractions(Fraction(1, 10), Fraction(9, 10), max_denominator=10))
def test_alpha_divergence_for_rational_alpha(alpha: Fraction) -> None:
    a = sp.Rational(alpha.numerator, alpha.denominator)
    d = derive(get_divergence("alpha", alpha=str(alpha)))
    assert sp.simplify(d.f1 - (1 - U ** (-a)) / a) == 0
    assert d.sup_f1 == 1 / a and d.inf_f1 == -sp.oo
    assert d.admissible
    if d.inverse is not None:  # closed form, or the numeric inverse of the kernels
        for u0 in (sp.Rational(1, 7), 3):
            assert abs(complex(d.inverse.subs(Y, d.f1.subs(U, u0)).evalf(30)) - u0) < 1e-20


def test_user_generator_is_derived_like_a_registered_one() -> None:
    d = derive(get_divergence("u*log(u) - log(u)"))  # reverse KL + forward KL
    assert sp.simplify(d.f1 - (sp.log(U) + 1 - 1 / U)) == 0
    assert d.sup_f1 == sp.oo and d.inf_f1 == -sp.oo
    assert d.admissible
    assert d.inverse is not None
    for u0 in (sp.Rational(1, 5), 1, 7):
        assert abs(complex(d.inverse.subs(Y, d.f1.subs(U, u0)).evalf(30)) - u0) < 1e-20


@pytest.mark.parametrize(
    ("text", "failing_check", "in_reason"),
    [
        ("u*log(u) + 1", "f(1) = 0", "f(1) = 1"),
        ("-u*log(u)", "f convex on (0, oo)", "f''("),
        ("(u - 1)**4", "f''(1) > 0", "f''(1) = 0"),
        ("u**3 - 1 - 3*(u - 1)", "lim_{u->0+} f'(u) = -oo", "f'(0+) = -3"),
        ("Max(u, 1) - 1", "f differentiable on (0, oo)", "u = 1"),
        ("abs(log(u))", "f differentiable on (0, oo)", "u = 1"),
    ],
)
def test_user_generators_failing_a_condition_say_which(
    text: str, failing_check: str, in_reason: str
) -> None:
    d = derive(get_divergence(text))
    assert not d.admissible
    assert failing_check in d.reason and in_reason in d.reason
    assert next(c for c in d.checks if c.name == failing_check).holds is False


def test_registered_divergences_are_all_derived() -> None:
    verdicts = {d.name: derive(d).admissible for d in registered()}
    assert verdicts == {**dict.fromkeys(ADMISSIBLE, True), "pearson": False, "tv": False}


# Pairs whose sum SymPy derives in about a second (others take its 5 s solve limit).
QUICK = ("rkl", "fkl", "pearson")


@settings(max_examples=5)
@given(
    st.sampled_from(QUICK), st.sampled_from(QUICK),
    st.fractions(Fraction(1, 4), Fraction(4), max_denominator=4),
    st.fractions(Fraction(1, 4), Fraction(4), max_denominator=4),
)
def test_derivation_is_linear_and_admissibility_needs_one_unbounded_f1(
    first: str, second: str, a: Fraction, b: Fraction
) -> None:
    """For f = a f₁ + b f₂ (a, b > 0, as a user's expression): f' = a f₁' + b f₂', and f is
    admissible exactly when some f_i' → −∞ at 0 (Pearson χ² plus any other one is)."""
    ra, rb = sp.Rational(a.numerator, a.denominator), sp.Rational(b.numerator, b.denominator)
    f1, f2 = get_divergence(first).f, get_divergence(second).f
    combined = derive(get_divergence(f"({ra})*({f1}) + ({rb})*({f2})"))
    d1, d2 = derive(get_divergence(first)), derive(get_divergence(second))
    assert sp.simplify(combined.f1 - (ra * d1.f1 + rb * d2.f1)) == 0
    assert combined.admissible is (first != "pearson" or second != "pearson")


@pytest.mark.parametrize("pair", [("js", "hellinger"), ("alpha", "js")])
def test_derivation_survives_sympy_failing_to_solve(pair: tuple[str, str]) -> None:
    """sp.solve raised TypeError (an undecidable relational) for these sums; now no closed form."""
    f = " + ".join(f"({get_divergence(name).f})" for name in pair)
    d = derive(get_divergence(f))
    assert d.admissible
    assert sp.simplify(d.f1 - sum(derive(get_divergence(n)).f1 for n in pair)) == 0


# --- what SymPy cannot settle -----------------------------------------------------------------

@pytest.mark.parametrize("text", ["Abs(u-1)**1.5", "Abs(u-1)**3", "Max(u*log(u), u-1)"])
def test_sympy_failures_become_checks_never_exceptions(text: str) -> None:
    """These raised inside SymPy (gruntz's mrv, a Piecewise's BooleanTrue, a ConditionSet's
    infimum); now every condition holds, fails or is undecided, and the verdict says which."""
    d = derive(get_divergence(text))
    assert len(d.checks) == len(Condition)
    assert all(c.holds is not None or c.method in ("undecided", "not applicable")
               for c in d.checks)
    assert not d.admissible and d.failure() is not None
    assert d.failure().name in d.reason


def test_an_undecided_condition_is_a_failure_by_name() -> None:
    d = derive(get_divergence("Max(u*log(u), u-1)"))
    failed = d.failure()
    assert (failed.condition, failed.method, failed.holds) == (
        Condition.DIFFERENTIABLE, "undecided", None)
    assert d.reason.startswith("admissibility for Theorem 3.1 undecided: f differentiable")
    assert d.failure((Condition.NORMALISED,)) is None  # f(1) = 0 holds


def test_a_piecewise_second_derivative_is_not_read_at_its_point_branch() -> None:
    """SymPy differentiates |u - 1|^(3/2) to a branch 'f'' = 0 at u = 1', but f''(1±) = +oo: the
    check must not say f''(1) = 0 fails. |u - 1|^3 has f''(1) = 0 for real."""
    check = next(c for c in derive(get_divergence("Abs(u-1)**1.5")).checks
                 if c.condition is Condition.STRICTLY_CONVEX_AT_ONE)
    assert check.holds is not False
    cubic = next(c for c in derive(get_divergence("Abs(u-1)**3")).checks
                 if c.condition is Condition.STRICTLY_CONVEX_AT_ONE)
    assert cubic.holds is False and "f''(1) = 0" in cubic.detail


def test_a_limit_sympy_cannot_take_is_estimated_and_says_so() -> None:
    """lim_{u->0+} f'(u) for |u - 1|^(3/2): SymPy's gruntz fails; f'(u) at 1e-50.. is -3/2."""
    d = derive(get_divergence("Abs(u-1)**1.5"))
    check = next(c for c in d.checks if c.condition is Condition.INFINITE_AT_ZERO)
    assert (check.holds, check.method) == (False, "numeric")
    assert float(d.inf_f1) == pytest.approx(-1.5, rel=1e-12)


def test_every_condition_and_every_check_has_its_latex() -> None:
    """Each condition of Theorem 3.1 and the reason of each check, for the registered f and f
    that fail, are undecided or only numeric, in LaTeX for the pages (balanced ``$``, none of
    the terminal's plain-text maths outside them), beside the plain text the terminal prints."""
    from docs_helpers import latex_prose_problems

    for condition in Condition:
        assert not latex_prose_problems(condition.latex), condition
        assert condition.latex != condition.value and "$" in condition.latex
    odd = ["Abs(u-1)**1.5", "Abs(u-1)**3", "1 - u**2", "sin(u)", "Abs(u-1)"]
    verdicts = set()
    for div in [*registered(), *map(get_divergence, odd)]:
        derivation = derive(div)
        for check in derivation.checks:
            assert check.latex == check.condition.latex
            assert not latex_prose_problems(check.detail_latex), (div.label, check)
        assert not latex_prose_problems(derivation.reason_latex), derivation.reason_latex
        verdicts.add(derivation.reason_latex.split(":")[0])
    assert len(verdicts) == 3, verdicts  # admissible, not admissible, undecided
    tv = {c.condition: c for c in derive(get_divergence("tv")).checks}
    assert tv[Condition.DIFFERENTIABLE].detail_latex == (
        r"not differentiable at $u = 1$: $f'(1^-) = - \frac{1}{2}$, $f'(1^+) = \frac{1}{2}$")
    pearson = {c.condition: c for c in derive(get_divergence("pearson")).checks}
    assert pearson[Condition.INFINITE_AT_ZERO].detail_latex.startswith("$f'(0^+) = -2$ is finite")
