"""The derivation walk-through: UPO objective → KKT → the IUPO loss, and its two forms.

The equations are SymPy objects (MathML); the JS statistics at the end are printed from
``upo_theory.derive``; what the simulator measured about each form is passed in by the build.
"""

from __future__ import annotations

import sympy as sp

from upo_theory import T, derive, get_divergence

from ..html import eq, math, table
from ..site import Page
from .notation import (
    IUPO_TARGET,
    add,
    beta,
    eta,
    f,
    f1,
    lam,
    mul,
    p_star,
    pi,
    pi_ref,
    pi_star,
    psi_bar,
    r,
    ratio,
    sigma,
    sub,
    sum_y,
    y,
    y_l,
    y_w,
)

_A_W, _A_L = sp.symbols("a_w a_l", real=True)
_R_W, _R_L = sp.symbols("r_w r_l", real=True)


def _m(expr: sp.Expr) -> str:
    return math(expr, as_written=True)


def walkthrough_page(measured: str, js_figure: str) -> Page:
    """The walk-through page; ``measured`` (HTML) says what the simulator found per form."""
    body = (_objective_to_kkt() + _iupo_forms(js_figure)
            + "<h2>8. What the simulator measured</h2>" + measured)
    return Page("walkthrough.html", "Derivation walk-through", "Theory", body,
                "UPO objective → KKT → IUPO loss, and the two forms of its statistic")


def _objective_to_kkt() -> str:
    """Steps 1–5: the objective, the KKT conditions, the closed form, Ψ = logit."""
    lagrangian = add(
        sum_y(mul(pi(y), psi_bar(y))),
        -mul(beta, sum_y(mul(pi_ref(y), f(ratio(pi, y))))),
        -mul(lam, sub(sum_y(pi(y)), 1)),
        sum_y(mul(eta(y), pi(y))),
    )
    return (
        "<p>This page follows the paper from its objective to its loss, one step at a time, "
        "and marks the point where the paper's IUPO statistic (eq. 23) departs from what the "
        "optimality conditions give. Each step that SymPy can check is in the "
        '<a href="claims.html">verification report</a>.</p>'
        "<h2>1. The objective</h2>"
        "<p>UPO (eq. 11) trades the expected preference against an f-divergence from the "
        "reference, per prompt, over the simplex of policies:</p>"
        + eq(sp.Symbol("J(π)"),
             sub(sum_y(mul(pi(y), psi_bar(y))),
                 mul(beta, sum_y(mul(pi_ref(y), f(ratio(pi, y)))))), "11")
        + "<h2>2. The Lagrangian and the KKT conditions</h2>"
        "<p>With λ for the normalisation and η(y) ≥ 0 for the positivity constraints "
        "(eq. 13):</p>"
        + eq(sp.Symbol("ℒ"), lagrangian, "13")
        + "<p>The derivative of the divergence term in π(y) is f′ at the ratio (chain rule: "
        "π<sub>ref</sub> · f′(π/π<sub>ref</sub>) · 1/π<sub>ref</sub>), so setting "
        "∂ℒ/∂π(y) = 0 gives (eqs. 14–15)</p>"
        + eq(mul(beta, f1(ratio(pi_star, y))), add(psi_bar(y), -lam, eta(y)), "15")
        + "<p>together with primal feasibility, η(y) ≥ 0 and complementary slackness "
        "η(y) π*(y) = 0.</p>"
        "<h2>3. Full support and the closed form</h2>"
        "<p>If f′(u) → −∞ as u → 0+ (0 ∉ dom f′), no π*(y) can be 0: the left side of "
        "eq. 15 would be −∞. So every η(y) vanishes and eq. 15 becomes eq. 16 (Theorem 3.1):"
        "</p>"
        + eq(mul(beta, f1(ratio(pi_star, y))), sub(psi_bar(y), lam), "16")
        + "<p>f′ is increasing, so this inverts to π*(y) = π<sub>ref</sub>(y) "
        "(f′)⁻¹((Ψ̄(y) − λ)/β), and λ is fixed by Σ π*(y) = 1. Where the assumption fails "
        "(Pearson χ², whose f′(0) = −2), the optimum can put exactly zero mass on "
        'weak actions; the <a href="bandit.html">simulator</a> shows it.</p>'
        "<h2>4. Pairs cancel λ</h2>"
        "<p>Writing eq. 16 for a preferred response y<sub>w</sub> and a dispreferred "
        "y<sub>l</sub> and subtracting removes λ (eq. 17):</p>"
        + eq(sub(psi_bar(y_w), psi_bar(y_l)),
             mul(beta, sub(f1(ratio(pi_star, y_w)), f1(ratio(pi_star, y_l)))), "17")
        + "<p>This is the relation every loss of the family tries to enforce, each in its "
        "own way.</p>"
        "<h2>5. Ψ = logit: f-DPO (Proposition 3.2)</h2>"
        "<p>With Bradley–Terry preferences p*(y ≻ y′) = σ(r(y) − r(y′)), the logit undoes "
        "σ, so Ψ̄(y) = r(y) − a constant (eq. 7). Eq. 17 then says β(f′(u<sub>w</sub>) − "
        "f′(u<sub>l</sub>)) = r(y<sub>w</sub>) − r(y<sub>l</sub>) at the optimum, and the "
        "Bradley–Terry likelihood of the data becomes eqs. 20–21:</p>"
        + eq(p_star(y_w, y_l),
             sigma(sub(mul(beta, f1(ratio(pi, y_w))), mul(beta, f1(ratio(pi, y_l))))), "20")
        + "<p>whose negative log is the f-DPO loss (eq. 5); with reverse KL it is DPO "
        f"(eq. 4), since f′(u) = log u + 1. Here r is the reward: {_m(r(y))}.</p>"
    )


def _iupo_forms(js_figure: str) -> str:
    """Steps 6–7: Ψ = identity, the two forms of the statistic, and both for JS."""
    stat = sp.Symbol("s")
    k = derive(get_divergence("js")).log_ratio_derivative
    js_rows = [
        ["f′(eᵗ), the JS kernel", math(k)],
        ["per-response form", math(k.subs(T, _A_W - _R_W) - k.subs(T, _A_L - _R_L))],
        ["paper form (eq. 26's statistic)", math(k.subs(T, _A_W - _A_L) - k.subs(T, _R_W - _R_L))],
    ]
    return (
        "<h2>6. Ψ = identity: IUPO</h2>"
        "<p>With the identity, Ψ̄(y) is the probability that y beats a response from μ, "
        "and UPO becomes eq. 22. Following IPO (Azar et al.), the loss regresses a pair "
        "statistic onto the constant 1/(2β): the population minimiser of the squared loss "
        "under pairs from μ ⊗ μ with winners drawn from p* sets the statistic to the "
        "difference of expected preferences divided by β, which is eq. 17 exactly when the "
        "statistic is the one eq. 17 contains. That is the <strong>per-response form</strong>"
        ":</p>"
        + eq(stat, sub(f1(ratio(pi, y_w)), f1(ratio(pi, y_l))))
        + "<p>The paper instead generalises IPO's h (eq. 9) by putting f′ on the ratios of "
        "the two responses, the <strong>paper form</strong> (eq. 23), with the loss of "
        "eq. 24:</p>"
        + eq(stat, sub(f1(pi(y_w) / pi(y_l)), f1(pi_ref(y_w) / pi_ref(y_l))), "23")
        + eq(sp.Symbol("ℓ"), (stat - IUPO_TARGET) ** 2, "24")
        + "<p>For reverse KL both are h (Proposition 4.1, eq. 25), so IUPO contains IPO. "
        "For any other f they are different functions, and the paper form is not even "
        "antisymmetric: swapping y<sub>w</sub> and y<sub>l</sub> does not negate it.</p>"
        "<h2>7. The two forms for Jensen–Shannon</h2>"
        "<p>With a, r the log-probabilities of a response under the policy and the "
        "reference, SymPy gives (eq. 26 is the square of the paper form minus 1/(2β)):</p>"
        + table(["object", "expression"], js_rows, "wide")
        + "<p>The JS kernel is bounded by log 2, so the paper form is at most log 2 − "
        "f′(π<sub>ref</sub>(y<sub>w</sub>)/π<sub>ref</sub>(y<sub>l</sub>)): for small β the "
        "target 1/(2β) lies above everything the statistic can reach, and the loss pushes "
        "π(y<sub>l</sub>) towards zero without ever meeting its target. The figure shows "
        "both statistics over (π(y<sub>w</sub>), π(y<sub>l</sub>)) with the target's level "
        "lines.</p>"
        + js_figure
    )
