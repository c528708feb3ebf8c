"""The verification report of the claims, as text and as JSON-ready dicts.

(A derivation is rendered by :mod:`upo_theory.derivation_report`, a layer below the claims.)
"""

from __future__ import annotations

from .claim_terms import CENTRAL_CLAIMS, CENTRAL_PAPER, CENTRAL_PER_RESPONSE
from .verdicts import CLAIM_GROUPS, CLAIM_STATUSES, ClaimResult


def claim_dict(r: ClaimResult) -> dict[str, object]:
    return dict(r.__dict__)


def counts(results: list[ClaimResult]) -> dict[str, int]:
    """How many results have each status, in the order PROVEN, REFUTED, NOT APPLICABLE,
    UNDECIDED."""
    return {status: sum(r.status == status for r in results) for status in CLAIM_STATUSES}


def statements(results: list[ClaimResult]) -> int:
    """How many distinct statements ``results`` hold (a statement checked for several f is one
    statement with several instances)."""
    return len({r.claim for r in results})


def headline(results: list[ClaimResult]) -> str:
    """"S statements (N instances: a PROVEN, b REFUTED, c NOT APPLICABLE, d UNDECIDED)": the
    distinct statements, and beside them their instances (one per f where a statement is
    checked per f) with the verdicts of the instances."""
    tally = ", ".join(f"{n} {status}" for status, n in counts(results).items())
    return f"{statements(results)} statements ({len(results)} instances: {tally})"


def by_group(results: list[ClaimResult]) -> dict[str, list[ClaimResult]]:
    """The results of each group (:data:`~upo_theory.verdicts.CLAIM_GROUPS`), the paper's first."""
    return {group: [r for r in results if r.group == group] for group in CLAIM_GROUPS}


def central_text(results: list[ClaimResult]) -> str:
    """The central claim's verdicts per form (which f it is PROVEN / REFUTED / ... for): the
    paper's statistic with its worked counterexample (JS's if listed), then the project's repair
    with its proof for every admissible f."""
    lines = ["The central claim: minimising the IUPO loss (eq. 24, Algorithm 1) gives the IUPO "
             "optimum (eq. 22)"]
    forms = {CENTRAL_PAPER: "as the paper states it, paper statistic (eq. 23)",
             CENTRAL_PER_RESPONSE: "the project's repair, per-response statistic (eq. 17)"}
    for name, form in forms.items():
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
        refuted = [r for r in rows if name == CENTRAL_PAPER and r.status == "REFUTED"]
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
    """The central claim, then the three groups (:data:`~upo_theory.verdicts.CLAIM_GROUPS`: the
    paper's claims, the project's repair, the extended checks), each headed by its counts
    (:func:`headline`): one row per instance (per divergence where it applies), with its scope,
    and the counterexample of every REFUTED row or the reason of every row not PROVEN."""
    lines = [central_text(results), ""] if any(r.claim in CENTRAL_CLAIMS for r in results) else []
    if any(r.divergence == HALF_ALPHA for r in results):
        lines += [f"(Instances repeat one statement per f; {HALF_ALPHA} is twice Hellinger's f, "
                  "i.e. Hellinger at 2 beta, so its instances are Hellinger's.)", ""]
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
            elif r.divergence is None and r.claim not in CENTRAL_CLAIMS:
                lines.append(f"{'':14s}   how: {r.detail}")
                if r.witness:
                    lines.append(f"{'':14s}   numbers: {_items(r.witness)}")
        lines.append("")
    lines.append("; ".join(f"{SHORT_NAMES[group]}: {headline(members)}"
                           for group, members in by_group(results).items() if members))
    return "\n".join(lines)


HALF_ALPHA = "alpha(alpha=1/2)"
"""The α-divergence's label at α = ½: f = 2u − 4√u + 2, twice Hellinger's (√u − 1)²."""
SHORT_NAMES: dict[str, str] = {"paper": "the paper's claims", "repair": "the project's repair",
                               "extended": "extended checks"}
"""How the report's last line names each group of :data:`~upo_theory.verdicts.CLAIM_GROUPS`."""
