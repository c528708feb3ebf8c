"""One page per registered divergence, and an overview, printed from ``upo_theory.derive``.

Every formula on these pages is the SymPy object that the code derived and checked: f, f′, f″,
(f′)⁻¹, the log-space kernel f′(eᵗ), the range of f′ and the conditions of Theorem 3.1.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from upo_theory import Derivation, Divergence, T, derive, registered

from ..html import badge, esc, math, note, readable, table
from ..site import Page
from .claims import claim_anchors

_AW, _AL = sp.Symbol("a_w", real=True), sp.Symbol("a_l", real=True)
_RW, _RL = sp.Symbol("r_w", real=True), sp.Symbol("r_l", real=True)


def page_path(div: Divergence) -> str:
    """The file name of a divergence's page."""
    return f"divergence-{div.name}.html"


def link(div: Divergence, text: str | None = None) -> str:
    """A link to a divergence's page, reading ``text`` (its title by default)."""
    return f'<a href="{page_path(div)}">{esc(div.title if text is None else text)}</a>'


def admissibility(d: Derivation) -> str:
    """The badge of Theorem 3.1's verdict: admissible, undecided or not admissible."""
    if d.admissible:
        return badge("admissible")
    failed = d.failure()
    return badge("undecided" if failed is None or failed.method == "undecided"
                 else "not admissible")


def verdict(d: Derivation) -> str:
    """The badge and the reason: admissible, or the first condition of Theorem 3.1 that fails."""
    if d.admissible:
        return admissibility(d)
    failed = d.failure()
    if failed is None:
        return f"{admissibility(d)} {readable('a condition could not be decided')}"
    how = "could not be decided" if failed.method == "undecided" else "fails"
    return f"{admissibility(d)} {readable(f'{failed.name} {how} ({failed.detail})')}"


def overview(figure_html: str) -> Page:
    """The table of every registered divergence with its verdict, linking to each page."""
    rows = []
    for div in registered():
        d = derive(div)
        rows.append([
            link(div, div.label),
            esc(div.title),
            math(div.f),
            math(d.f1),
            math(d.sup_f1),
            math(d.inf_f1),
            admissibility(d),
        ])
    body = (
        "<p>Each divergence is given only by its generator f; "
        "<code>upo_theory.derive</code> derives the rest with SymPy and checks the conditions "
        "of Theorem 3.1. The columns below are those objects, printed as they were derived.</p>"
        + table(["name", "divergence", "f(u)", "f′(u)", "sup f′", "inf f′", "Theorem 3.1"],
                rows, "wide")
        + note("A finite inf f′ means 0 ∈ dom f′: the optimum may put zero mass on an action "
               "and the multipliers η of eq. (15) are active, so the closed form of Theorem 3.1 "
               "does not apply (Pearson χ²). Total variation has no derivative at u = 1.")
        + figure_html
    )
    return Page("divergences.html", "Divergences", "Divergences", body,
                "f, f′, f″, (f′)⁻¹ and Theorem 3.1's verdict for every divergence")


def divergence_page(div: Divergence, claims: list[Any] | None = None) -> Page:
    """The page of one divergence: its derived objects, the conditions, the verdict and the
    results of ``verify_all()`` (``claims``) for it."""
    d = derive(div)
    none = "none found" if d.differentiable else "f is not differentiable"
    objects = [
        ["generator", math(sp.Eq(sp.Symbol("f(u)"), div.f, evaluate=False))],
        ["first derivative", _formula("f′(u)", d.f1, none)],
        ["second derivative", _formula("f″(u)", d.f2, none)],
        ["inverse of f′", _formula("(f′)⁻¹(y)", d.inverse, none)],
        ["inf f′ on (0, ∞)", math(d.inf_f1)],
        ["sup f′ on (0, ∞)", math(d.sup_f1)],
    ]
    if d.differentiable:
        objects.append(["log-space kernel", _formula("f′(eᵗ)", d.log_ratio_derivative)])
        objects.append(["log of the inverse", _formula("log (f′)⁻¹(y)", d.log_inverse)])
    checks = [
        [readable(c.name), badge({True: "holds", False: "fails"}.get(c.holds, "not applicable")),
         esc(c.method), readable(c.detail)]
        for c in d.checks
    ]
    body = (
        f"<p>Registry name <code>{esc(div.label)}</code> (<code>--f {esc(div.name)}</code> on "
        f"the command line). Theorem 3.1: {verdict(d)}.</p>"
        "<h2>Derived objects</h2>"
        + table(["object", "SymPy's result"], objects)
        + (
            "" if d.inverse is not None or not d.differentiable else note(
                "SymPy found no closed form for (f′)⁻¹; the kernel inverts f′ numerically "
                "(bracketed bisection on the increasing f′(eᵗ), polished by Newton steps).")
        )
        + "<h2>Conditions of Theorem 3.1</h2>"
        + table(["condition", "result", "method", "detail"], checks, "wide")
        + "<p>A <em>numeric</em> method means SymPy could not decide the condition, and it was "
        "checked on a dense grid of u ∈ [10⁻¹², 10¹²] instead: evidence, not proof.</p>"
        + _loss_section(d)
        + _claims_section(div, claims)
    )
    return Page(page_path(div), div.title, "Divergences", body, f"registry name {div.label}")


def pages(claims: list[Any] | None = None) -> list[Page]:
    """Every divergence's page, in registry order, with its rows of the verification report."""
    return [divergence_page(div, claims) for div in registered()]


def _formula(lhs: str, rhs: sp.Expr | None, none: str = "none found") -> str:
    if rhs is None:
        return f"— ({none})"
    return math(sp.Eq(sp.Symbol(lhs), rhs, evaluate=False))


def _loss_section(d: Derivation) -> str:
    if not d.differentiable:
        return ("<h2>In the loss family</h2>"
                + note("No f′, so no pair statistic: f-DPO and IUPO are undefined for this f.",
                       "warn"))
    k = d.log_ratio_derivative
    per_response = k.subs(T, _AW - _RW) - k.subs(T, _AL - _RL)
    paper = k.subs(T, _AW - _AL) - k.subs(T, _RW - _RL)
    return (
        "<h2>In the loss family</h2>"
        "<p>With a<sub>w</sub>, a<sub>l</sub> the log-probabilities of the chosen and rejected "
        "responses under the policy and r<sub>w</sub>, r<sub>l</sub> under the reference, the "
        "two pair statistics of this f (see <a href=\"walkthrough.html\">the walk-through</a>) "
        "are the kernel f′(eᵗ) at two pairs of log-ratios:</p>"
        + table(
            ["statistic", "expression"],
            [["per-response form (eqs. 5, 17)", math(per_response)],
             ["paper form (eq. 23)", math(paper)]],
        )
        + f"<p>The closed-form optimum π* = π<sub>ref</sub> (f′)⁻¹((Ψ̄ − λ)/β) needs "
        f"(Ψ̄ − λ)/β below sup f′ = {math(d.sup_f1)}.</p>"
    )


def _claims_section(div: Divergence, results: list[Any] | None) -> str:
    if results is None:
        return ""
    anchors = claim_anchors(results)
    parts = []
    for group, title in (("paper", "The paper's claims for this f"),
                         ("extended", "Extended checks beyond the paper")):
        rows = [
            [f'<a href="claims.html#{anchors[r.claim]}">{readable(r.claim)}</a>',
             esc(r.reference), esc(r.scope), badge(r.status), readable(r.detail)]
            for r in results if r.divergence == div.label and r.group == group
        ]
        if rows:
            parts.append(f"<h2>{title}</h2>"
                         + table(["claim", "reference", "scope", "status", "proof or reason"],
                                 rows, "wide"))
    return ("<p>From the <a href=\"claims.html\">verification report</a>, which separates "
            "what the paper claims (each within the scope it states) from the checks that go "
            "beyond it.</p>" + "".join(parts))
