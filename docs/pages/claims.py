"""The verification report: the central claim, the paper's claims, then the extended checks.

Printed from ``upo_theory.verify_all()`` as ``python -m upo_theory`` prints it: the central claim
first (with its proof and the paper form's counterexample), then the paper's claims, each within
the scope the paper states, then the checks beyond the paper; each group headed by its counts.
Every REFUTED row carries the numbers a reader can plug in by hand.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from upo_theory import CENTRAL_CLAIMS, CENTRAL_PROOF, CLAIM_GROUPS, CLAIM_STATUSES

from ..html import badge, esc, note, readable, table
from ..site import Page


def claims_page(results: list[Any] | None, missing: str = "") -> Page:
    """The report page; ``results`` from ``verify_all()``, or None with why it is missing."""
    if results is None:
        body = note(f"The verification report is not available in this build: {esc(missing)}.",
                    "warn")
        return Page("claims.html", "Verification report", "Theory", body)
    anchors = claim_anchors(results)
    body = (
        "<p>Each statement is decided by SymPy: <strong>PROVEN</strong> when it simplifies for "
        "all values (or, for a statement that two things differ, at a witness point), "
        "<strong>REFUTED</strong> with a counterexample, <strong>NOT APPLICABLE</strong> when the "
        "divergence is outside the statement's scope (Theorem 3.1's conditions, see the <a "
        "href=\"divergences.html\">divergences</a>), <strong>UNDECIDED</strong> where SymPy can "
        "settle neither. The <em>paper's claims</em> are checked only within the scope the paper "
        "states (a claim made for reverse KL is checked for reverse KL); the <em>extended "
        "checks</em> are statements of our own beyond the paper, each saying its own scope. "
        "Regenerate the report with <code>python -m upo_theory</code>.</p>"
        + _central(results)
        + "".join(_group(group, [r for r in results if r.group == group], anchors)
                  for group in CLAIM_GROUPS)
    )
    return Page("claims.html", "Verification report", "Theory", body,
                "the central claim, the paper's claims within their scope, and extended checks")


def _anchor(i: int) -> str:
    return f"claim-{i + 1}"


def claim_anchors(results: list[Any]) -> dict[str, str]:
    """The id of each claim's section on the report page, by claim title."""
    names = list(dict.fromkeys(r.claim for r in results))
    return {name: _anchor(i) for i, name in enumerate(names)}


def headline(results: list[Any]) -> str:
    """"N results: PROVEN a, REFUTED b, ...", with badges (statuses that occur)."""
    counts = Counter(r.status for r in results)
    tally = ", ".join(f"{badge(s)} {counts[s]}" for s in CLAIM_STATUSES if counts[s])
    return f"{len(results)} results: {tally}"


def _central(results: list[Any]) -> str:
    """The central claim: the verdicts per form, the proof, the paper form's counterexample."""
    forms = ("per-response statistic (eq. 17)", "paper statistic (eq. 23)")
    rows = []
    for name, form in zip(CENTRAL_CLAIMS, forms, strict=True):
        found = [r for r in results if r.claim == name]
        verdicts = "; ".join(
            f"{badge(s)} " + esc(", ".join(r.divergence or "every admissible f"
                                           for r in found if r.status == s))
            for s in CLAIM_STATUSES if any(r.status == s for r in found))
        rows.append([esc(form), verdicts])
    refuted = [r for r in results if r.claim == CENTRAL_CLAIMS[1] and r.status == "REFUTED"]
    example = ""
    if refuted:
        shown = next((r for r in refuted if r.divergence == "js"), refuted[0])
        example = (f"<p>The paper statistic's counterexample for {esc(shown.divergence)} "
                   "(three actions; π* by Theorem 3.1, the minimiser of eq. 24 by BFGS):</p>"
                   + table(["quantity", "value"], [[readable(k), f"<code>{esc(v)}</code>"]
                                                    for k, v in shown.counterexample.items()]))
    steps = "".join(f"<li>{readable(step)}</li>" for step in CENTRAL_PROOF)
    return (
        '<h2 id="central-claim">The central claim</h2>'
        "<p>Minimising the IUPO loss (eq. 24, Algorithm 1) gives the IUPO optimum π* (eq. 22). "
        "It depends on the statistic the loss regresses to 1/(2β):</p>"
        + table(["statistic", "verdict"], rows)
        + "<p>Why it holds for the per-response statistic, for every admissible f (SymPy checks "
          "steps 1 and 2 for three and four actions with symbolic μ, p*, β and c):</p>"
        + f"<ol>{steps}</ol>" + example
    )


def _group(group: str, results: list[Any], anchors: dict[str, str]) -> str:
    if not results:
        return ""
    claims: dict[str, list[Any]] = {}
    for r in results:
        claims.setdefault(r.claim, []).append(r)
    toc = "".join(
        f'<li><a href="#{anchors[name]}">{readable(name)}</a> — {esc(rs[0].scope)}: '
        f"{_summary(rs)}</li>" for name, rs in claims.items())
    sections = "".join(_claim(anchors[name], name, rs) for name, rs in claims.items())
    return (f'<h2 id="{group}-claims">{esc(CLAIM_GROUPS[group])}</h2>'
            f"<p>{headline(results)}.</p><ol>{toc}</ol>{sections}")


def _summary(results: list[Any]) -> str:
    counts = Counter(r.status for r in results)
    return " ".join(f"{badge(s)}×{n}" if len(results) > 1 else badge(s) for s, n in counts.items())


def _claim(anchor: str, name: str, results: list[Any]) -> str:
    first = results[0]
    rows = [
        [esc(r.divergence or "—"), badge(r.status), readable(r.detail), _numbers(r)]
        for r in results
    ]
    return (
        f'<h3 id="{anchor}">{readable(name)}</h3>'
        f"<p><em>{esc(first.reference)}; {esc(first.scope)}.</em> "
        f"{readable(first.statement)}</p>"
        + table(["divergence", "status", "proof or reason", "counterexample or witness"], rows,
                "wide")
    )


def _numbers(result: Any) -> str:
    """The counterexample of a REFUTED row, or the witness of a PROVEN one, as code."""
    values = result.counterexample if result.status == "REFUTED" else result.witness
    if not values:
        return ""
    kind = "counterexample" if result.status == "REFUTED" else "witness"
    items = "; ".join(f'<code class="nowrap">{esc(k)} = {esc(v)}</code>'
                      for k, v in values.items())
    return f'<div class="{kind}">{items}</div>'
