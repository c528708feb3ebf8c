"""The mathematics page: what the project implements, in the paper's equation numbers.

Written in the docs' own words; the equations are SymPy objects printed as MathML, and the table
of divergences at the end is generated from ``upo_theory`` rather than typed.
"""

from __future__ import annotations

import sympy as sp

from upo_theory import derive, registered

from ..html import eq, math, note, table
from ..site import Page
from .divergences import link
from .notation import (
    IUPO_TARGET,
    K,
    add,
    beta,
    eta,
    f,
    f1,
    f1_inv,
    h,
    lam,
    mu,
    mul,
    p_star,
    pi,
    pi_ref,
    pi_star,
    psi,
    psi_bar,
    ratio,
    sigma,
    sub,
    sum_y,
    t_l,
    t_w,
    u,
    y,
    y2,
    y_l,
    y_w,
)
from .references import cite


def _m(expr: sp.Expr) -> str:
    return math(expr, as_written=True)


def math_page() -> Page:
    """The page "The mathematics"."""
    body = _introduction() + _divergences() + _optimum() + _loss_family() + _evaluation()
    return Page("math.html", "The mathematics", "Theory", body,
                "notation, f-divergences, the UPO optimum and the loss family")


def _introduction() -> str:
    return (
        "<p>This page restates the theory that the code implements and checks, with the "
        "equation numbers of the paper (<em>Generalizing Offline Alignment Theoretical Paradigm "
        f"with Diverse Divergence Constraints</em>, UPO / IUPO {cite('sun')}). Where the paper "
        "leaves a "
        "question open, the project measures the answer rather than assuming it; the "
        '<a href="claims.html">verification report</a> and the '
        '<a href="bandit.html">simulator</a> hold the results.</p>'
        "<h2>Notation</h2>"
        "<p>A prompt x, responses y (actions of a bandit, or sequences of a language model). "
        f"The trained policy {_m(pi(y))}, the reference {_m(pi_ref(y))}, and the behaviour "
        f"policy {_m(mu(y))} that produced the preference pairs (x, y<sub>w</sub>, "
        f"y<sub>l</sub>). The likelihood ratio is {_m(sp.Eq(u, ratio(pi, y)))} and its "
        f"logarithm t = log π(y) − log π<sub>ref</sub>(y). The true preference "
        f"{_m(p_star(y, y2))} is the probability that y beats y′, with "
        f"p*(y, y′) + p*(y′, y) = 1. Ψ is a non-decreasing map of probabilities: the identity "
        "(IPO, IUPO) or the logit log(p/(1 − p)) (DPO, f-DPO).</p>"
    )


def _divergences() -> str:
    rows = []
    for div in registered():
        d = derive(div)
        rows.append([
            link(div),
            math(div.f),
            math(d.f1),
            math(d.log_ratio_derivative) if d.differentiable else "—",
            math(d.sup_f1),
            "yes" if d.inf_f1 == -sp.oo else ("no" if d.differentiable else "—"),
        ])
    return (
        "<h2>f-divergences</h2>"
        "<p>A convex generator f on (0, ∞) with f(1) = 0, strictly convex at 1, defines</p>"
        + eq(sp.Function("D_f")(sp.Symbol("π"), sp.Symbol("π_ref")),
             sum_y(mul(pi_ref(y), f(ratio(pi, y)))))
        + "<p>Theorem 3.1 needs two more properties: f′ must be invertible on (0, ∞), and "
        "0 must lie outside the domain of f′, that is f′(u) → −∞ as u → 0+. The second one "
        "is what forces the optimal policy to give every action positive mass. The table "
        "below is generated from the code: each column was derived by SymPy from f alone "
        "(the last column is that limit).</p>"
        + table(["divergence", "f(u)", "f′(u)", "f′(eᵗ)", "sup f′", "0 ∉ dom f′"], rows,
                "wide")
        + note("The paper's Jensen–Shannon generator is twice the usual JS divergence; "
               "its derivative log(2u/(1 + u)) is bounded above by log 2.")
    )


def _optimum() -> str:
    return (
        "<h2>The UPO objective and its optimum</h2>"
        "<p>For one prompt, UPO (eq. 11) maximises over the probability simplex</p>"
        + eq(sp.Symbol("J(π)"),
             sub(sum_y(mul(pi(y), psi_bar(y))), mul(beta, sum_y(mul(pi_ref(y), f(ratio(pi, y)))))),
             "11")
        + "<p>where the expected preference of y against the behaviour policy is</p>"
        + eq(psi_bar(y), sp.Sum(mul(mu(y2), psi(p_star(y, y2))), (y2, 1, K)))
        + "<p>The Lagrangian (eq. 13) has a multiplier λ for Σπ = 1 and multipliers "
        "η(y) ≥ 0 for π(y) ≥ 0. Stationarity (eqs. 14–15) reads</p>"
        + eq(mul(beta, f1(ratio(pi_star, y))), add(psi_bar(y), -lam, eta(y)), "15")
        + "<p>with complementary slackness η(y) π*(y) = 0. If 0 ∉ dom f′, a zero π*(y) "
        "would need f′(0) to exist, so every π*(y) > 0 and all η vanish (eq. 16); inverting "
        "f′ then gives the optimum in closed form</p>"
        + eq(pi_star(y), mul(pi_ref(y), f1_inv(mul(sub(psi_bar(y), lam), 1 / beta))), "16")
        + f"<p>where λ is the unique root of {_m(sp.Eq(sum_y(pi_star(y)), 1))}: the right side "
        "is increasing in −λ, and (Ψ̄(y) − λ)/β must stay below sup f′, which brackets λ. For "
        "Pearson χ² (f′(0) = −2 is finite) some π*(y) can be exactly zero and the η terms "
        "are active: the closed form above does not hold there.</p>"
    )


def _loss_family() -> str:
    kappa = sp.Function("κ")
    t_wl = sp.Symbol("t_w"), sp.Symbol("t_l")
    losses = [
        [f"DPO (eq. 4) {cite('rafailov')}", "logit", _m(sub(*t_wl)),
         _m(-sp.log(sigma(mul(beta, sp.Symbol("s")))))],
        [f"f-DPO (eq. 5) {cite('wang')}", "logit", _m(sub(kappa(t_w), kappa(t_l))),
         _m(-sp.log(sigma(mul(beta, sp.Symbol("s")))))],
        [f"IPO (eq. 10) {cite('azar')}", "identity", _m(sub(*t_wl)),
         _m((sp.Symbol("s") - IUPO_TARGET) ** 2)],
        ["IUPO, paper form (eqs. 23–24)", "identity",
         _m(sub(f1(pi(y_w) / pi(y_l)),
                f1(pi_ref(y_w) / pi_ref(y_l)))),
         _m((sp.Symbol("s") - IUPO_TARGET) ** 2)],
        ["IUPO, per-response form (eq. 17)", "identity", _m(sub(kappa(t_w), kappa(t_l))),
         _m((sp.Symbol("s") - IUPO_TARGET) ** 2)],
    ]
    return (
        "<h2>The loss family</h2>"
        f"<p>Per preference pair, with {_m(sp.Eq(t_w, sub(sp.log(pi(y_w)), sp.log(pi_ref(y_w)))))}"
        f" and t<sub>l</sub> likewise, and the log-space kernel "
        f"{_m(sp.Eq(kappa(sp.Symbol('t')), f1(sp.exp(sp.Symbol('t')))))}, every loss of the "
        "family is a pair statistic s and a per-pair loss:</p>"
        + table(["loss", "Ψ", "pair statistic s", "per-pair loss"], losses, "wide")
        + "<p>DPO and IPO are the reverse-KL members: f′(u) = log u + 1, so "
        f"κ(t<sub>w</sub>) − κ(t<sub>l</sub>) = t<sub>w</sub> − t<sub>l</sub> = {_m(h)} "
        "(eq. 9), and both IUPO forms reduce to IPO (Proposition 4.1). For any other f the "
        "two IUPO forms differ. The per-response form is the one that the KKT condition "
        "(eq. 17) pairs with; the paper form is what eqs. 23, 24 and 26 write, and it is not "
        "antisymmetric in (y<sub>w</sub>, y<sub>l</sub>). For JS it is bounded above by "
        "log 2 − f′(π<sub>ref</sub>(y<sub>w</sub>)/π<sub>ref</sub>(y<sub>l</sub>)), so the "
        "target 1/(2β) can lie out of its reach. The "
        '<a href="walkthrough.html">walk-through</a> follows the derivation step by step.</p>'
    )


def _evaluation() -> str:
    return (
        "<h2>Computing in log space</h2>"
        "<p>In a language model log π(y|x) is a sum of token log-probabilities, and ratios "
        "such as π(y<sub>w</sub>)/π(y<sub>l</sub>) of whole sequences overflow in floating "
        "point. Every statistic is therefore computed from log-probabilities through κ(t), "
        "which <code>upo_theory.kernels</code> compiles from the SymPy expression of f′(eᵗ) "
        "with softplus, expm1 and log1p, finite with finite gradients for |t| up to 10⁴.</p>"
        "<h2>Evaluation quantities (Section 5)</h2>"
        "<p>Train loss, evaluation loss, evaluation accuracy (the share of held-out pairs "
        "with t<sub>w</sub> &gt; t<sub>l</sub>: training raised the chosen response against "
        "the rejected one, TRL's <code>rewards/accuracies</code>) and evaluation margin (the "
        "mean of β(t<sub>w</sub> − t<sub>l</sub>), TRL's <code>rewards/margins</code>, the "
        "same quantity for every loss; each loss's own mean statistic is logged beside it as "
        "<code>statistic</code>), as curves over training steps for β ∈ {0.1, 0.2, 0.5}, IPO "
        "against JS-IUPO. The paper reports, after 1.1M steps of GPT-2 on HH and SHP, "
        "evaluation accuracies 0.605 (JS-IUPO) against 0.595 (IPO) at β = 0.1, and 0.582 "
        'against 0.548 at β = 0.2. <a href="results.html">Results</a> shows what this '
        "project measured.</p>"
    )
