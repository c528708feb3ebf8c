"""Rendering of derivations and of the verification report, as text and as JSON-ready dicts."""

from __future__ import annotations

import sympy as sp

from .claims import CENTRAL_CLAIMS, CENTRAL_PAPER, CLAIM_GROUPS, CLAIM_STATUSES, ClaimResult
from .derivation import Derivation
from .stable import stabilise


def _latex(expr: sp.Expr | None) -> str | None:
    return None if expr is None else sp.latex(expr)


def _text(expr: sp.Expr | None) -> str | None:
    return None if expr is None else sp.sstr(expr)


def derivation_dict(d: Derivation) -> dict[str, object]:
    """One divergence's derived objects and checks, as SymPy strings and LaTeX."""
    objects: dict[str, sp.Expr | None] = {
        "f": d.f,
        "f_prime": d.f1,
        "f_second": d.f2,
        "f_prime_inverse": d.inverse,
        "sup_f_prime": d.sup_f1,
        "inf_f_prime": d.inf_f1,
        "f_prime_of_exp_t": stabilise(d.log_ratio_derivative) if d.differentiable else None,
        "log_f_prime_inverse": stabilise(d.log_inverse) if d.log_inverse is not None else None,
    }
    return {
        "name": d.divergence.name,
        "label": d.divergence.label,
        "title": d.divergence.title,
        "params": {k: str(v) for k, v in d.divergence.params.items()},
        "objects": {k: {"sympy": _text(v), "latex": _latex(v)} for k, v in objects.items()},
        "checks": [
            {"name": c.name, "holds": c.holds, "detail": c.detail, "method": c.method}
            for c in d.checks
        ],
        "admissible": d.admissible,
        "verdict": d.reason,
    }


def claim_dict(r: ClaimResult) -> dict[str, object]:
    return dict(r.__dict__)


def derivation_text(d: Derivation) -> str:
    """A readable summary of one divergence: its derived objects, checks and verdict."""
    info = derivation_dict(d)
    lines = [f"{d.divergence.title} [{d.divergence.label}]"]
    for key, value in info["objects"].items():  # type: ignore[union-attr]
        lines.append(f"  {key:20s} {value['sympy'] if value['sympy'] is not None else '-'}")
    lines.append("  checks:")
    for c in d.checks:
        mark = {True: "yes", False: "NO", None: "n/a"}[c.holds]
        lines.append(f"    {mark:4s} {c.name}: {c.detail} ({c.method})")
    lines.append(f"  verdict: {d.reason}")
    return "\n".join(lines)


def table_text(derivations: list[Derivation]) -> str:
    """The docs' table of divergences, every column derived: f', f'(e^t), sup f', 0 ∉ dom f'."""
    header = f"{'name':18s} {'f_prime':26s} {'f_prime(e^t)':30s} {'sup f_prime':12s} 0 notin dom"
    rows = [header, "-" * len(header)]
    for d in derivations:
        if not d.differentiable:
            rows.append(f"{d.divergence.label:18s} {'not differentiable':26s}")
            continue
        k = sp.sstr(stabilise(d.log_ratio_derivative))
        rows.append(
            f"{d.divergence.label:18s} {sp.sstr(d.f1):26s} {k:30s} {sp.sstr(d.sup_f1):12s} "
            f"{'yes' if d.inf_f1 == -sp.oo else 'NO (f_prime(0+) = ' + sp.sstr(d.inf_f1) + ')'}"
        )
    return "\n".join(rows)


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
