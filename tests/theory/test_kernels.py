"""The log-space kernels k(t) = f'(e^t): accuracy against mpmath (values, differences and autograd
gradients at the log-ratios sequences produce, |t| ≤ 200), NumPy = torch, finiteness and
gradients for |t| ≤ 1e4, monotonicity, slope and the inverse log (f')⁻¹."""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from upo_theory import Divergence, NotDifferentiableError, derive, get_divergence, kernel_for
from upo_theory.expressions import U
from upo_theory.kernels import T_MAX, LogSpaceKernel, cap

# Every admissible registered f, α for several values, Pearson χ² (differentiable, not
# admissible) and two user generators: one with a LambertW inverse, one without a closed form.
CASES: dict[str, Divergence] = {
    **{n: get_divergence(n) for n in ("rkl", "fkl", "js", "hellinger", "neyman", "pearson")},
    **{f"alpha={a}": get_divergence("alpha", alpha=a) for a in ("1/2", "1/3", "3/4", "1/10")},
    "rkl+fkl": get_divergence("u*log(u) - log(u)"),
    "no closed inverse": get_divergence("u**2/2 - log(u) + u*log(u) - u + 1/2"),
}
IDS = list(CASES)
EPS = {np.float64: float(np.finfo(np.float64).eps), np.float32: float(np.finfo(np.float32).eps)}
TORCH = {np.float64: torch.float64, np.float32: torch.float32}
DTYPES = (np.float64, np.float32)

T_WIDE = st.floats(-T_MAX, T_MAX)
T_NARROW = st.floats(-60.0, 60.0)
T_ANY = st.one_of(T_WIDE, T_NARROW)
TS = st.lists(T_ANY, min_size=1, max_size=12)


def _kernel(case: str) -> LogSpaceKernel:
    return kernel_for(CASES[case])


_REFERENCE: dict[tuple[str, int], Callable[[mpmath.mpf], mpmath.mpf]] = {}


def reference(case: str, t: float, order: int = 1) -> mpmath.mpf:
    """f'(e^t) (order 1) or f''(e^t) e^t (order 2): SymPy's f' and f'' (simplified, so that no
    terms of size e^{±2t} cancel) lambdified in mpmath at u = e^t, with 60 digits beyond those
    that u = 1 + t needs for a tiny t and that e^{-2|t|} needs beside a constant."""
    key = (case, order)
    if key not in _REFERENCE:
        d = derive(CASES[case])
        _REFERENCE[key] = sp.lambdify(U, d.f1 if order == 1 else d.f2 * U, "mpmath")
    # enough digits to resolve u = 1 + t for tiny t, and e^{-2|t|} next to a constant
    digits = 60 + (int(-math.log10(abs(t))) if 0 < abs(t) < 1 else int(min(abs(t), 400)))
    with mpmath.workdps(digits):
        return _REFERENCE[key](mpmath.exp(mpmath.mpf(t)))


def _inside(kernel: LogSpaceKernel, t: np.ndarray, dtype: type) -> np.ndarray:
    lo, hi = kernel.bounds(dtype)
    return (t >= lo) & (t <= hi)


def _tolerance(value: float, t: float, dtype: type) -> float:
    """rtol ~1e-10 (float64) / ~1e-5 (float32), and an atol for the rounding of t itself and of
    the constants, which dominates where k crosses 0."""
    rtol = 1e-10 if dtype is np.float64 else 3e-5
    return rtol * abs(value) + 16 * EPS[dtype] * (1 + abs(t))


# --- accuracy ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", IDS)
@settings(max_examples=25)
@given(ts=TS)
def test_kernel_equals_sympy_f1_in_mpmath(case: str, dtype: type, ts: list[float]) -> None:
    kernel = _kernel(case)
    t = np.asarray(ts, dtype=dtype)
    values = kernel(t)
    assert values.dtype == dtype
    for ti, ki in zip(t[_inside(kernel, t, dtype)], values[_inside(kernel, t, dtype)], strict=True):
        exact = reference(case, float(ti))
        if not mpmath.isfinite(exact) or abs(exact) > np.finfo(dtype).max:
            continue
        assert abs(float(ki) - exact) <= _tolerance(float(exact), float(ti), dtype), (ti, ki, exact)


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=25)
@given(ts=TS)
def test_slope_equals_sympy_f2_times_u_in_mpmath(case: str, ts: list[float]) -> None:
    kernel = _kernel(case)
    t = np.asarray(ts, dtype=np.float64)
    slopes = kernel.slope(t)
    assert slopes.dtype == np.float64
    inside = _inside(kernel, t, np.float64)
    for ti, si in zip(t[inside], slopes[inside], strict=True):
        exact = reference(case, float(ti), order=2)
        assert abs(float(si) - exact) <= 1e-10 * abs(exact) + 1e-300, (ti, si, exact)


@pytest.mark.parametrize("case", IDS)
def test_slope_equals_a_finite_difference_of_the_kernel(case: str) -> None:
    kernel = _kernel(case)
    t = np.linspace(-40.0, 40.0, 81)
    h = 1e-5
    central = (kernel(t + h) - kernel(t - h)) / (2 * h)
    scale = np.abs(kernel(t)) + 1.0
    np.testing.assert_allclose(central, kernel.slope(t), rtol=1e-6, atol=1e-9 * scale.max())


# --- NumPy and torch from one definition ------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", IDS)
@settings(max_examples=20)
@given(ts=TS)
def test_numpy_and_torch_agree(case: str, dtype: type, ts: list[float]) -> None:
    kernel = _kernel(case)
    t = np.asarray(ts, dtype=dtype)
    tt = torch.tensor(t, dtype=TORCH[dtype])
    out, out_t = kernel(t), kernel(tt)
    assert out_t.dtype == TORCH[dtype]
    rtol = 1e-12 if dtype is np.float64 else 1e-5
    np.testing.assert_allclose(out_t.numpy(), out, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(kernel.slope(tt).numpy(), kernel.slope(t), rtol=rtol, atol=rtol)


# --- finite values and gradients for |t| ≤ 1e4 ------------------------------------------------

GRID = np.concatenate([np.linspace(-T_MAX, T_MAX, 2001), [-T_MAX, -1e3, -745.5, -89.0, -1e-30,
                                                          0.0, 1e-30, 89.0, 745.5, 1e3, T_MAX]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", IDS)
def test_values_and_gradients_are_finite_up_to_t_max(case: str, dtype: type) -> None:
    kernel = _kernel(case)
    lo, hi = kernel.bounds(dtype)
    edges = [x for x in (lo, hi) if math.isfinite(x)]
    t_np = np.concatenate([GRID, edges, np.nextafter(edges, 0), np.nextafter(edges, 2 * np.sign(
        edges))]) if edges else GRID
    for target in (None, 5.0, -3.0):
        t = torch.tensor(t_np, dtype=TORCH[dtype], requires_grad=True)
        k = kernel(t)
        objective = k.sum() if target is None else ((k - target) ** 2).sum()
        (grad,) = torch.autograd.grad(objective, t)
        assert torch.isfinite(k).all() and torch.isfinite(objective)
        assert torch.isfinite(grad).all(), t_np[~torch.isfinite(grad).numpy()]
    assert np.isfinite(kernel(t_np.astype(dtype))).all()
    assert np.isfinite(kernel.slope(t_np.astype(dtype))).all()


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=20)
@given(ts=TS)
def test_torch_autograd_equals_slope(case: str, ts: list[float]) -> None:
    """Autograd takes SymPy's slope, not the derivative of the expression as written."""
    kernel = _kernel(case)
    t = torch.tensor(ts, dtype=torch.float64, requires_grad=True)
    for value in (kernel(t), kernel.difference(t, torch.zeros(1, dtype=torch.float64))):
        (grad,) = torch.autograd.grad(value.sum(), t)
        np.testing.assert_array_equal(grad.numpy(), kernel.slope(t.detach()).numpy())


def test_kernel_is_continuous_and_c1_at_its_bounds() -> None:
    for case in IDS:
        kernel = _kernel(case)
        for edge in kernel.bounds(np.float64):
            if not math.isfinite(edge):
                continue
            h = 1e-3 * np.sign(edge)
            beyond, at = kernel(np.array([edge + h])), kernel(np.array([edge]))
            np.testing.assert_allclose(beyond, at + h * kernel.slope(np.array([edge])), rtol=1e-12)
            np.testing.assert_allclose(kernel.slope(np.array([edge + h])),
                                       kernel.slope(np.array([edge])), rtol=1e-12)
            # beyond the bound the exact |k| or |k'| exceeds e^cap; inside it does not
            inner = max(abs(reference(case, edge)), abs(reference(case, edge, 2)))
            outer = max(abs(reference(case, edge + 1.0 * np.sign(edge))),
                        abs(reference(case, edge + 1.0 * np.sign(edge), 2)))
            assert inner <= mpmath.exp(cap(np.float64)) * (1 + 1e-9) < outer, (case, edge)


# --- exact at the log-ratios of sequences (|t| <= 200) ----------------------------------------

T_SEQUENCE = st.floats(-200.0, 200.0, allow_nan=False)


def test_float64_bounds_cover_sequence_log_ratios() -> None:
    """Every kernel is exact for |t| <= 200 in float64, but Neyman below t = -168, where
    k(t) = 1 - e^{-2t} exceeds e^337 and its IUPO loss e^674 (near float64's largest value)."""
    for case in IDS:
        lo, hi = _kernel(case).bounds(np.float64)
        if case == "neyman":
            assert -169.0 < lo < -168.0 and hi == math.inf
        else:
            assert lo < -200.0 and hi > 200.0, case


def _constant(case: str) -> float:
    """The additive constant of the expanded f'(e^t) (log 2 for JS, 1 for Hellinger)."""
    expanded = sp.expand(derive(CASES[case]).log_ratio_derivative)
    return float(expanded.as_independent(sp.Symbol("t", real=True), as_Add=True)[0])


def _sequence_tolerance(case: str, value: mpmath.mpf, slope: mpmath.mpf, t: float) -> float:
    """A few ulps of the value, of k's constant (where k crosses 0) and of the rounding of t
    itself (|t k'(t)| ulps)."""
    scale = abs(value) + abs(t * slope) + abs(_constant(case))
    return float(16 * EPS[np.float64] * scale) + 1e-300


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=40)
@given(ts=st.lists(T_SEQUENCE, min_size=1, max_size=8))
def test_values_and_autograd_gradients_are_exact_at_sequence_log_ratios(
    case: str, ts: list[float]
) -> None:
    kernel = _kernel(case)
    t = torch.tensor(ts, dtype=torch.float64, requires_grad=True)
    values = kernel(t)
    (grads,) = torch.autograd.grad(values.sum(), t)
    for ti, ki, gi in zip(ts, values.detach().numpy(), grads.numpy(), strict=True):
        if not kernel.bounds(np.float64)[0] <= ti <= kernel.bounds(np.float64)[1]:
            continue  # Neyman below -168 (see the test above)
        exact, slope = reference(case, ti), reference(case, ti, 2)
        assert abs(ki - exact) <= _sequence_tolerance(case, exact, slope, ti), (ti, ki, exact)
        # the slope f'' e^t, to the rounding of its exponent: k'' / k' is at most 2 in size
        # for these kernels, so a relative error of |t| ulps comes from the rounding of -a t
        bound = 16 * EPS[np.float64] * abs(slope) * (1 + 2 * abs(ti)) + 1e-300
        assert abs(gi - slope) <= bound, (ti, gi, slope)


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=40)
@given(a=T_SEQUENCE, b=T_SEQUENCE)
def test_differences_are_exact_at_sequence_log_ratios(case: str, a: float, b: float) -> None:
    """k(a) - k(b) to a few ulps of k's size, and of r = k less its constant where k rounds to
    its constant (JS for t > 37, Hellinger for t > 75): such pairs are still ranked."""
    kernel = _kernel(case)
    lo, hi = kernel.bounds(np.float64)
    if not (lo <= a <= hi and lo <= b <= hi):
        return
    got = float(kernel.difference(np.array([a]), np.array([b]))[0])
    ka, kb, constant = reference(case, a), reference(case, b), _constant(case)
    rest = abs(ka - constant) + abs(kb - constant)
    scale = rest if rest < 2.0**-26 * abs(constant) else abs(ka) + abs(kb) + abs(constant)
    slopes = abs(a * reference(case, a, 2)) + abs(b * reference(case, b, 2))
    bound = 16 * EPS[np.float64] * (scale + slopes) + 1e-300
    assert abs(got - (ka - kb)) <= bound, (a, b, got, ka - kb)
    if abs(ka - kb) > 4 * bound:
        assert np.sign(got) == np.sign(float(ka - kb))


def test_pairs_whose_kernels_round_to_the_constant_are_ranked() -> None:
    """Hellinger at t = 80 and 90: k rounds to 1 at both, the difference is still e^-40 - e^-45."""
    kernel = _kernel("hellinger")
    assert kernel(np.array([80.0]))[0] == kernel(np.array([90.0]))[0] == 1.0
    got = kernel.difference(np.array([90.0]), np.array([80.0]))[0]
    assert got == pytest.approx(math.exp(-40.0) - math.exp(-45.0), rel=1e-14)


@pytest.mark.parametrize("case", ["hellinger", "alpha=1/2", "alpha=1/10", "neyman", "fkl", "js"])
def test_float32_autograd_is_exact_where_expm1_rounds(case: str) -> None:
    """Autograd through expm1 gave exactly 0 from t ~ 9 in float32 (and 37 in float64); the
    slope is representable there and now comes out to float32 rounding."""
    kernel = _kernel(case)
    ts = [9.0, 20.0, 40.0, 80.0]
    t = torch.tensor(ts, dtype=torch.float32, requires_grad=True)
    (grads,) = torch.autograd.grad(kernel(t).sum(), t)
    for ti, gi in zip(ts, grads.numpy(), strict=True):
        exact = float(reference(case, ti, 2))
        if exact < float(np.finfo(np.float32).tiny):
            continue
        assert gi > 0 and abs(gi - exact) <= 8 * EPS[np.float32] * exact, (ti, gi, exact)


# --- monotonicity -----------------------------------------------------------------------------

@pytest.mark.parametrize("case", IDS)
@settings(max_examples=40)
@given(a=T_ANY, b=T_ANY)
def test_kernel_is_increasing(case: str, a: float, b: float) -> None:
    kernel = _kernel(case)
    lo, hi = sorted((a, b))
    k_lo, k_hi = kernel(np.array([lo, hi]))
    assert k_hi - k_lo >= -_tolerance(max(abs(k_lo), abs(k_hi)), max(abs(lo), abs(hi)), np.float64)
    assert float(kernel.slope(np.array([lo]))[0]) >= 0.0
    if reference(case, hi) - reference(case, lo) > 1e-6 * (1 + abs(reference(case, lo))):
        assert k_hi > k_lo


@pytest.mark.parametrize("case", IDS)
def test_slope_is_positive_wherever_it_is_representable(case: str) -> None:
    kernel = _kernel(case)
    t = np.linspace(-700.0, 700.0, 1401)
    exact = np.array([float(reference(case, x, 2)) for x in t])
    positive = exact > 1e-300
    assert (kernel.slope(t)[positive] > 0).all(), t[positive][kernel.slope(t)[positive] <= 0][:5]


# --- the inverse log (f')⁻¹ -------------------------------------------------------------------

def _roundtrip_tolerance(kernel: LogSpaceKernel, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """An error of a few ulps in y = k(t) moves t by ulps / k'(t): the inverse's conditioning."""
    return 1e-10 * (1 + np.abs(t)) + 64 * EPS[np.float64] * (1 + np.abs(y)) / kernel.slope(t)


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=25)
@given(ts=TS)
def test_log_inverse_inverts_the_kernel(case: str, ts: list[float]) -> None:
    kernel = _kernel(case)
    t = np.asarray(ts, dtype=np.float64)
    y = kernel(t)
    keep = _inside(kernel, t, np.float64) & (y < kernel.sup) & (y > kernel.inf)
    t, y = t[keep], y[keep]
    back = kernel.log_inverse(y)
    assert (np.abs(back - t) <= _roundtrip_tolerance(kernel, t, y)).all(), (t, back)


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=15)
@given(ts=TS)
@example(ts=[-18.03040950494418])  # y ≈ −6.8e7: y + W(1 − y) − 1 cancels to 1e-8 (CI found it)
def test_numeric_inverse_agrees_with_the_closed_form(case: str, ts: list[float]) -> None:
    """The bisection (used when SymPy finds no closed form) against the closed form, or, where
    there is none, against the kernel itself."""
    kernel = _kernel(case)
    t = np.asarray(ts, dtype=np.float64)
    y = kernel(t)
    keep = _inside(kernel, t, np.float64) & (y < kernel.sup) & (y > kernel.inf)
    t, y = t[keep], y[keep]
    numeric = kernel._solve(y)
    assert (np.abs(numeric - t) <= _roundtrip_tolerance(kernel, t, y)).all(), (t, numeric)
    if kernel.inverse is not None:
        closed = kernel.log_inverse(y)
        assert (np.abs(numeric - closed) <= 2 * _roundtrip_tolerance(kernel, t, y)).all()


def test_a_user_f_without_closed_inverse_uses_the_numeric_path() -> None:
    kernel = _kernel("no closed inverse")
    assert kernel.inverse is None
    t = np.linspace(-100.0, 100.0, 201)
    np.testing.assert_allclose(kernel.log_inverse(kernel(t)), t, rtol=1e-12, atol=1e-12)


def test_numeric_inverse_is_the_inverse_of_f1_beyond_the_kernel_bounds() -> None:
    """log (f')⁻¹(y) means f' itself, not its tangent continuation: forward KL, y = −e^700."""
    kernel = _kernel("fkl")
    lo, _ = kernel.bounds(np.float64)
    y = np.array([-np.exp(340.0), -1e150, -1e200, -np.exp(700.0)])
    expected = -np.log(-y)  # f' = −1/u, so log (f')⁻¹(y) = −log(−y)
    assert (expected < lo).all()
    np.testing.assert_allclose(kernel.log_inverse(y), expected, rtol=1e-12)
    np.testing.assert_allclose(kernel._solve(y), expected, rtol=1e-12)


@pytest.mark.parametrize("case", IDS)
def test_log_inverse_is_infinite_outside_the_range_of_f1(case: str) -> None:
    kernel = _kernel(case)
    above = [kernel.sup, kernel.sup + 1.0, np.inf] if math.isfinite(kernel.sup) else [np.inf]
    assert (kernel.log_inverse(np.array(above)) == np.inf).all()
    below = [kernel.inf, kernel.inf - 1.0, -np.inf] if math.isfinite(kernel.inf) else [-np.inf]
    assert (kernel.log_inverse(np.array(below)) == -np.inf).all()
    assert np.isfinite(kernel.log_inverse(kernel(np.array([-5.0, 0.0, 5.0])))).all()


def test_sup_and_inf_are_the_limits_of_the_kernel() -> None:
    expected = {"fkl": (-np.inf, 0.0), "js": (-np.inf, math.log(2)), "hellinger": (-np.inf, 1.0),
                "neyman": (-np.inf, 1.0), "pearson": (-2.0, np.inf), "alpha=1/3": (-np.inf, 3.0),
                "rkl": (-np.inf, np.inf)}
    for case, (inf, sup) in expected.items():
        kernel = _kernel(case)
        assert (kernel.inf, kernel.sup) == pytest.approx((inf, sup), rel=1e-15)


def test_total_variation_has_no_kernel() -> None:
    with pytest.raises(NotDifferentiableError) as info:
        kernel_for(get_divergence("tv"))
    assert "tv" in str(info.value) and "not differentiable" in str(info.value)
    assert "\n" not in str(info.value)


def test_js_kernel_resolves_its_approach_to_log_2() -> None:
    """k(t) = log 2 − softplus(−t): the gap e^{−t} to sup stays visible where t − softplus(t)
    rounded to 0 (t > 33), so pairs with large log-ratios are still ranked."""
    kernel = _kernel("js")
    t = np.arange(0.0, 37.0)
    values = kernel(t)
    assert (np.diff(values) > 0).all()
    assert (values < math.log(2)).all()
