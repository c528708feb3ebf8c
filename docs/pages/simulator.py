"""The simulator's measured tables, through ``sim``'s own solvers and trainers.

Nothing is solved or trained here: ``sim.compare.compare`` trains every loss and measures the
distances, ``upo_theory.upo_optimum`` solves the KKT conditions. This module picks the problems
(the CLI's default one, Azar et al.'s scenario) and writes the results as MyST tables; the
simulator's figures are drawn by the gallery scripts.
"""

from __future__ import annotations

import numpy as np

from ..myst import badge, code, note, table
from ..project import derive, get_divergence, module, registered
from .theory import link

PEARSON_BETAS: tuple[float, ...] = (0.2, 0.1, 0.05, 0.02)
COLUMNS: tuple[str, ...] = ("DPO", "f-DPO", "IPO", "IUPO paper", "IUPO per-response")


def number(value: float, digits: int = 2) -> str:
    """A number: plain between 10⁻³ and 10⁴, otherwise LaTeX scientific notation."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits + 1}g}".replace("-", "−")
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def measure() -> dict[str, str]:
    """The simulator's tables as MyST, by topic: ``table`` (which losses reach π*), ``forms``
    (the two IUPO forms), ``pearson``, ``azar``."""
    compare, config = module("compare"), module("config")
    problem, _ = config.load_problem(config.BanditConfig())
    comparisons = {d.label: compare.compare(problem, d, "identity")
                   for d in registered() if derive(d).admissible}
    reached = compare.REACHED_TV
    return {"table": _reach_table(comparisons, problem, reached),
            "forms": _forms(comparisons, problem.beta, reached),
            "pearson": _pearson(problem), "azar": _azar()}


def _column(name: str) -> str:
    if name in ("DPO", "IPO"):
        return name
    if name.startswith("f-DPO"):
        return "f-DPO"
    return "IUPO paper" if name.endswith("paper]") else "IUPO per-response"


def _vec(policy: np.ndarray) -> str:
    return "(" + ", ".join("0" if v == 0 else f"{v:.4g}" for v in policy) + ")"


def _cell(tv: float, reached: float) -> str:
    if np.isnan(tv):
        return "—"
    return f"{badge('reached' if tv < reached else 'missed')} {number(tv)}"


def _reach_table(comparisons: dict, problem, reached: float) -> str:
    rows = []
    for label, c in comparisons.items():
        cells = dict.fromkeys(COLUMNS, "same as IPO" if label == "rkl" else "—")
        for o in c.outcomes:
            cells[_column(o.name)] = _cell(o.tv_own, reached)
        if label == "rkl":
            cells["f-DPO"] = "same as DPO"
        rows.append([link(c.divergence, label), *cells.values()])
    return (
        "The default problem of `python -m sim.bandit` (Bradley–Terry preferences, "
        f"{problem.actions} actions, $\\beta = {problem.beta:g}$, population loss). Each cell "
        "is the total-variation distance between the policy that minimises the loss and the UPO "
        "optimum *of that loss's own* $(f, \\Psi)$: DPO and f-DPO pair with $\\Psi$ = logit, IPO "
        "and IUPO with $\\Psi$ = identity; DPO and IPO use reverse KL whatever the row. "
        f"{badge('reached')} means the distance is below {number(reached)}: the loss's "
        "minimiser is the optimum.\n\n"
        + table(["$f$", *COLUMNS], rows))


def _forms(comparisons: dict, beta: float, reached: float) -> str:
    rows, missed = [], []
    verdict = True
    for label, c in comparisons.items():
        by_column = {_column(o.name): o for o in c.outcomes}
        paper = by_column.get("IUPO paper")
        per = by_column.get("IUPO per-response", by_column.get("IPO"))
        verdict = verdict and per.tv_own < reached
        if paper is not None and not paper.tv_own < reached:
            missed.append((label, c.j_star - paper.objective))
        rows.append([code(label), _cell(per.tv_own, reached),
                     _cell(paper.tv_own, reached) if paper else "—",
                     number(c.j_star - paper.objective, 3) if paper else "—"])
    misses = ", ".join(code(label) for label, _ in missed)
    lower = "its objective $J$ is lower, and " if all(gap > 0 for _, gap in missed) else ""
    summary = (("The per-response form reached $\\pi^*$ for every admissible $f$. " if verdict
                else "The per-response form did not reach $\\pi^*$ for every $f$. ")
               + (f"The paper form lands away from $\\pi^*$ for {misses}: on this problem its "
                  f"minimiser is not the UPO optimum, {lower}so eq. 24 as written does not "
                  "solve eq. 22 for those $f$." if missed else "The paper form reached it too."))
    return (
        f"On the simulator's default bandit ($\\beta = {beta:g}$, population loss), each IUPO "
        "form was minimised exactly (L-BFGS) and compared with the UPO optimum $\\pi^*$ of the "
        "same $f$ and $\\Psi$ = identity:\n\n"
        + table(["$f$", "per-response form: TV to $\\pi^*$", "paper form: TV to $\\pi^*$",
                 "$J(\\pi^*) - J(\\text{paper form's minimiser})$"], rows)
        + note(summary, "tip" if verdict else "warning"))


def _pearson(problem) -> str:
    optimum = module("optimum")
    pearson, js = get_divergence("pearson"), get_divergence("js")
    rows = []
    for beta in PEARSON_BETAS:
        scaled = problem.with_beta(beta)
        p = optimum.upo_optimum(scaled, pearson, "identity")
        q = optimum.upo_optimum(scaled, js, "identity")
        rows.append([f"{beta:g}", _vec(p.policy[0]), str(int(p.zero_mass.sum())),
                     _vec(q.policy[0]), number(q.policy.min())])
    return (
        "Pearson $\\chi^2$ has $f'(0) = -2$: 0 is in the domain of $f'$, so Theorem 3.1's "
        "assumption fails and the multipliers $\\eta$ of eq. 15 can be active. The KKT solve "
        "of {py:mod}`upo_theory.optimum` handles them, and as $\\beta$ shrinks the Pearson "
        "optimum puts "
        "exactly zero mass on actions, while JS (admissible) keeps every action positive:\n\n"
        + table(["$\\beta$", "$\\pi^*$ (Pearson $\\chi^2$)", "actions with zero mass",
                 "$\\pi^*$ (JS)", "smallest JS mass"], rows))


def _azar() -> str:
    compare, problems = module("compare"), module("problems")
    rows = []
    for beta in (0.1, 0.5, 1.0):
        scenario = problems.azar(beta)
        c = compare.compare(scenario.problem, "rkl", "identity", pairs=scenario.pairs)
        by_name = {o.name: o.trained.policy[0] for o in c.outcomes}
        closed = np.asarray(problems.azar_ipo_policy(beta)).ravel()
        rows.append([f"{beta:g}", _vec(by_name["DPO"]), _vec(by_name["IPO"]), _vec(closed),
                     number(np.abs(by_name["IPO"] - closed).max())])
    return (
        "Three actions $a, b, c$, uniform $\\pi_{\\mathrm{ref}}$, the dataset "
        "$\\{(a \\succ b), (b \\succ c), (a \\succ c)\\}$, each pair once (the finite-dataset "
        "regime). DPO drives $\\pi(a)$ to 1 for every $\\beta$; IPO converges to "
        "$\\theta_a - \\theta_b = \\theta_b - \\theta_c = 1/(3\\beta)$, the closed form:\n\n"
        + table(["$\\beta$", "DPO's policy", "IPO's policy", "closed form (Azar et al.)",
                 "max \\|IPO − closed form\\|"], rows))
