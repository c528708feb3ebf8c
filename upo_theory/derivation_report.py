"""A divergence's derivation rendered as text and as a JSON-ready dict (SymPy strings and LaTeX).

Below the claims and above :mod:`~upo_theory.derivation`: admitting a user's f
(:mod:`upo_theory.admission`) prints every derived object once, in its budgeted child process.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation
from .stable_lambdify import stabilise


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
        "sup_f_prime": d.bounds[1],
        "inf_f_prime": d.bounds[0],
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
            {"name": c.name, "name_latex": c.latex, "holds": c.holds, "detail": c.detail,
             "detail_latex": c.detail_latex, "method": c.method}
            for c in d.checks
        ],
        "admissible": d.admissible,
        "verdict": d.reason,
        "verdict_latex": d.reason_latex,
    }


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
