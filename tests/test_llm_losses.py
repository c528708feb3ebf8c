"""llm.losses.preference_loss: the textbook losses, the NumPy kernels, extremes and accuracy."""

import numpy as np
import pytest
import torch
from hypothesis import given
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
