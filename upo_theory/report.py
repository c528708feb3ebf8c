"""The verification report of the claims, as text and as JSON-ready dicts.

(A derivation is rendered by :mod:`upo_theory.derivation_report`, a layer below the claims.)
"""

from __future__ import annotations

from .claims import CENTRAL_CLAIMS, CENTRAL_PAPER, CLAIM_GROUPS, CLAIM_STATUSES, ClaimResult


def claim_dict(r: ClaimResult) -> dict[str, object]:
    return dict(r.__dict__)


def counts(results: list[ClaimResult]) -> dict[str, int]:
    """How many results have each status, in the order PROVEN, REFUTED, NOT APPLICABLE,
    UNDECIDED."""
    return {status: sum(r.status == status for r in results) for status in CLAIM_STATUSES}


def headline(results: list[ClaimResult]) -> str:
    """"N results: a PROVEN, b REFUTED, c NOT APPLICABLE, d UNDECIDED"."""
    tally = ", ".join(f"{n} {status}" for status, n in counts(results).items())
    return f"{len(results)} results: {tally}"


def by_group(results: list[ClaimResult]) -> dict[str, list[ClaimResult]]:
    """The results of each group (:data:`~upo_theory.claims.CLAIM_GROUPS`), the paper's first."""
    return {group: [r for r in results if r.group == group] for group in CLAIM_GROUPS}


def central_text(results: list[ClaimResult]) -> str:
    """The central claim's verdicts per form (which f it is PROVEN / REFUTED / ... for), the
    proof for every admissible f, and the paper form's worked counterexample (JS's if listed)."""
    lines = ["The central claim: minimising the IUPO loss (eq. 24, Algorithm 1) gives the IUPO "
             "optimum (eq. 22)"]
    for name, form in zip(CENTRAL_CLAIMS, ("per-response statistic (eq. 17)",
                                           "paper statistic (eq. 23)"), strict=True):
        rows = [r for r in results if r.claim == name]
        general = [r for r in rows if r.divergence is None]
        verdicts = "; ".join(
            f"{status} for " + ", ".join(r.divergence for r in rows
                                         if r.status == status and r.divergence)
            for status in CLAIM_STATUSES if any(r.status == status and r.divergence for r in rows))
        if general:
            verdicts = f"{general[0].status} for every admissible f ({verdicts})"
        lines.append(f"  {form}: {verdicts or 'not checked'}")
        if general and general[0].status == "PROVEN":
            lines.append(f"    proof: {general[0].detail}")
    refuted = [r for r in results if r.claim == CENTRAL_PAPER and r.status == "REFUTED"]
    if refuted:
        shown = next((r for r in refuted if r.divergence == "js"), refuted[0])
        example = dict(shown.counterexample or {})
        problem = {k: example.pop(k) for k in list(example)[:4]}
        lines.append(f"    counterexample [{shown.divergence}], 3 actions: {_items(problem)}")
        lines.append(f"      {_items(example)}")
    return "\n".join(lines)


def _items(values: dict[str, str] | None) -> str:
    return "; ".join(f"{k} = {v}" for k, v in (values or {}).items())


def report_text(results: list[ClaimResult]) -> str:
    """The central claim, then the paper's claims and the extended checks, each group headed by
    its counts: one row per claim (per divergence where it applies), with its scope, and the
    counterexample of every REFUTED row or the reason of every row not PROVEN."""
    lines = [central_text(results), ""] if any(r.claim in CENTRAL_CLAIMS for r in results) else []
    for group, members in by_group(results).items():
        if not members:
            continue
        lines.append(f"{CLAIM_GROUPS[group]}: {headline(members)}")
        for r in members:
            who = f" [{r.divergence}]" if r.divergence else ""
            lines.append(f"{r.status:14s} {r.claim}{who}  ({r.reference}; {r.scope})")
            if r.status == "REFUTED" and r.counterexample:
                lines.append(f"{'':14s}   counterexample: {_items(r.counterexample)}")
            elif r.status != "PROVEN":
                lines.append(f"{'':14s}   {r.detail}")
        lines.append("")
    lines.append("; ".join(f"{name}: {headline(members)}" for name, members in (
        ("the paper's claims", by_group(results)["paper"]),
        ("extended checks", by_group(results)["extended"]))))
    return "\n".join(lines)
