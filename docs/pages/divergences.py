"""One page per registered divergence, and an overview, printed from ``upo_theory.derive``.

Every formula on these pages is the SymPy object that the code derived and checked: f, f′, f″,
(f′)⁻¹, the log-space kernel f′(eᵗ), the range of f′ and the conditions of Theorem 3.1.
"""

from __future__ import annotations

import re

import sympy as sp

from upo_theory import Derivation, Divergence, derive, registered
from upo_theory.derivation import T

from ..html import badge, esc, math, note, table
from ..site import Page

_AW, _AL = sp.Symbol("a_w", real=True), sp.Symbol("a_l", real=True)
_RW, _RL = sp.Symbol("r_w", real=True), sp.Symbol("r_l", real=True)


def page_path(div: Divergence) -> str:
    """The file name of a divergence's page."""
    return f"divergence-{div.name}.html"


def pretty(text: str) -> str:
    """A check's plain-text name or detail made readable: ∞, →, limits, Greek letters."""
    text = re.sub(r"\blim_\{u->0\+\}", "lim<sub>u→0+</sub>", esc(text))
    text = re.sub(r"-oo\b", "−∞", text)
    text = re.sub(r"\boo\b", "∞", text)
    text = re.sub(r"\beta\b", "η", text.replace("-&gt;", "→"))
    return text


def verdict(d: Derivation) -> str:
    """A badge and the reason: admissible, or the first condition of Theorem 3.1 that fails."""
    label = "admissible" if d.admissible else "not admissible"
    return f"{badge(label)} {pretty(d.reason)}"


def overview(figure_html: str) -> Page:
    """The table of every registered divergence with its verdict, linking to each page."""
    rows = []
    for div in registered():
        d = derive(div)
        rows.append([
            f'<a href="{page_path(div)}">{esc(div.label)}</a>',
            esc(div.title),
            math(div.f),
            math(d.f1),
            math(d.sup_f1),
            math(d.inf_f1),
            badge("admissible" if d.admissible else "not admissible"),
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


def divergence_page(div: Divergence) -> Page:
    """The page of one divergence: its derived objects, the conditions and the verdict."""
    d = derive(div)
    objects = [
        ["generator", math(sp.Eq(sp.Symbol("f(u)"), div.f, evaluate=False))],
        ["first derivative", _formula("f′(u)", d.f1)],
        ["second derivative", _formula("f″(u)", d.f2)],
        ["inverse of f′", _formula("(f′)⁻¹(y)", d.inverse)],
        ["inf f′ on (0, ∞)", math(d.inf_f1)],
        ["sup f′ on (0, ∞)", math(d.sup_f1)],
    ]
    if d.differentiable:
        objects.append(["log-space kernel", _formula("f′(eᵗ)", d.log_ratio_derivative)])
        objects.append(["log of the inverse", _formula("log (f′)⁻¹(y)", d.log_inverse)])
    checks = [
        [pretty(c.name), badge({True: "holds", False: "fails"}.get(c.holds, "not applicable")),
         esc(c.method), pretty(c.detail)]
        for c in d.checks
    ]
    body = (
        f"<p><strong>{esc(div.title)}</strong> — registry name <code>{esc(div.label)}</code>. "
        f"Verdict: {verdict(d)}.</p>"
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
        + '<p>The claims checked for this divergence are in the <a href="claims.html">'
        "verification report</a>.</p>"
    )
    return Page(page_path(div), div.label, "Divergences", body, div.title)


def pages() -> list[Page]:
    """Every divergence's page, in registry order."""
    return [divergence_page(div) for div in registered()]


def _formula(lhs: str, rhs: sp.Expr | None) -> str:
    if rhs is None:
        return "— (none found)"
    return math(sp.Eq(sp.Symbol(lhs), rhs, evaluate=False))


def _loss_section(d: Derivation) -> str:
    if not d.differentiable:
        return ("<h2>In the loss family</h2>"
                + note("No f′, so no pair statistic: f-DPO and IUPO are undefined for this f.",
                       "warn"))
    k = d.log_ratio_derivative
    per_response = k.subs(T, _AW - _RW) - k.subs(T, _AL - _RL)
    paper = k.subs(T, _AW - _AL) - k.subs(T, _RW - _RL)
    swap = {_AW: _AL, _AL: _AW, _RW: _RL, _RL: _RW}
    facts = [
        ["the two forms are the same function", _identically_zero(paper - per_response)],
        ["per-response form is antisymmetric in (y_w, y_l)",
         _identically_zero(per_response + per_response.subs(swap, simultaneous=True))],
        ["paper form is antisymmetric in (y_w, y_l)",
         _identically_zero(paper + paper.subs(swap, simultaneous=True))],
    ]
    return (
        "<h2>In the loss family</h2>"
        "<p>With a<sub>w</sub>, a<sub>l</sub> the log-probabilities of the chosen and rejected "
        "responses under the policy and r<sub>w</sub>, r<sub>l</sub> under the reference, the "
        "two pair statistics of this f (see <a href=\"walkthrough.html\">the walk-through</a>) "
        "are, as SymPy writes them:</p>"
        + table(
            ["statistic", "expression"],
            [["per-response form (eqs. 5, 17)", math(sp.simplify(per_response))],
             ["paper form (eq. 23)", math(sp.simplify(paper))]],
        )
        + table(["property", "SymPy"], [[esc(name), value] for name, value in facts])
        + f"<p>The closed-form optimum π* = π<sub>ref</sub> (f′)⁻¹((Ψ̄ − λ)/β) needs "
        f"(Ψ̄ − λ)/β below sup f′ = {math(d.sup_f1)}; with Ψ the identity, the IUPO target "
        f"1/(2β) must be reachable by the statistic, which the "
        f'<a href="claims.html">verification report</a> checks.</p>'
    )


def _identically_zero(expr: sp.Expr) -> str:
    """"yes" if SymPy simplifies ``expr`` to 0, "no" with a witness point if it is not 0 there."""
    if sp.simplify(expr) == 0:
        return badge("holds") + " identically"
    point = dict(zip((_AW, _AL, _RW, _RL), (-1, -2, -sp.Rational(3, 2), -sp.Rational(1, 2)),
                     strict=True))
    value = sp.N(expr.subs(point), 6)
    if value != 0:
        where = ", ".join(f"{k} = {v}" for k, v in point.items())
        return badge("fails") + f" (at {esc(where)}: difference {esc(value)})"
    return badge("not applicable") + " SymPy could not decide"
