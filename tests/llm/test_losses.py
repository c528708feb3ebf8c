"""llm.losses.preference_loss: the textbook losses, the NumPy kernels, extremes and accuracy."""

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.losses import preference_loss
from upo_theory import get_divergence, kernel_for

logps = st.floats(-200.0, 0.0, allow_nan=False)
betas = st.floats(0.01, 2.0)
quads = st.tuples(logps, logps, logps, logps)
FORMS = ("per_response", "paper")
DIVERGENCES = ("rkl", "js", "fkl", "hellinger")


def tensors(values):
    return [torch.tensor([v], dtype=torch.float64) for v in values]


@given(quads, betas)
def test_logit_rkl_is_textbook_dpo(values, beta):
    pw, pl, rw, rl = values
    losses, statistic = preference_loss(*tensors(values), beta=beta, psi="logit", f="rkl")
    h = (pw - rw) - (pl - rl)
    assert statistic.item() == pytest.approx(h, abs=1e-9)
    expected = np.log1p(np.exp(-beta * h)) if beta * h > -30 else -beta * h
    assert losses.item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(quads, betas, st.sampled_from(FORMS))
def test_identity_rkl_is_textbook_ipo_in_both_forms(values, beta, form):
    pw, pl, rw, rl = values
    losses, _ = preference_loss(*tensors(values), beta=beta, psi="identity", f="rkl", form=form)
    h = (pw - pl) - (rw - rl)
    assert losses.item() == pytest.approx((h - 1 / (2 * beta)) ** 2, rel=1e-9, abs=1e-7)


@given(quads, st.sampled_from(DIVERGENCES), st.sampled_from(FORMS))
def test_statistic_equals_the_numpy_kernel(values, name, form):
    pw, pl, rw, rl = values
    k = kernel_for(get_divergence(name))
    if form == "paper":
        expected = k(np.float64(pw - pl)) - k(np.float64(rw - rl))
    else:
        expected = k(np.float64(pw - rw)) - k(np.float64(pl - rl))
    _, statistic = preference_loss(*tensors(values), beta=0.1, f=name, form=form)
    assert statistic.item() == pytest.approx(float(expected), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("psi", ["identity", "logit"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", DIVERGENCES)
def test_finite_values_and_gradients_at_extreme_log_ratios(psi, form, name):
    big = 1e4
    policy_w = torch.tensor([big, -big, big, -big, 0.0], requires_grad=True)
    policy_l = torch.tensor([-big, big, big, -big, 0.0], requires_grad=True)
    zeros = torch.zeros(5)
    losses, statistic = preference_loss(policy_w, policy_l, zeros, zeros, beta=0.1, psi=psi,
                                        f=name, form=form)
    losses.sum().backward()
    for value in (losses, statistic, policy_w.grad, policy_l.grad):
        assert torch.isfinite(value).all()


@given(quads, st.sampled_from(DIVERGENCES), st.sampled_from(FORMS))
def test_accuracy_is_the_sign_of_the_log_ratio_difference_for_every_form(values, name, form):
    pw, pl, rw, rl = values
    margin = (pw - rw) - (pl - rl)
    if abs(margin) < 1e-6:  # the sign of a tie is rounding noise
        return
    _, statistic = preference_loss(*tensors(values), beta=0.1, f=name, form=form)
    assert (statistic.item() > 0) == (margin > 0)


def test_mean_length_equals_ipo_on_per_token_log_ratios():
    # TRL's IPO: log-probs averaged per token first, then the IPO loss on the log-ratios.
    sums = torch.tensor([-12.0, -30.0, -10.0, -33.0], dtype=torch.float64)
    counts = torch.tensor([4.0, 6.0, 4.0, 6.0], dtype=torch.float64)
    means = sums / counts
    losses, _ = preference_loss(*means[:, None], beta=0.2, psi="identity", f="rkl")
    h = (means[0] - means[2]) - (means[1] - means[3])
    assert losses.item() == pytest.approx(((h - 2.5) ** 2).item())


# --- the float32 training path: float32 log-probs, float64 statistic --------------------------

KERNELS = ("rkl", "fkl", "js", "alpha", "hellinger", "neyman", "pearson")
_MP: dict[tuple[str, int], object] = {}


def _mp_kernel(name: str, t: float, order: int = 1):
    """f'(e^t) (order 1) or f''(e^t) e^t (order 2) in mpmath, from SymPy's own f' and f''."""
    import sympy as sp

    from upo_theory import U, derive

    if (name, order) not in _MP:
        d = derive(get_divergence(name))
        _MP[(name, order)] = sp.lambdify(U, d.f1 if order == 1 else d.f2 * U, "mpmath")
    with mpmath.workdps(60 + int(min(abs(t), 400))):
        return _MP[(name, order)](mpmath.exp(mpmath.mpf(t)))


def _exact_pair(name, form, psi, beta, pw, pl, rw, rl):
    """(statistic, ∂loss/∂pw, ∂loss/∂pl) in mpmath at exactly these (float32) inputs."""
    with mpmath.workdps(450):
        pw, pl, rw, rl = (mpmath.mpf(float(x)) for x in (pw, pl, rw, rl))
        if form == "paper":
            a, b = pw - pl, rw - rl
            s = _mp_kernel(name, a) - _mp_kernel(name, b)
            ds_w = _mp_kernel(name, a, 2)
            ds_l = -ds_w
        else:
            a, b = pw - rw, pl - rl
            s = _mp_kernel(name, a) - _mp_kernel(name, b)
            ds_w, ds_l = _mp_kernel(name, a, 2), -_mp_kernel(name, b, 2)
        if psi == "identity":
            dloss = 2 * (s - 1 / (2 * mpmath.mpf(beta)))
        else:
            dloss = -beta / (1 + mpmath.exp(beta * s))
        return s, dloss * ds_w, dloss * ds_l, a, b


def _in_float64_bounds(name, *ts):
    lo, hi = kernel_for(get_divergence(name)).bounds(np.float64)
    return all(lo <= float(t) <= hi for t in ts)


@settings(max_examples=60, deadline=None)
@given(quads, st.sampled_from(KERNELS), st.sampled_from(FORMS), st.sampled_from(["identity",
                                                                                "logit"]))
def test_float32_log_probs_give_the_exact_float64_statistic_and_float32_gradients(
    values, name, form, psi
):
    """Float32 log-probabilities in [-200, 0]: the statistic is the exact one at those float32
    values (to float64 rounding), and the gradients reaching them are the exact ones rounded to
    float32, or float32's largest value where the exact one is beyond it."""
    leaves = [torch.tensor([v], dtype=torch.float32, requires_grad=True) for v in values]
    beta = 0.1
    losses, statistic = preference_loss(*leaves, beta=beta, psi=psi, f=name, form=form)
    assert losses.dtype == statistic.dtype == torch.float64
    s, g_w, g_l, a, b = _exact_pair(name, form, psi, beta, *(x.item() for x in leaves))
    if not _in_float64_bounds(name, a, b):
        return  # Neyman below t = -168, where its IUPO loss exceeds e^674 (test_kernels)
    scale = sum(abs(_mp_kernel(name, float(t))) + abs(t * _mp_kernel(name, float(t), 2))
                for t in (a, b)) + 1
    assert abs(statistic.item() - s) <= 64 * np.finfo(np.float64).eps * float(scale)
    losses.sum().backward()
    largest = float(np.finfo(np.float32).max)
    for leaf, exact in ((leaves[0], g_w), (leaves[1], g_l)):
        got, exact = leaf.grad.item(), float(exact) if abs(exact) < 1e300 else float(
            mpmath.sign(exact)) * math.inf
        assert leaf.grad.dtype == torch.float32 and math.isfinite(got)
        if abs(exact) >= largest:
            assert got == math.copysign(largest, exact)
        elif abs(exact) > 1e-30:
            assert abs(got - exact) <= 1e-5 * abs(exact) + 1e-30, (got, exact)


def test_neyman_paper_form_at_a_reference_log_ratio_of_minus_21_is_exact():
    """In float32 the kernel was continued beyond t = -10.7 here: 100 % loss error."""
    pw, pl = torch.tensor([-5.0]), torch.tensor([-4.0])
    rw, rl = torch.tensor([-30.0]), torch.tensor([-9.0])  # reference log-ratio -21
    losses, statistic = preference_loss(pw, pl, rw, rl, beta=0.1, f="neyman", form="paper")
    s, *_ = _exact_pair("neyman", "paper", "identity", 0.1, -5.0, -4.0, -30.0, -9.0)
    assert statistic.item() == pytest.approx(float(s), rel=1e-14)
    assert losses.item() == pytest.approx(float((s - 5) ** 2), rel=1e-13)


def test_gradients_of_hellinger_alpha_and_neyman_are_not_zero_in_float32():
    """Autograd through torch's expm1 returned exactly 0 for these from t ~ 9 in float32."""
    for name in ("hellinger", "alpha", "neyman"):
        pw = torch.tensor([-1.0], requires_grad=True)
        losses, _ = preference_loss(pw, torch.tensor([-30.0]), torch.tensor([-40.0]),
                                    torch.tensor([-30.0]), beta=0.1, f=name)
        losses.sum().backward()
        _, g_w, *_ = _exact_pair(name, "per_response", "identity", 0.1, -1.0, -30.0, -40.0, -30.0)
        assert pw.grad.item() == pytest.approx(float(g_w), rel=1e-5) and pw.grad.item() != 0


def test_a_gradient_beyond_float32_saturates_instead_of_becoming_inf():
    """Neyman at t_w = -150: the exact gradient is about e^600, beyond float32; it arrives as
    float32's largest value with its sign, so gradient clipping still sees a finite norm."""
    pw = torch.tensor([-150.0, -1.0], requires_grad=True)
    zeros = torch.zeros(2)
    losses, statistic = preference_loss(pw, zeros, zeros, zeros, beta=0.1, f="neyman")
    assert torch.isfinite(losses).all() and statistic[0].item() < -1e130
    losses.sum().backward()
    largest = torch.finfo(torch.float32).max
    # d/dpw (s - 5)^2 = 2 (s - 5) k'(t_w): negative (s far below the target, k increasing)
    assert pw.grad[0].item() == -largest
    _, g_w, *_ = _exact_pair("neyman", "per_response", "identity", 0.1, -1.0, 0.0, 0.0, 0.0)
    assert pw.grad[1].item() == pytest.approx(float(g_w), rel=1e-6)
