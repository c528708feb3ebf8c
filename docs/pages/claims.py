"""The verification report: every claim of the paper, PROVEN / REFUTED / NOT APPLICABLE.

Printed from ``upo_theory.claims.verify_all``: the statement, the proof summary or the reason, and
for a refuted claim the counterexample's values, which a reader can plug in by hand.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..html import badge, esc, note, readable, table
from ..site import Page


def claims_page(results: list[Any] | None, missing: str = "") -> Page:
    """The report page; ``results`` from ``verify_all()``, or None with why it is missing."""
    if results is None:
        body = note(f"The verification report is not available in this build: {esc(missing)}.",
                    "warn")
        return Page("claims.html", "Verification report", "Theory", body)
    counts = Counter(r.status for r in results)
    summary = ", ".join(f"{badge(s)} {counts[s]}" for s in ("PROVEN", "REFUTED", "NOT APPLICABLE")
                        if counts[s])
    groups: dict[str, list[Any]] = {}
    for r in results:
        groups.setdefault(r.claim, []).append(r)
    toc = "".join(
        f'<li><a href="#{_anchor(i)}">{readable(name)}</a> — {esc(rs[0].reference)} '
        f"{_group_summary(rs)}</li>"
        for i, (name, rs) in enumerate(groups.items())
    )
    sections = "".join(_group(i, name, rs) for i, (name, rs) in enumerate(groups.items()))
    body = (
        "<p>Each claim of the paper (and a few beyond it, on the two forms of the IUPO "
        "statistic) is decided by SymPy: <strong>PROVEN</strong> when the identity simplifies "
        "for all values, <strong>REFUTED</strong> with a counterexample, <strong>NOT "
        "APPLICABLE</strong> when the divergence falls outside the claim's assumptions "
        "(Theorem 3.1's conditions, see the <a href=\"divergences.html\">divergences</a>). "
        "Regenerate it with <code>python -m upo_theory</code>.</p>"
        f"<p>{len(results)} results: {summary}.</p>"
        f"<ol>{toc}</ol>{sections}"
    )
    return Page("claims.html", "Verification report", "Theory", body,
                "every claim proven, refuted or not applicable, with counterexamples")


def _anchor(i: int) -> str:
    return f"claim-{i + 1}"


def claim_anchors(results: list[Any]) -> dict[str, str]:
    """The id of each claim's section on the report page, by claim title."""
    names = list(dict.fromkeys(r.claim for r in results))
    return {name: _anchor(i) for i, name in enumerate(names)}


def _group_summary(results: list[Any]) -> str:
    counts = Counter(r.status for r in results)
    return " ".join(f"{badge(s)}×{n}" if len(results) > 1 else badge(s) for s, n in counts.items())


def _group(i: int, name: str, results: list[Any]) -> str:
    first = results[0]
    rows = [
        [esc(r.divergence or "—"), badge(r.status), readable(r.detail), _counterexample(r)]
        for r in results
    ]
    return (
        f'<h2 id="{_anchor(i)}">{readable(name)}</h2>'
        f"<p><em>{esc(first.reference)}.</em> {readable(first.statement)}</p>"
        + table(["divergence", "status", "proof or reason", "counterexample"], rows, "wide")
    )


def _counterexample(result: Any) -> str:
    if not result.counterexample:
        return ""
    items = "; ".join(
        f'<code class="nowrap">{esc(k)} = {esc(v)}</code>'
        for k, v in result.counterexample.items()
    )
    return f'<div class="counterexample">{items}</div>'
