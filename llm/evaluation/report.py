"""The experiment's analysis: from its CSV files to the table, the paired differences, the figures.

:func:`write_report` (``python -m llm.results DIR``) (re)writes ``DIR/experiment.md``,
``DIR/curves.png`` and ``DIR/frontier.png`` from ``DIR/runs.csv`` (one row per preference run:
its final figures), ``DIR/curves.csv`` (every logged point), ``DIR/selection.csv`` (the
learning-rate grid) and ``DIR/setup.json`` (how the runs were made), all written by the
experiment (:mod:`llm.evaluation.sweep`). Nothing in the report is typed by hand, so the
committed results can be checked against their own data.

Statistics, over the seeds of a (method, β) — each seed its own SFT model, data order and
evaluation noise, so the spread over seeds holds all of them: the mean, the sample standard
deviation and the confidence interval of the mean, t-distributed with n − 1 degrees of freedom.
Methods are compared seed by seed against IPO (same seed: same SFT model, data order and
reference samples) with a paired t-test; a family of comparisons (one metric of one method over
the β compared, or over the divergences matched) is corrected for its size m: its verdicts by
Holm's step-down adjustment of the p-values, its intervals at the 1 − 0.05/m level (Bonferroni,
simultaneous, so each contains the difference with the family's confidence of 95 %).

Matched divergence (:func:`frontier`): the runs' truth evaluations over β and over training
(``--truth-every``; π_ref itself is the point at KL 0) are a method's points of (KL from π_ref,
true reward) on a seed. Their upper concave envelope R(k) is reachable: the mixture of two
policies has the mixture's reward and, KL being convex, at most the mixture's KL. R(k) is held
at its peak past it (a policy can always stop earlier), and compared between methods seed by
seed at divergences every seed of both methods reaches.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats

from upo_theory import UserError, parse_json

from .figures import plot_curves
from .figures import plot_frontier as draw_frontier

BASELINE = "IPO"
METRICS: tuple[tuple[str, str, int], ...] = (
    ("eval_accuracy", "eval accuracy", 3), ("eval_loss", "eval loss", 2),
    ("reward_policy", "true reward r*", 2), ("win_rate", "win rate vs π_ref", 3),
    ("correct_policy", "correct answers", 2), ("kl", "KL(π ‖ π_ref)", 2),
    ("f_divergence", "JS(π, π_ref)", 3),
)
"""(column of runs.csv, label, decimals) of what the table reports, where the runs have it."""
COMPARED = ("eval_accuracy", "reward_policy", "win_rate", "kl")
"""The figures compared seed by seed against the baseline."""


class ResultsError(UserError):
    """A results folder without the files the report is computed from."""


LEVEL = 0.05
"""The family-wise error rate of every family of comparisons (95 % confidence)."""
SETTLED = {"loss": 0.01, "rewards/accuracies": 0.01}
"""The settling criterion: over the last quarter of the steps the mean eval loss changed by less
than 1 % (relative) and the mean eval accuracy by less than 0.01 (absolute)."""


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its spread: sample s.d., the half-width of its confidence interval
    (t, n − 1; at level 1 − 0.05/``family`` for a family of that many comparisons) and the
    two-sided p-value of a zero mean (the paired t-test, for differences)."""

    mean: float
    sd: float
    n: int
    half_width: float
    p_value: float = math.nan
    family: int = 1

    @classmethod
    def of(cls, values: Sequence[float], family: int = 1) -> Estimate:
        x = np.asarray(values, dtype=float)
        if x.size < 2:
            return cls(float(x.mean()), math.nan, int(x.size), math.nan, math.nan, family)
        sd = float(x.std(ddof=1))
        scale = sd / math.sqrt(x.size)
        half = float(scipy.stats.t.ppf(1 - LEVEL / (2 * family), x.size - 1) * scale)
        if scale > 0:
            p = float(2 * scipy.stats.t.sf(abs(float(x.mean())) / scale, x.size - 1))
        else:
            p = 1.0 if x.mean() == 0 else 0.0
        return cls(float(x.mean()), sd, int(x.size), half, p, family)

    def text(self, decimals: int, signed: bool = False) -> str:
        sign = "+" if signed else ""
        if math.isnan(self.half_width):
            return f"{self.mean:{sign}.{decimals}f}"
        return (f"{self.mean:{sign}.{decimals}f} [{self.mean - self.half_width:{sign}.{decimals}f},"
                f" {self.mean + self.half_width:{sign}.{decimals}f}]")

    @property
    def excludes_zero(self) -> bool:
        return not math.isnan(self.half_width) and abs(self.mean) > self.half_width


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of a family (NaN stays NaN and is not counted).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    known = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (len(known) - rank) * p))
        adjusted[i] = round(running, 12)
    return adjusted


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV file, numbers as floats (empty cells dropped)."""
    if not path.is_file():
        raise ResultsError(f"{path} does not exist; run python -m llm.experiment first")
    with open(path, newline="") as handle:
        return [{k: _value(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def method_order(rows: Sequence[dict]) -> list[str]:
    """Methods in the order they first appear (the experiment's order), the baseline first."""
    names = list(dict.fromkeys(r["method"] for r in rows))
    return sorted(names, key=lambda name: (name != BASELINE, names.index(name)))


def summarise(rows: Sequence[dict]) -> list[dict]:
    """Per (β, method): the number of seeds and an :class:`Estimate` of every metric it has."""
    groups: dict[tuple[float, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["beta"], row["method"]].append(row)
    order = method_order(rows)
    out = []
    for beta, method in sorted(groups, key=lambda g: (g[0], order.index(g[1]))):
        members = groups[beta, method]
        entry: dict = {"beta": beta, "method": method, "seeds": len(members)}
        for name, _, _ in METRICS:
            if all(name in m for m in members):
                entry[name] = Estimate.of([m[name] for m in members])
        out.append(entry)
    return out


def paired_differences(rows: Sequence[dict]) -> list[dict]:
    """Per β and method other than the baseline: the per-seed difference to the baseline, each
    metric's family (one method, the β compared) corrected: intervals for its size, and the
    Holm-adjusted p-values in ``holm``."""
    by_key = {(r["beta"], r["method"], r["seed"]): r for r in rows}
    betas = sorted({r["beta"] for r in rows})
    out = []
    for method in method_order(rows)[1:]:
        mine = []
        for beta in betas:
            seeds = sorted(s for b, m, s in by_key if b == beta and m == method
                           and (beta, BASELINE, s) in by_key)
            if seeds:
                mine.append((beta, seeds))
        entries = []
        for beta, seeds in mine:
            entry: dict = {"beta": beta, "method": method, "seeds": len(seeds), "holm": {}}
            for name in COMPARED:
                pairs = [(by_key[beta, method, s], by_key[beta, BASELINE, s]) for s in seeds]
                if all(name in a and name in b for a, b in pairs):
                    entry[name] = Estimate.of([a[name] - b[name] for a, b in pairs], len(mine))
            entries.append(entry)
        for name in COMPARED:
            family = [e for e in entries if name in e]
            for e, p in zip(family, holm([e[name].p_value for e in family]), strict=True):
                e["holm"][name] = p
        out.extend(entries)
    return sorted(out, key=lambda e: (e["beta"], method_order(rows).index(e["method"])))


def chosen_rates(selection: Sequence[dict]) -> dict[str, float]:
    """The learning rate each method is run at, from its validation runs (averaged over the
    selection seeds): the rates whose accuracy is within one binomial standard error
    √(a(1 − a)/n) of the best accuracy a (n validation pairs in all) tie, and of those the
    lowest validation loss wins (the experiment's choice and the report's column both come from
    here).

    Examples
    --------
    >>> rows = [dict(method="m", lr=lr, eval_accuracy=a, eval_loss=l, eval_pairs=1000)
    ...         for lr, a, l in ((1e-4, 0.73, 4.9), (3e-4, 0.72, 4.7), (1e-3, 0.60, 6.0))]
    >>> chosen_rates(rows)
    {'m': 0.0003}
    """
    return {method: min(tied, key=lambda g: (g["loss"], g["lr"]))["lr"]
            for method, tied in _tied_rates(selection).items()}


def rate_means(selection: Sequence[dict]) -> list[dict]:
    """Per (method, rate): the validation accuracy and loss averaged over the selection seeds,
    and the validation pairs of all of them."""
    grouped: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for row in selection:
        grouped[row["method"], row["lr"]].append(row)
    return [{"method": m, "lr": lr, "accuracy": float(np.mean([r["eval_accuracy"] for r in g])),
             "loss": float(np.mean([r["eval_loss"] for r in g])),
             "pairs": int(sum(r["eval_pairs"] for r in g))} for (m, lr), g in grouped.items()]


def _tied_rates(selection: Sequence[dict]) -> dict[str, list[dict]]:
    """Per method, the rates tied with its best validation accuracy (see :func:`chosen_rates`)."""
    rates = rate_means(selection)
    out = {}
    for method in dict.fromkeys(r["method"] for r in rates):
        mine = [r for r in rates if r["method"] == method]
        best = max(mine, key=lambda r: r["accuracy"])
        se = math.sqrt(best["accuracy"] * (1 - best["accuracy"]) / best["pairs"])
        out[method] = [r for r in mine if best["accuracy"] - r["accuracy"] <= se]
    return out


def curves_of(curves: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """The points of ``curves`` that belong to the runs in ``rows`` (a run: method, β, seed and
    learning rate)."""
    def run(r: dict) -> tuple:
        return r["method"], r["beta"], r["seed"], r["lr"]

    runs = {run(r) for r in rows}
    return [c for c in curves if run(c) in runs]


def rate_rows(rows: Sequence[dict], selection: Sequence[dict], equal: bool) -> list[dict]:
    """The runs at each method's chosen rate, or (``equal``) at the baseline's chosen rate."""
    rates = chosen_rates(selection)
    return [r for r in rows
            if math.isclose(r["lr"], rates[BASELINE] if equal else rates[r["method"]])]


def markdown(rows: Sequence[dict], selection: Sequence[dict], setup: dict,
             curves: Sequence[dict]) -> str:
    """``experiment.md``: setup, learning rates, the table at each method's rate, the paired
    differences (at each method's rate and at an equal rate), the comparison at matched
    divergence, what it says, and how settled the curves are."""
    best = rate_rows(rows, selection, equal=False)
    equal = rate_rows(rows, selection, equal=True)
    rates = chosen_rates(selection)
    at_best = f"each method at its own rate ({_rates_text(rates)})"
    if len(set(rates.values())) == 1:
        at_best = f"every method at the same rate, {rates[BASELINE]:g} (each one's own choice)"
    at_equal = f"every method at {BASELINE}'s rate, {rates[BASELINE]:g}"
    parts = [_setup_text(best, setup), _selection_table(selection), _summary_table(best),
             _figures(best), _differences_table(best, at_best)]
    compare_equal = any(r["method"] != BASELINE for r in equal) and equal != best
    if compare_equal:
        parts.append(_differences_table(equal, at_equal))
    matched = [(at_best, frontier(curves, best))]
    if compare_equal:
        matched.append((at_equal, frontier(curves, equal)))
    parts += [_matched_text(matched), _findings(best, equal if compare_equal else None, matched),
              _settling(curves, best)]
    return "\n".join(parts)


def _rates_text(rates: dict[str, float]) -> str:
    return ", ".join(f"{method} {lr:g}" for method, lr in rates.items())


def _figures(rows: Sequence[dict]) -> str:
    text = ("![The four curves per β: train loss, eval loss, eval accuracy and eval margin, one "
            "line per method, the mean over seeds with a band of ± one s.d.](curves.png)\n\n"
            "The paper's four curves (its Figure 1), drawn from `curves.csv`, each method at its "
            "own rate: the mean over seeds with a band of ± one standard deviation. Accuracy is "
            "drawn from the first evaluation after step 0, where every pair ties.\n")
    if not any("reward_policy" in r for r in rows):
        text += ("\nThese data have no true reward (only the offline task's r* is known), so the "
                 "table holds the held-out preference metrics only and there is no "
                 "reward-against-divergence frontier.\n")
    else:
        text += ("\n![Mean true reward against KL and JS from π_ref, per method and β, with "
                 "95 % intervals over seeds, and each method's mean frontier R(k)](frontier.png)"
                 "\n\nReward against divergence: the final policies' mean true reward against "
                 "their Monte-Carlo KL and JS from π_ref (up and to the left is better), and the "
                 "lines: each method's frontier R(k) over β and training, the mean over seeds "
                 "(see *At matched divergence*).\n")
    return text


def _setup_text(rows: Sequence[dict], setup: dict) -> str:
    sft = "one SFT model per seed" if setup["sft_per_seed"] else "one SFT model for every seed"
    truth = (f", and every {setup['truth_every']} steps of training"
             if setup.get("truth_every") else "")
    return (
        f"# IPO against JS-IUPO ({setup['data']} data, {setup['model']})\n\n"
        f"{len(rows)} preference runs at each method's own rate: {len(method_order(rows))} "
        f"methods × β ∈ {{{', '.join(f'{b:g}' for b in setup['betas'])}}} × "
        f"{len(setup['seeds'])} seeds; {sft} ({setup['sft_steps']} steps), then "
        f"{setup['pref_steps']} preference steps of {setup['batch_size']} pairs; "
        f"{setup['eval_pairs']} held-out evaluation pairs; the true-reward evaluation samples "
        f"{setup['truth_prompts']} held-out prompts per run at its end{truth}. Made by "
        f"`python -m llm.experiment` with {setup['jobs']} job(s) at a time: its {setup['runs']} "
        f"runs (SFT, learning-rate selection and sweep) took {setup['run_minutes']} minutes of "
        "run time in all; every figure below is computed from the CSV files beside this report "
        "by `python -m llm.results`.\n\n"
        "Intervals are confidence intervals of the mean over seeds (t, n − 1 degrees of "
        "freedom), 95 % for one estimate; a family of m comparisons has intervals at "
        "1 − 0.05/m (Bonferroni) and Holm-adjusted p-values, and its verdicts (higher, lower, "
        "not distinguishable) follow the Holm p-values, which are less conservative: an "
        "interval may touch 0 where Holm still decides. Each seed has its own SFT model, data "
        "order and evaluation samples, so the spread between seeds holds all of these.\n")


def _selection_table(selection: Sequence[dict]) -> str:
    rates = sorted({r["lr"] for r in selection})
    chosen, tied = chosen_rates(selection), _tied_rates(selection)
    seeds = sorted({int(r["seed"]) for r in selection})
    pairs = sorted({int(r["eval_pairs"]) for r in selection})
    beta = selection[0]["beta"] if selection else float("nan")
    lines = [f"## Learning rates\n\nFinal accuracy (and loss), the mean over the selection "
             "seeds, on validation pairs: "
             f"{'/'.join(map(str, pairs))} pairs from held-out training prompts of selection "
             f"seed(s) {', '.join(map(str, seeds))}, which no evaluated run uses (each its own SFT "
             f"model and data), β = {beta:g}. Rates within one binomial standard error of a "
             "method's best accuracy tie (marked *), and of those the lowest validation loss is "
             "chosen; a choice on the edge of the rates tried extends them.\n",
             "| method | " + " | ".join(f"lr {r:g}" for r in rates) + " | chosen |",
             "|---|" + "---|" * (len(rates) + 1)]
    means = rate_means(selection)
    for method in method_order(selection):
        mine = {r["lr"]: r for r in means if r["method"] == method}
        ties = {t["lr"] for t in tied[method]}
        cells = [f"{mine[r]['accuracy']:.3f}{'*' if r in ties else ''} "
                 f"({mine[r]['loss']:.3g})" if r in mine else "—" for r in rates]
        edge = " (edge)" if chosen[method] in (min(mine), max(mine)) else ""
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {chosen[method]:g}{edge} |")
    if any(chosen[m] in (min(r["lr"] for r in selection if r["method"] == m),
                         max(r["lr"] for r in selection if r["method"] == m)) for m in chosen):
        lines.append("\n(edge): the choice sits on the edge of the rates tried after the "
                     "grid's extensions; a rate past it is untested.")
    return "\n".join(lines) + "\n"


def _summary_table(rows: Sequence[dict]) -> str:
    summary = summarise(rows)
    shown = [(n, label, d) for n, label, d in METRICS if any(n in s for s in summary)]
    lines = ["## Results\n\nEach method at its own rate. Mean over seeds [95 % CI].\n",
             "| β | method | seeds | " + " | ".join(label for _, label, _ in shown) + " |",
             "|---|---|---|" + "---|" * len(shown)]
    for s in summary:
        cells = [s[n].text(d) if n in s else "—" for n, _, d in shown]
        lines.append(f"| {s['beta']:g} | {s['method']} | {s['seeds']} | " + " | ".join(cells)
                     + " |")
    best = [r["best_accuracy"] for r in rows if "best_accuracy" in r]
    note = (f"\nThe best achievable eval accuracy (Bayes: the true reward itself, under the "
            f"labels' Bradley–Terry noise) is {np.mean(best):.3f}.\n" if best else "\n")
    return "\n".join(lines) + "\n" + note


def _differences_table(rows: Sequence[dict], where: str) -> str:
    differences = paired_differences(rows)
    shown = [n for n in COMPARED if any(n in d for d in differences)]
    labels = {n: label for n, label, _ in METRICS}
    family = max((d[n].family for d in differences for n in shown if n in d), default=1)
    lines = [f"## Against {BASELINE}, seed by seed: {where}\n\nMethod − {BASELINE} on the "
             "same seed (same SFT model, data order and samples): mean [interval at "
             f"1 − 0.05/m, simultaneous over the m = {family} β each method is compared at] "
             "(Holm-adjusted p).\n",
             "| β | method | seeds | " + " | ".join(f"Δ {labels[n]}" for n in shown) + " |",
             "|---|---|---|" + "---|" * len(shown)]
    for d in differences:
        cells = [f"{d[n].text(3, signed=True)} ({_p_text(d['holm'][n])})" if n in d else "—"
                 for n in shown]
        lines.append(f"| {d['beta']:g} | {d['method']} | {d['seeds']} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines) + "\n"


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "p —"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _verdict(e: Estimate, p: float) -> str:
    if math.isnan(e.half_width):
        return f"one seed, no interval ({e.text(3, signed=True)})"
    if p < LEVEL:
        return (("higher than" if e.mean > 0 else "lower than")
                + f" {BASELINE}'s ({e.text(3, signed=True)}, {_p_text(p)})")
    return (f"not distinguishable from {BASELINE}'s ({e.text(3, signed=True)}, "
            f"{_p_text(p)})")


def _findings(best: Sequence[dict], equal: Sequence[dict] | None,
              matched: Sequence[tuple[str, list[dict]]]) -> str:
    lines = ["## What this says\n",
             "Within this scope only: the offline task (a synthetic task whose true reward is "
             "known), this model, these steps; Holm-corrected over the β (or the divergences) "
             "compared.\n"]
    for rows, where in ((best, "each at its own rate"), (equal or [], "at an equal rate")):
        for d in paired_differences(rows):
            if "eval_accuracy" not in d:
                continue
            line = (f"- {where}, β = {d['beta']:g}, {d['method']}: eval accuracy "
                    f"{_verdict(d['eval_accuracy'], d['holm']['eval_accuracy'])}")
            if "reward_policy" in d and "kl" in d:
                line += (f"; true reward {_verdict(d['reward_policy'], d['holm']['reward_policy'])}"
                         f", at a KL from π_ref {_verdict(d['kl'], d['holm']['kl'])}")
            lines.append(line + ".")
    for where, comparisons in matched:
        for method in dict.fromkeys(c["method"] for c in comparisons):
            verdicts = "; ".join(f"at KL {c['kl']:.3g} {_verdict(c['difference'], c['holm'])}"
                                 for c in comparisons if c["method"] == method)
            lines.append(f"- at matched KL, {where}, {method}: true reward {verdicts}.")
    lines.append("\nAt the same β a method that moves further from π_ref is regularised less, "
                 "not necessarily better; the comparison at matched divergence is the one that "
                 "separates the form of the loss from how far it lets the policy move.")
    return "\n".join(lines) + "\n"


def _settling(curves: Sequence[dict], rows: Sequence[dict]) -> str:
    """How much each (method, β)'s mean eval curves still move over the last quarter, against
    the criterion :data:`SETTLED`."""
    evals = [c for c in curves_of(curves, rows) if c["split"] == "eval"]
    if not evals:
        return ""
    last = max(c["step"] for c in evals)
    then = min({c["step"] for c in evals}, key=lambda step: abs(step - 0.75 * last))
    lines = [f"## Have the curves settled?\n\nCriterion: from step {then:g} to {last:g}, the "
             f"last quarter, the mean eval loss changes by less than "
             f"{100 * SETTLED['loss']:g} % and the mean eval accuracy by less than "
             f"{SETTLED['rewards/accuracies']:g}. Each method at its own rate.\n",
             "| β | method | Δ eval accuracy | Δ eval loss | settled |", "|---|---|---|---|---|"]
    order = method_order(evals)
    for method, beta in sorted({(c["method"], c["beta"]) for c in evals},
                               key=lambda k: (k[1], order.index(k[0]))):
        mine = [c for c in evals if (c["method"], c["beta"]) == (method, beta)]
        at = {(name, step): float(np.mean([c[name] for c in mine if c["step"] == step]))
              for name in SETTLED for step in (then, last)}
        accuracy = at["rewards/accuracies", last] - at["rewards/accuracies", then]
        loss = (at["loss", last] - at["loss", then]) / abs(at["loss", then])
        settled = abs(accuracy) < SETTLED["rewards/accuracies"] and abs(loss) < SETTLED["loss"]
        lines.append(f"| {beta:g} | {method} | {accuracy:+.3f} | {100 * loss:+.1f} % | "
                     f"{'yes' if settled else 'no'} |")
    return "\n".join(lines) + "\n"


def frontier_points(curves: Sequence[dict], rows: Sequence[dict]
                    ) -> dict[tuple[str, int], np.ndarray]:
    """Per (method, seed): its points (KL, true reward) over β and training, π_ref's at KL 0,
    from the truth rows of ``curves`` of the runs in ``rows`` (a negative Monte-Carlo KL, a
    policy that has hardly moved, counts as 0)."""
    points: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for c in curves_of(curves, rows):
        if c["split"] == "truth":
            key = (c["method"], int(c["seed"]))  # a Monte-Carlo KL can fall below 0: it is 0
            points[key] += [(max(c["kl"], 0.0), c["reward_policy"]), (0.0, c["reward_reference"])]
    return {key: np.unique(np.array(p, dtype=float), axis=0) for key, p in points.items()}


def envelope(points: np.ndarray, k: np.ndarray | float) -> np.ndarray:
    """R(k): the upper concave envelope of the (KL, reward) ``points`` at divergence ``k``, held
    at its peak past it (k between 0 and the largest KL of the points).

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0], [1.0, 0.2], [2.0, 1.0], [3.0, 0.5]])
    >>> envelope(pts, np.array([1.0, 2.0, 3.0])).round(3).tolist()
    [0.5, 1.0, 1.0]
    """
    order = np.lexsort((points[:, 1], points[:, 0]))
    hull: list[np.ndarray] = []
    for p in points[order]:  # the upper hull, left to right (Andrew's monotone chain)
        while len(hull) >= 2 and _turn(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    vertices = np.array(hull)
    peak = vertices[np.argmax(vertices[:, 1]), 0]
    return np.interp(np.minimum(k, peak), vertices[:, 0], vertices[:, 1])


def _turn(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """The z of (b − a) × (c − a): ≥ 0 where a, b, c do not turn clockwise (b is not above)."""
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


MATCHED_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
"""Where the methods are compared: these fractions of the largest KL every seed of both reaches."""


def frontier(curves: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """Each method against the baseline at matched KL from π_ref: the per-seed difference of
    their frontiers R(k) (:func:`envelope`) at :data:`MATCHED_FRACTIONS` of the largest KL both
    reach on every seed, the family of those divergences Holm-corrected."""
    points = frontier_points(curves, rows)
    methods = list(dict.fromkeys(m for m, _ in points))
    out = []
    for method in [m for m in methods if m != BASELINE and BASELINE in methods]:
        seeds = sorted(s for m, s in points if m == method and (BASELINE, s) in points)
        if not seeds:
            continue
        reach = min(min(points[method, s][:, 0].max(), points[BASELINE, s][:, 0].max())
                    for s in seeds)
        if not reach > 0:  # some seed of one of them never moved from π_ref
            continue
        targets = [f * reach for f in MATCHED_FRACTIONS]
        entries = []
        for k in targets:
            mine = [float(envelope(points[method, s], k)) for s in seeds]
            base = [float(envelope(points[BASELINE, s], k)) for s in seeds]
            entries.append({"method": method, "kl": k, "seeds": len(seeds),
                            "reward": Estimate.of(mine, len(targets)),
                            "baseline": Estimate.of(base, len(targets)),
                            "difference": Estimate.of(np.subtract(mine, base), len(targets))})
        for e, p in zip(entries, holm([e["difference"].p_value for e in entries]), strict=True):
            e["holm"] = p
        out += entries
    return out


def _matched_text(matched: Sequence[tuple[str, list[dict]]]) -> str:
    if not any(comparisons for _, comparisons in matched):
        return ""
    lines = [f"## At matched divergence\n\nEach method's frontier R(k) on a seed: the upper "
             "concave envelope of its (KL from π_ref, true reward) points over β and over "
             "training, π_ref at KL 0, held at its peak past it; compared seed by seed at "
             "fractions of the largest KL both methods reach on every seed. Mean [interval at "
             f"1 − 0.05/{len(MATCHED_FRACTIONS)}, simultaneous over the divergences] "
             "(Holm-adjusted p). The points are Monte-Carlo estimates, so an envelope of them "
             "leans upward (it takes the luckiest point near each divergence); both methods have "
             "as many points, at the same β and steps, so the lean is alike, but R(k) is an "
             "estimate of the reachable reward, not a bound.\n"]
    for where, comparisons in matched:
        if not comparisons:
            continue
        lines += [f"\n{where[0].upper() + where[1:]}:\n",
                  f"| KL(π ‖ π_ref) | method | seeds | R(k) | {BASELINE}'s R(k) | "
                  f"Δ R(k) |", "|---|---|---|---|---|---|"]
        for c in comparisons:
            lines.append(f"| {c['kl']:.3g} | {c['method']} | {c['seeds']} | "
                         f"{c['reward'].text(3)} | {c['baseline'].text(3)} | "
                         f"{c['difference'].text(3, signed=True)} ({_p_text(c['holm'])}) |")
    return "\n".join(lines) + "\n"


def plot_frontier(rows: Sequence[dict], path: Path, curves: Sequence[dict] = ()
                  ) -> Path | None:
    """Mean true reward against KL and JS per (method, β), with 95 % CIs over seeds, and each
    method's mean frontier R(k) over its seeds (from the truth rows of ``curves``)."""
    points = []
    for s in summarise(rows):
        if not all(n in s for n in ("reward_policy", "kl", "f_divergence")):
            return None
        truth = {n: s[n].mean for n in ("reward_policy", "kl", "f_divergence")}
        truth.update({f"{n}_se": s[n].half_width for n in ("reward_policy", "kl",
                                                           "f_divergence")})
        truth["reward_reference"] = float(np.mean([r["reward_reference"] for r in rows]))
        points.append((s["method"], s["beta"], truth))
    lines = {}
    by_seed = frontier_points(curves, rows)
    for method in dict.fromkeys(m for m, _ in by_seed):
        mine = [p for (m, _), p in by_seed.items() if m == method]
        k = np.linspace(0.0, min(p[:, 0].max() for p in mine), 50)
        lines[method] = (k, np.mean([envelope(p, k) for p in mine], axis=0))
    return draw_frontier(points, path, divergence="JS(π, π_ref)", lines=lines)


def write_report(folder: Path, setup: dict | None = None) -> Path:
    """``experiment.md`` and the figures from the CSV files of ``folder`` (``setup`` is saved
    as ``setup.json``, or read from it)."""
    folder = Path(folder)
    if setup is not None:
        (folder / "setup.json").write_text(json.dumps(setup, indent=2) + "\n")
    elif not (folder / "setup.json").is_file():
        raise ResultsError(f"{folder} has no setup.json; run python -m llm.experiment first")
    try:
        setup = parse_json((folder / "setup.json").read_text())
        rows, selection = read_csv(folder / "runs.csv"), read_csv(folder / "selection.csv")
        curves = read_csv(folder / "curves.csv")
        if not rows or not curves:
            raise ValueError("runs.csv or curves.csv holds no rows")
        report = markdown(rows, selection, setup, curves)
    except ResultsError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, csv.Error) as error:
        raise ResultsError(f"{folder}: the experiment's files do not hold its results "
                           f"({type(error).__name__}: {str(error)[:120]}); finish or rerun "
                           "python -m llm.experiment there") from None
    (folder / "experiment.md").write_text(report)
    plot_curves(curves_of(curves, rate_rows(rows, selection, equal=False)),
                folder / "curves.png")  # mean with a band
    plot_frontier(rate_rows(rows, selection, equal=False), folder / "frontier.png", curves)
    return folder / "experiment.md"
