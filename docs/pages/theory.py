"""The divergence pages and the verification report, printed from ``upo_theory``'s objects.

Every formula of a divergence page is the SymPy object the code derived (``derive``), printed by
SymPy's ``latex()``, and Theorem 3.1's conditions and their reasons are typeset from the LaTeX
each check carries (``Condition.latex``, ``Check.detail_latex``). The claims (``verify_all``) are
shown as the core states them: name, statement, scope, proof or reason typeset from the LaTeX
each result carries (``claim_latex``, ``statement_latex``, ``scope_latex``, ``detail_latex``;
``python -m upo_theory`` prints the plain text beside it); the central claim's proof is written
out in LaTeX on the report page (``docs/source/central-proof.md``).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import sympy as sp

from ..myst import badge, code, math, note, page, table, text
from ..project import (
    CENTRAL_CLAIMS,
    CLAIM_GROUPS,
    CLAIM_STATUSES,
    Derivation,
    Divergence,
    T,
    derive,
    registered,
)

_AW, _AL = sp.Symbol("a_w", real=True), sp.Symbol("a_l", real=True)
_RW, _RL = sp.Symbol("r_w", real=True), sp.Symbol("r_l", real=True)


def docname(div: Divergence) -> str:
    """The document of a divergence's page."""
    return f"divergences/{div.name}"


def link(div: Divergence, label: str | None = None) -> str:
    """A link to a divergence's page, reading ``label`` (its title by default)."""
    return f"{{doc}}`{label or div.title} </{docname(div)}>`"


def admissibility(d: Derivation) -> str:
    """The badge of Theorem 3.1's verdict: admissible, undecided or not admissible."""
    if d.admissible:
        return badge("admissible")
    failed = d.failure()
    return badge("undecided" if failed is None or failed.method == "undecided"
                 else "not admissible")


def overview(figures: str) -> str:
    """``divergences/index``: every registered divergence, its objects and its verdict."""
    rows = []
    for div in registered():
        d = derive(div)
        rows.append([link(div, div.label), text(div.title), math(div.f), math(d.f1),
                     math(d.sup_f1), math(d.inf_f1), admissibility(d)])
    toc = "\n".join(f"{docname(div).split('/')[1]}" for div in registered())
    body = (
        "Each divergence is given only by its generator $f$; {py:func}`upo_theory.derive` "
        "derives the "
        "rest with SymPy and checks the conditions of Theorem 3.1. The columns below are those "
        "objects, printed by SymPy as they were derived.\n\n"
        + table(["name", "divergence", "$f(u)$", "$f'(u)$", r"$\sup f'$", r"$\inf f'$",
                 "Theorem 3.1"], rows)
        + note(r"A finite $\inf f'$ means $0 \in \operatorname{dom} f'$: the optimum may put "
               r"zero mass on an action and the multipliers $\eta$ of eq. (15) are active, so "
               "the closed form of Theorem 3.1 does not apply (Pearson $\\chi^2$). Total "
               "variation has no derivative at $u = 1$.")
        + figures
        + f"```{{toctree}}\n:hidden:\n\n{toc}\n```\n"
    )
    return page("Divergences", body, "divergences")


def _formula(lhs: str, rhs: sp.Expr | None, none: str) -> str:
    return f"— ({none})" if rhs is None else math(rhs, lhs)


def divergence_page(div: Divergence, claims: list[Any] | None) -> str:
    """One divergence: its derived objects, Theorem 3.1's conditions, its two pair statistics
    and its rows of the verification report."""
    d = derive(div)
    none = "none found" if d.differentiable else "$f$ is not differentiable"
    objects = [
        ["generator", math(div.f, "f(u)")],
        ["first derivative", _formula("f'(u)", d.f1, none)],
        ["second derivative", _formula("f''(u)", d.f2, none)],
        ["inverse of $f'$", _formula("(f')^{-1}(y)", d.inverse, none)],
        [r"$\inf f'$ on $(0, \infty)$", math(d.inf_f1)],
        [r"$\sup f'$ on $(0, \infty)$", math(d.sup_f1)],
    ]
    if d.differentiable:
        objects.append(["log-space kernel", math(d.log_ratio_derivative, "k(t) = f'(e^t)")])
        objects.append(["log of the inverse", _formula(r"\log (f')^{-1}(y)", d.log_inverse,
                                                       none)])
    checks = [[condition(c), badge({True: "holds", False: "fails"}.get(c.holds,
                                                                      "not applicable")),
               code(c.method), check_detail(c)] for c in d.checks]
    no_inverse = ("" if d.inverse is not None or not d.differentiable else note(
        "SymPy found no closed form for $(f')^{-1}$; the kernel inverts $f'$ numerically "
        "(bracketed bisection on the increasing $f'(e^t)$, polished by Newton steps)."))
    body = (
        f"Registry name {code(div.label)} ({code('--f ' + div.name)} on the command line). "
        f"Theorem 3.1: {_verdict(d)}\n\n"
        "## Derived objects\n\n" + table(["object", "SymPy's result"], objects) + no_inverse
        + "## Conditions of Theorem 3.1\n\n"
        "Each condition as `upo_theory` states and decides it.\n\n"
        + table(["condition", "result", "method", "detail"], checks)
        + "A *numeric* method means SymPy could not decide the condition, and it was checked "
        r"on a dense grid of $u \in [10^{-12}, 10^{12}]$ instead: evidence, not proof."
        "\n\n" + _loss_section(d) + _claims_section(div, claims)
    )
    return page(div.title, body, f"divergence-{div.name}")


def _verdict(d: Derivation) -> str:
    if d.admissible:
        return admissibility(d) + "."
    failed = d.failure()
    if failed is None:
        return f"{admissibility(d)}: a condition could not be decided."
    how = "could not be decided" if failed.method == "undecided" else "fails"
    return f"{admissibility(d)}: {condition(failed)} {how} ({check_detail(failed)})."


def condition(check: Any) -> str:
    """A condition of Theorem 3.1, typeset (``Condition.latex``)."""
    return check.latex


def check_detail(check: Any) -> str:
    """Why a condition holds or fails, typeset where the check writes it in LaTeX
    (``detail_latex``), else as the derivation prints it, in code type."""
    return check.detail_latex or code(check.detail)


def _loss_section(d: Derivation) -> str:
    if not d.differentiable:
        return ("## In the loss family\n\n" + note(
            "No $f'$, so no pair statistic: f-DPO and IUPO are undefined for this $f$.",
            "warning"))
    k = d.log_ratio_derivative
    per_response = k.subs(T, _AW - _RW) - k.subs(T, _AL - _RL)
    paper = k.subs(T, _AW - _AL) - k.subs(T, _RW - _RL)
    return (
        "## In the loss family\n\n"
        "With $a_w, a_l$ the log-probabilities of the chosen and rejected responses under the "
        "policy and $r_w, r_l$ under the reference, the two pair statistics of this $f$ (see "
        "{doc}`the walk-through </walkthrough>`) are the kernel $k(t) = f'(e^t)$ at two pairs "
        "of log-ratios:\n\n"
        + table(["statistic", "expression"],
                [["per-response form (eqs. 5, 17)", math(per_response)],
                 ["paper form (eq. 23)", math(paper)]])
        + r"The closed-form optimum $\pi^* = \pi_{\mathrm{ref}}\,(f')^{-1}"
        r"\big((\bar\Psi - \lambda)/\beta\big)$ needs $(\bar\Psi - \lambda)/\beta$ below "
        rf"$\sup f' = {sp.latex(d.sup_f1)}$."
        "\n\n"
    )


def _claims_section(div: Divergence, results: list[Any] | None) -> str:
    if results is None:
        return ""
    anchors = claim_anchors(results)
    parts = []
    for group, title in (("paper", "The paper's claims for this f"),
                         ("repair", "The project's repair (the per-response statistic)"),
                         ("extended", "Extended checks beyond the paper")):
        rows = [[f"{{ref}}`§{anchors[r.claim].split('-')[1]} <{anchors[r.claim]}>` "
                 + claim_name(r), scope(r), badge(r.status), detail(r)]
                for r in results if r.divergence == div.label and r.group == group]
        if rows:
            parts.append(f"## {title}\n\n"
                         + table(["claim", "scope", "status", "proof or reason"], rows))
    if not parts:
        return ""
    return ("From the {doc}`verification report </claims>`, which separates what the paper "
            "claims (each within the scope it states), the project's repair of eq. 24 and the "
            "checks that go beyond it.\n\n"
            + "".join(parts))


def finding(results: list[Any] | None) -> str:
    """The home page's finding, its number taken from the report: the paper statistic's
    counterexample for JS (total variation between the loss's minimiser and the optimum)."""
    refuted = [r for r in results or () if r.claim == CENTRAL_CLAIMS[1]
               and r.status == "REFUTED" and "total variation" in (r.counterexample or {})]
    shown = next((r for r in refuted if r.divergence == "js"), refuted[0] if refuted else None)
    miss = ("" if shown is None else
            f" for {code(shown.divergence)} on three actions, its minimiser lies at total "
            f"variation **{shown.counterexample['total variation']}** from the optimum")
    return ("**The finding.** The paper's IUPO loss (eq. 24, with the statistic of eq. 23 and "
            f"Algorithm 1) does not give the IUPO optimum (eq. 22):{miss}. With the "
            "per-response statistic of eq. 17, the project's repair, it does, for every "
            "admissible $f$ ({ref}`proof and counterexample <central-claim>`).\n")


def claim_anchors(results: list[Any]) -> dict[str, str]:
    """The label of each claim's section on the report page, by claim name."""
    names = list(dict.fromkeys(r.claim for r in results))
    return {name: f"claim-{i + 1}" for i, name in enumerate(names)}


def _tally(results: list[Any]) -> str:
    counts = Counter(r.status for r in results)
    return ", ".join(f"{badge(s)} {counts[s]}" for s in CLAIM_STATUSES if counts[s])


def claims_page(results: list[Any] | None, missing: str, proof: str) -> str:
    """The verification report: the central claim (``proof``: its proof, MyST), then each
    group of claims with its counts, every claim with its rows."""
    if results is None:
        return page("Verification report", note(
            f"The verification report is not available in this build: {code(missing)}.",
            "warning"), "claims")
    anchors = claim_anchors(results)
    body = (
        "Each statement is decided by SymPy: **PROVEN** when it simplifies for all values (or, "
        "for a statement that two things differ, at a witness point), **REFUTED** with a "
        "counterexample, **NOT APPLICABLE** when the divergence is outside the statement's "
        "scope (Theorem 3.1's conditions, see the {doc}`divergences </divergences/index>`), "
        "**UNDECIDED** where SymPy can settle neither. The *paper's claims* are checked only "
        "within the scope the paper states; the *repair* is the project's own: the per-response "
        "statistic of eq. 17 in the loss of eq. 24, and its central claim, which the paper does "
        "not make; the *extended checks* are statements of our own beyond the paper, each "
        "saying its own scope. Names, statements, scopes, proofs and reasons are typeset from "
        "the LaTeX each result carries, and so are the quantities of each counterexample and "
        "witness; the terminal report writes the same in plain text "
        "({ref}`notation <report-notation>`).\n\n"
        f"In all: {len(results)} results, {_tally(results)}.\n\n"
        + _central(results, proof)
        + "(report-notation)=\n## Notation\n\n" + notation_map()
        + "".join(_group(g, [r for r in results if r.group == g], anchors) for g in CLAIM_GROUPS)
    )
    return page("Verification report", body, "claims")


def _central(results: list[Any], proof: str) -> str:
    forms = ("per-response statistic (eq. 17)", "paper statistic (eq. 23)")
    rows = []
    for name, form in zip(CENTRAL_CLAIMS, forms, strict=True):
        found = [r for r in results if r.claim == name]
        verdicts = "; ".join(
            f"{badge(s)} " + ", ".join(code(r.divergence) if r.divergence
                                       else "every admissible $f$"
                                       for r in found if r.status == s)
            for s in CLAIM_STATUSES if any(r.status == s for r in found))
        rows.append([form, verdicts])
    refuted = [r for r in results if r.claim == CENTRAL_CLAIMS[1] and r.status == "REFUTED"]
    example = ""
    if refuted:
        shown = next((r for r in refuted if r.divergence == "js"), refuted[0])
        example = (f"The paper statistic's counterexample for {code(shown.divergence)} (three "
                   "actions; $\\pi^*$ by Theorem 3.1, the minimiser of eq. 24 by BFGS):\n\n"
                   + table(["quantity", "value"], [[f"${quantity(k)}$", f"${numbers(v)}$"]
                                                   for k, v in shown.counterexample.items()]))
    return (
        "(central-claim)=\n## The central claim\n\n"
        r"Minimising the IUPO loss (eq. 24, Algorithm 1) gives the IUPO optimum $\pi^*$, "
        r"Theorem 3.1's optimum (eq. 16 inverted) for $\Psi$ the identity:"
        "\n\n(eq-22)=\n$$\n" + EQ_22 + "\n$$\n\n"
        "It depends on the statistic the loss regresses to $1/(2\\beta)$:\n\n"
        + table(["statistic", "verdict"], rows) + proof + "\n\n" + example)


EQ_22 = (r"\pi^*(y) = \pi_{\mathrm{ref}}(y)\,(f')^{-1}\!\left(\frac{P(y) - \lambda}{\beta}"
         r"\right), \qquad P(y) = \sum_{y'} \mu(y')\, p^*(y \succ y') \tag{22}")
"""The paper's eq. 22, the IUPO optimum, as the report's central claim cites it."""

NOTATION_MAP: tuple[tuple[str, str, str], ...] = (
    (r"\pi_{\mathrm{ref}}", "the reference policy", "pi_ref, piref"),
    (r"\pi^*", "the optimum (eq. 22; Theorem 3.1 for any Ψ)", "pi*"),
    (r"\bar\Psi(y)", r"the mean of $\Psi\big(p^*(y \succ y')\big)$ over $y' \sim \mu$ (eq. 11)",
     "Psibar"),
    (r"(f')^{-1}", "the inverse of the derivative of the generator $f$", "(f')^-1"),
    (r"f'(0^+) = -\infty", "the limit of $f'$ at 0 (Theorem 3.1's reading of "
     r"$0 \notin \operatorname{dom} f'$)", "f'(0+) = -oo"),
    (r"y_w, y_l", "the chosen and the rejected response of a pair", "y_w, y_l"),
    (r"p^*(y \succ y')", "the true preference probability", "p*(y > y')"),
    (r"\beta, \lambda, \mu", "the regularisation, the multiplier of "
     r"$\sum_y \pi(y) = 1$, the distribution of the compared responses", "beta, lambda, mu"),
)
"""How the report's plain text (``python -m upo_theory``) writes the paper's symbols."""


def notation_map() -> str:
    """The table that reads the report's plain-text statements in the paper's symbols."""
    return ("The names, statements, scopes, proofs and reasons below are typeset; the "
            "terminal report (`python -m upo_theory`) prints them as plain text, which writes "
            "the paper's symbols as follows (an error message, where SymPy raised, stays in "
            "code type):\n\n:::{container} terminal-text\n"  # its code column is meant
            + table(["symbol", "meaning", "in the report's text"],
                    [[f"${tex}$", meaning, code(plain)] for tex, meaning, plain in NOTATION_MAP])
            + ":::\n\n")


def _group(group: str, results: list[Any], anchors: dict[str, str]) -> str:
    if not results:
        return ""
    claims: dict[str, list[Any]] = {}
    for r in results:
        claims.setdefault(r.claim, []).append(r)
    toc = "".join(f"1. {{ref}}`§{anchors[name].split('-')[1]} <{anchors[name]}>` "
                  f"{claim_name(rs[0])}: {_tally(rs)}\n" for name, rs in claims.items())
    sections = "".join(_claim(anchors[name], rs) for name, rs in claims.items())
    return (f"({group}-claims)=\n## {CLAIM_GROUPS[group]}\n\n{_tally(results)}.\n\n"
            f"{toc}\n{sections}")


def _claim(anchor: str, results: list[Any]) -> str:
    first = results[0]
    rows = [[code(r.divergence or "—"), badge(r.status), detail(r), _numbers(r)]
            for r in results]
    return (f"({anchor})=\n### §{anchor.split('-')[1]} {claim_name(first)}\n\n"
            f"*{text(first.reference)}*; scope: {scope(first)}.\n\n"
            f"Statement: {statement(first)}\n\n"
            + table(["divergence", "status", "proof or reason", "counterexample or witness"],
                    rows))


NOTATION: dict[str, str] = {
    "beta": r"\beta", "pi_ref": r"\pi_{\mathrm{ref}}", "mu": r"\mu",
    "p*(y_i > y_j), rows i": r"p^*(y_i \succ y_j)_{ij}", "pi_w": r"\pi(y_w)",
    "pi_l": r"\pi(y_l)", "piref_w": r"\pi_{\mathrm{ref}}(y_w)",
    "piref_l": r"\pi_{\mathrm{ref}}(y_l)", "left side": r"\text{left side}",
    "right side": r"\text{right side}", "pi*": r"\pi^*", "lambda": r"\lambda",
    "|gradient of eq. 24 at pi*|": r"\lVert \nabla \mathcal{L}_{(24)}(\pi^*) \rVert",
    "total variation": r"\mathrm{TV}(\text{minimiser}, \pi^*)",
    "pi* (eq. 22, Theorem 3.1)": r"\pi^* \ \text{(eq. 22)}",
    "minimiser of eq. 24": r"\arg\min \mathcal{L}_{(24)}",
    "sum pi* - 1": r"\textstyle\sum_y \pi^*(y) - 1", "rewards": r"r(y)",
    "largest |likelihood - p*|": r"\max \lvert \text{likelihood} - p^* \rvert",
    "minimiser": r"\text{minimiser}",
    "piref_w/piref_l": r"\pi_{\mathrm{ref}}(y_w)/\pi_{\mathrm{ref}}(y_l)",
    "sup of the statistic": r"\sup s", "target 1/(2 beta)": r"\text{target } 1/(2\beta)",
    "threshold at beta = 1/10": r"\text{threshold}, \ \beta = \tfrac{1}{10}",
    "threshold at beta = 1/5": r"\text{threshold}, \ \beta = \tfrac{1}{5}",
    "threshold at beta = 1/2": r"\text{threshold}, \ \beta = \tfrac{1}{2}",
    "paper-form minimiser": r"\text{paper-form minimiser}",
    "pi* (exact KKT)": r"\pi^* \ \text{(exact KKT)}", "pi* (engine)": r"\pi^* \ \text{(engine)}",
    "eta(y_1), eta(y_2)": r"\eta(y_1), \eta(y_2)", "Psibar": r"\bar\Psi",
    "p*(y_1 > y_2)": r"p^*(y_1 \succ y_2)",
    "sigma(beta f'(u*_1) - beta f'(u*_2))": r"\sigma\big(\beta f'(u^*_1) - \beta f'(u^*_2)\big)",
}
"""The report's names of the quantities in its counterexamples and witnesses, as the site
typesets them (a name not here is set as text)."""
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|\d+/\d+)")


def quantity(name: str) -> str:
    """The LaTeX of a quantity's name in a counterexample or witness."""
    return NOTATION.get(name, rf"\text{{{_text(name)}}}")


def _text(value: str) -> str:
    """Text for MathJax's ``\\text{}``, which sets its content as written, braces aside."""
    return value.replace("{", "(").replace("}", ")")


def _item(value: str) -> str:
    value = value.strip()
    if _NUMBER.fullmatch(value):
        if "/" in value:
            num, den = value.lstrip("+-").split("/")
            return ("-" if value.startswith("-") else "") + rf"\tfrac{{{num}}}{{{den}}}"
        mantissa, _, exponent = value.lower().partition("e")
        if float(mantissa) == 0:
            return "0"
        return mantissa + (rf" \times 10^{{{int(exponent)}}}" if exponent else "")
    return rf"\text{{{_text(value)}}}"


def numbers(value: str) -> str:
    """The LaTeX of a value in a counterexample or witness: a number, a vector
    ``1/6, 1/3, 1/2`` or a matrix whose rows are separated by ``;``; other text as text."""
    rows = [row.split(",") for row in value.split(";")]
    if not all(_NUMBER.fullmatch(v.strip()) for row in rows for v in row):
        return _item(value)
    if len(rows) > 1:
        return (r"\begin{pmatrix}" + r" \\ ".join(" & ".join(_item(v) for v in row)
                                                 for row in rows) + r"\end{pmatrix}")
    items = rows[0]
    return _item(items[0]) if len(items) == 1 else (
        r"\big(" + ", ".join(_item(v) for v in items) + r"\big)")


def _mathjax(tex: str) -> str:
    """Inline maths in raw HTML (a table cell's ``<details>``): the LaTeX as character
    references, so Markdown reads none of it (``*``, ``_``, ``\\``, ``|``) as its own."""
    body = "".join(f"&#{ord(c)};" if c in "\\*_`$[]|<>&{}^" else c for c in f"\\({tex}\\)")
    return f'<span class="math notranslate nohighlight">{body}</span>'


def claim_name(result: Any) -> str:
    """A claim's name, typeset where the claim carries its LaTeX (``claim_latex``), else the
    plain name (an identifier of the JSON and the tests) in code type."""
    tex = getattr(result, "claim_latex", "")
    return tex if tex else code(result.claim)


def statement(result: Any) -> str:
    """A claim's statement, typeset where the claim carries its LaTeX (``statement_latex``,
    printed by SymPy where the check has the objects), else as the report prints it, in code
    type."""
    tex = getattr(result, "statement_latex", "")
    return tex if tex else code(result.statement)


def scope(result: Any) -> str:
    """A claim's scope, typeset where the claim carries its LaTeX (``scope_latex``), else as
    the report prints it, in code type."""
    tex = getattr(result, "scope_latex", "")
    return tex if tex else code(result.scope)


def detail(result: Any) -> str:
    """A result's proof or reason, typeset where the claim writes it in LaTeX
    (``detail_latex``), else as the report prints it, in code type."""
    tex = getattr(result, "detail_latex", "")
    return tex if tex else code(result.detail)


def _numbers(result: Any) -> str:
    """The counterexample of a REFUTED row (shown) or the witness of a PROVEN one (folded), as
    a small two-column table of typeset quantities and values."""
    values = result.counterexample if result.status == "REFUTED" else result.witness
    if not values:
        return ""
    kind, shown = (("counterexample", " open") if result.status == "REFUTED"
                   else ("witness", ""))
    rows = "".join(f"<tr><td>{_mathjax(quantity(k))}</td><td>{_mathjax(numbers(v))}</td></tr>"
                   for k, v in values.items())
    return (f'<details{shown}><summary>{kind}</summary><table class="numbers">{rows}'
            "</table></details>")


def js_forms() -> str:
    """The JS kernel and its two pair statistics, as SymPy derives them (the walk-through)."""
    from ..project import get_divergence

    k = derive(get_divergence("js")).log_ratio_derivative
    return table(["object", "expression"], [
        ["the JS kernel", math(k, "k(t) = f'(e^t)")],
        ["per-response form", math(k.subs(T, _AW - _RW) - k.subs(T, _AL - _RL))],
        ["paper form (eq. 26's statistic)", math(k.subs(T, _AW - _AL) - k.subs(T, _RW - _RL))],
    ])
