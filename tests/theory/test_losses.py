"""The loss family (Ψ, f, form) against textbook DPO / IPO and the paper's equations, NumPy = torch,
analytic gradients = autograd, the accuracy sign and finiteness at log-ratios of ±1e4."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from upo_theory import (
    FORMS,
    LossSpec,
    LossSpecError,
    NotDifferentiableError,
    get_divergence,
    loss_spec,
    pair_loss,
    pair_loss_grad,
    pair_statistic,
    pair_statistic_grads,
)
from upo_theory.derivation import derive
from upo_theory.expressions import U

BETAS = st.sampled_from([0.1, 0.2, 0.5, 1.0, 3.0])
LOGP = st.floats(-300.0, 0.0)
QUAD = st.tuples(LOGP, LOGP, LOGP, LOGP)
BATCH = st.lists(QUAD, min_size=1, max_size=8)

SPECS = {
    "dpo": loss_spec("dpo"),
    "ipo": loss_spec("ipo"),
    **{f"fdpo-{f}": loss_spec("fdpo", f) for f in ("js", "fkl", "hellinger", "pearson")},
    **{f"iupo-{f}-{form}": loss_spec("iupo", f, form)
       for f in ("js", "rkl", "fkl", "neyman", "pearson") for form in FORMS},
    "iupo-alpha-paper": loss_spec("iupo", "alpha", "paper", alpha=1 / 3),
}
IDS = list(SPECS)

EPS64 = float(np.finfo(np.float64).eps)


def _columns(batch: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
    return [np.array(c, dtype=np.float64) for c in zip(*batch, strict=True)]


def _sigmoid(x: float) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-x))


# --- textbook losses, written here ------------------------------------------------------------

@given(BATCH, BETAS)
def test_dpo_is_textbook_dpo(batch: list[tuple[float, ...]], beta: float) -> None:
    spec = loss_spec("dpo")
    pw, pl, rw, rl = _columns(batch)  # type: ignore[arg-type]
    loss = pair_loss(spec, pair_statistic(spec, pw, pl, rw, rl), beta)
    with mpmath.workdps(40):
        expected = [-mpmath.log(_sigmoid(beta * ((a - c) - (b - d))))
                    for a, b, c, d in batch]
    np.testing.assert_allclose(loss, np.array(expected, dtype=float), rtol=1e-9, atol=1e-12)


@given(BATCH, BETAS)
def test_ipo_is_textbook_ipo(batch: list[tuple[float, ...]], beta: float) -> None:
    spec = loss_spec("ipo")
    pw, pl, rw, rl = _columns(batch)  # type: ignore[arg-type]
    h = (pw - pl) - (rw - rl)  # eq. 9, in the log-ratio form of the paper
    stat = pair_statistic(spec, pw, pl, rw, rl)
    np.testing.assert_allclose(stat, h, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(pair_loss(spec, stat, beta), (h - 1 / (2 * beta)) ** 2,
                               rtol=1e-9, atol=1e-9)


def _js_f1(u: mpmath.mpf) -> mpmath.mpf:
    """The paper's JS derivative f'(u) = log(2u / (1 + u)), written here."""
    return mpmath.log(2 * u / (1 + u))


@given(BATCH, BETAS)
def test_js_losses_are_the_papers_equations(batch: list[tuple[float, ...]], beta: float) -> None:
    """f-DPO eq. 5, IUPO per-response form, IUPO paper form eq. 24/26, all with the JS f'."""
    pw, pl, rw, rl = _columns(batch)  # type: ignore[arg-type]
    fdpo, per, paper = (loss_spec("fdpo", "js"), loss_spec("iupo", "js"),
                        loss_spec("iupo", "js", "paper"))
    with mpmath.workdps(60):
        e = mpmath.exp
        s_per = [_js_f1(e(a - c)) - _js_f1(e(b - d)) for a, b, c, d in batch]
        s_paper = [_js_f1(e(a - b)) - _js_f1(e(c - d)) for a, b, c, d in batch]
        l_fdpo = [-mpmath.log(_sigmoid(beta * s)) for s in s_per]
        l_per = [(s - 1 / (2 * mpmath.mpf(beta))) ** 2 for s in s_per]
        l_paper = [(s - 1 / (2 * mpmath.mpf(beta))) ** 2 for s in s_paper]
    for spec, stat_ref, loss_ref in ((fdpo, s_per, l_fdpo), (per, s_per, l_per),
                                     (paper, s_paper, l_paper)):
        stat = pair_statistic(spec, pw, pl, rw, rl)
        np.testing.assert_allclose(stat, np.array(stat_ref, dtype=float), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(pair_loss(spec, stat, beta), np.array(loss_ref, dtype=float),
                                   rtol=1e-8, atol=1e-8)


@given(BATCH)
def test_reverse_kl_paper_form_is_the_per_response_form(batch: list[tuple[float, ...]]) -> None:
    """Proposition 4.1: with f = u log u, eq. 23's statistic is IPO's h, as is the per-response."""
    pw, pl, rw, rl = _columns(batch)  # type: ignore[arg-type]
    paper = pair_statistic(loss_spec("iupo", "rkl", "paper"), pw, pl, rw, rl)
    per = pair_statistic(loss_spec("iupo", "rkl"), pw, pl, rw, rl)
    np.testing.assert_allclose(paper, per, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(per, pair_statistic(loss_spec("ipo"), pw, pl, rw, rl), atol=1e-12)


def test_js_paper_form_is_not_the_per_response_form() -> None:
    pw, pl, rw, rl = (np.array([x]) for x in (-1.0, -3.0, -2.0, -2.5))
    paper = pair_statistic(loss_spec("iupo", "js", "paper"), pw, pl, rw, rl)
    per = pair_statistic(loss_spec("iupo", "js"), pw, pl, rw, rl)
    assert abs(paper[0] - per[0]) > 1e-3


# --- NumPy and torch, analytic gradients and autograd -----------------------------------------

@pytest.mark.parametrize("name", IDS)
@settings(max_examples=15)
@given(batch=BATCH, beta=BETAS)
def test_numpy_and_torch_agree(name: str, batch: list[tuple[float, ...]], beta: float) -> None:
    spec = SPECS[name]
    cols = _columns(batch)  # type: ignore[arg-type]
    stat = pair_statistic(spec, *cols)
    stat_t = pair_statistic(spec, *(torch.tensor(c) for c in cols))
    np.testing.assert_allclose(stat_t.numpy(), stat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pair_loss(spec, stat_t, beta).numpy(), pair_loss(spec, stat, beta),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pair_loss_grad(spec, stat_t, beta).numpy(),
                               pair_loss_grad(spec, stat, beta), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=15)
@given(batch=BATCH, beta=BETAS)
def test_analytic_gradients_equal_autograd(
    name: str, batch: list[tuple[float, ...]], beta: float
) -> None:
    spec = SPECS[name]
    pw, pl, rw, rl = (torch.tensor(c, requires_grad=i < 2)
                      for i, c in enumerate(_columns(batch)))  # type: ignore[arg-type]
    stat = pair_statistic(spec, pw, pl, rw, rl)
    gw, gl = torch.autograd.grad(stat.sum(), (pw, pl))
    aw, al = pair_statistic_grads(spec, pw.detach(), pl.detach(), rw, rl)
    tol = {"rtol": 1e-9, "atol": 1e-12}
    np.testing.assert_allclose(np.broadcast_to(aw, gw.shape), gw.numpy(), **tol)
    np.testing.assert_allclose(np.broadcast_to(al, gl.shape), gl.numpy(), **tol)
    s = stat.detach().requires_grad_(True)
    (dloss,) = torch.autograd.grad(pair_loss(spec, s, beta).sum(), s)
    np.testing.assert_allclose(pair_loss_grad(spec, s.detach(), beta).numpy(), dloss.numpy(), **tol)


# --- accuracy sign ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in IDS if "paper" not in n])
@settings(max_examples=40)
@given(batch=BATCH)
def test_per_response_statistic_ranks_like_the_log_ratios(
    name: str, batch: list[tuple[float, ...]]
) -> None:
    """With k increasing, sign(k(t_w) − k(t_l)) = sign(t_w − t_l): the accuracy of Section 5 is
    the share of pairs with t_w > t_l, for every f. Where k(t_w), k(t_l) round to one float (k
    flat, e.g. JS for t > 37) the statistic is 0; it is never of the opposite sign."""
    spec = SPECS[name]
    pw, pl, rw, rl = _columns(batch)  # type: ignore[arg-type]
    tw, tl = pw - rw, pl - rl
    stat = pair_statistic(spec, pw, pl, rw, rl)
    k = spec.kernel
    assert (np.sign(stat) * np.sign(tw - tl) >= 0).all()
    resolved = np.abs(k(tw) - k(tl)) > 0
    assert (np.sign(stat[resolved]) == np.sign(tw - tl)[resolved]).all()
    assert (stat[tw == tl] == 0).all()


# --- finite at extreme log-ratios -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", IDS)
def test_finite_losses_and_gradients_at_log_ratios_of_1e4(name: str, dtype: torch.dtype) -> None:
    spec = SPECS[name]
    extremes = [-1e4, -500.0, 0.0, 500.0, 1e4]
    grid = np.array(np.meshgrid(extremes, extremes, [0.0], [0.0])).reshape(4, -1)
    for order in ((0, 1, 2, 3), (2, 3, 0, 1)):  # the ratios in the policy, then in the reference
        pw, pl, rw, rl = (torch.tensor(grid[i], dtype=dtype, requires_grad=True) for i in order)
        for beta in (0.1, 0.5):
            loss = pair_loss(spec, pair_statistic(spec, pw, pl, rw, rl), beta)
            grads = torch.autograd.grad(loss.sum(), (pw, pl))
            assert torch.isfinite(loss).all(), name
            assert all(torch.isfinite(g).all() for g in grads), name
        cols = [grid[i] for i in order]
        assert np.isfinite(pair_statistic(spec, *cols)).all()
        assert all(np.isfinite(g).all() for g in pair_statistic_grads(spec, *cols))


# --- resolving names --------------------------------------------------------------------------

def test_names_and_psi_follow_from_the_loss_name() -> None:
    assert (SPECS["dpo"].psi, SPECS["dpo"].name) == ("logit", "DPO")
    assert (SPECS["ipo"].psi, SPECS["ipo"].name) == ("identity", "IPO")
    assert SPECS["fdpo-js"].name == "f-DPO[js]" and SPECS["fdpo-js"].psi == "logit"
    assert SPECS["iupo-js-paper"].name == "IUPO[js, paper]"
    assert SPECS["iupo-alpha-paper"].name == "IUPO[alpha(alpha=1/3), paper]"
    assert loss_spec("ipo", "js").divergence.name == "rkl"  # DPO and IPO fix f = u log u
    assert loss_spec("F-DPO", "js").psi == "logit"


@pytest.mark.parametrize(
    ("kwargs", "error", "in_message"),
    [
        ({"loss": "kto"}, LossSpecError, "'kto'"),
        ({"loss": "iupo", "form": "sideways"}, LossSpecError, "'sideways'"),
        ({"loss": "iupo", "f": "tv"}, NotDifferentiableError, "tv"),
        ({"loss": "fdpo", "f": "total_variation"}, NotDifferentiableError, "not differentiable"),
        ({"loss": "iupo", "f": "alpha", "alpha": 2.0}, ValueError, "0 < alpha < 1"),
        ({"loss": "iupo", "f": "kullback"}, ValueError, "'kullback'"),
    ],
)
def test_loss_spec_errors_are_one_line_and_name_the_value(
    kwargs: dict[str, object], error: type[Exception], in_message: str
) -> None:
    with pytest.raises(error) as info:
        loss_spec(**kwargs)  # type: ignore[arg-type]
    assert in_message in str(info.value) and "\n" not in str(info.value)


def test_loss_spec_validates_psi_and_form_when_made() -> None:
    with pytest.raises(LossSpecError, match="psi='exp'"):
        LossSpec("exp", get_divergence("js"))  # type: ignore[arg-type]
    with pytest.raises(LossSpecError, match="form='both'"):
        LossSpec("identity", get_divergence("js"), "both")  # type: ignore[arg-type]


def test_statistics_broadcast_over_batch_shapes() -> None:
    spec = SPECS["iupo-js-per_response"]
    pw = np.linspace(-5, 0, 6).reshape(2, 3)
    stat = pair_statistic(spec, pw, -2.0, -1.0, np.full((1, 3), -3.0))
    assert stat.shape == (2, 3)
    assert math.isclose(stat[1, 2], float(pair_statistic(spec, pw[1, 2], -2.0, -1.0, -3.0)))


@pytest.mark.parametrize("form", FORMS)
def test_js_statistic_ranks_pairs_whose_kernel_values_round_to_log_2(form: str) -> None:
    """k(39) and k(38) both round to log 2; their difference e^{-38} − e^{-39} does not."""
    spec = loss_spec("iupo", "js", form)
    pw, pl, rw, rl = (np.array([x]) for x in (0.0, 0.0, -39.0, -38.0))
    if form == "paper":  # the same log-ratios, as π(y_w)/π(y_l) and π_ref(y_w)/π_ref(y_l)
        pw, pl, rw, rl = np.array([39.0]), np.array([0.0]), np.array([38.0]), np.array([0.0])
    stat = pair_statistic(spec, pw, pl, rw, rl)
    with mpmath.workdps(40):
        exact = float(_js_f1(mpmath.exp(39)) - _js_f1(mpmath.exp(38)))
    assert stat[0] == pytest.approx(exact, rel=1e-6)
    stat_t = pair_statistic(spec, *(torch.tensor(x) for x in (pw, pl, rw, rl)))
    assert stat_t.item() == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("f", ["js", "fkl"])
@settings(max_examples=20)
@given(tw=st.floats(30.0, 700.0), tl=st.floats(30.0, 700.0))
def test_statistic_near_a_finite_sup_is_the_exact_difference(f: str, tw: float, tl: float) -> None:
    """Where k(t_w), k(t_l) both round to sup f', s = k(t_w) − k(t_l) is still accurate when k
    is a constant plus a term that vanishes (JS: log 2 − softplus(−t); forward KL: −e^{−t})."""
    spec = loss_spec("iupo", f)
    stat = pair_statistic(spec, np.array([tw]), np.array([tl]), np.zeros(1), np.zeros(1))
    f1 = sp.lambdify(U, derive(spec.divergence).f1, "mpmath")
    with mpmath.workdps(400):
        exact = f1(mpmath.exp(tw)) - f1(mpmath.exp(tl))
        vanishing = abs(f1(mpmath.exp(tw)) - f1(mpmath.exp(tw + 300)))  # what tends to sup f'
    # relative to the difference, or a few ulps of the vanishing terms whose difference it is
    # (t_w, t_l within 1e-8 of each other: their difference cancels in any float64 evaluation)
    assert abs(stat[0] - exact) <= 1e-9 * abs(exact) + 8 * EPS64 * vanishing + 1e-300
    if abs(exact) > 1e-300:  # not below float64's range (e^{−2t} for Neyman at t > 350)
        assert np.sign(stat[0]) == np.sign(tw - tl)
