"""The experiment's analysis: from its CSV files to the table, the paired differences, the figures.

:func:`write_report` (``python -m llm.results DIR``) (re)writes ``DIR/experiment.md``,
``DIR/curves.png`` and ``DIR/frontier.png`` from ``DIR/runs.csv`` (one row per preference run:
its final figures), ``DIR/curves.csv`` (every logged point), ``DIR/selection.csv`` (the
learning-rate grid) and ``DIR/setup.json`` (how the runs were made), all written by the
experiment (:mod:`llm.evaluation.sweep`). Nothing in the report is typed by hand, so the
committed results can be checked against their own data.

Statistics, over the seeds of a (method, β) — each seed its own SFT model, data order and
evaluation noise, so the spread over seeds holds all of them: the mean, the sample standard
deviation and the 95 % confidence interval of the mean, t-distributed with n − 1 degrees of
freedom. Methods are compared seed by seed against IPO (same seed: same SFT model, data order and
reference samples), the confidence interval computed from the per-seed differences.
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


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its spread: sample s.d. and the 95 % CI half-width (t, n − 1)."""

    mean: float
    sd: float
    n: int
    half_width: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        x = np.asarray(values, dtype=float)
        if x.size < 2:
            return cls(float(x.mean()), math.nan, int(x.size), math.nan)
        sd = float(x.std(ddof=1))
        half = float(scipy.stats.t.ppf(0.975, x.size - 1) * sd / math.sqrt(x.size))
        return cls(float(x.mean()), sd, int(x.size), half)

    def text(self, decimals: int, signed: bool = False) -> str:
        sign = "+" if signed else ""
        if math.isnan(self.half_width):
            return f"{self.mean:{sign}.{decimals}f}"
        return (f"{self.mean:{sign}.{decimals}f} [{self.mean - self.half_width:{sign}.{decimals}f},"
                f" {self.mean + self.half_width:{sign}.{decimals}f}]")

    @property
    def excludes_zero(self) -> bool:
        return not math.isnan(self.half_width) and abs(self.mean) > self.half_width


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
    """Per β and method other than the baseline: the per-seed difference to the baseline."""
    by_key = {(r["beta"], r["method"], r["seed"]): r for r in rows}
    out = []
    for beta in sorted({r["beta"] for r in rows}):
        for method in method_order(rows)[1:]:
            seeds = sorted(s for b, m, s in by_key if b == beta and m == method
                           and (beta, BASELINE, s) in by_key)
            if not seeds:
                continue
            entry: dict = {"beta": beta, "method": method, "seeds": len(seeds)}
            for name in COMPARED:
                pairs = [(by_key[beta, method, s], by_key[beta, BASELINE, s]) for s in seeds]
                if all(name in a and name in b for a, b in pairs):
                    entry[name] = Estimate.of([a[name] - b[name] for a, b in pairs])
            out.append(entry)
    return out


def chosen_rates(selection: Sequence[dict]) -> dict[str, float]:
    """The learning rate each method is run at: its best final validation accuracy, a tie going
    to the smaller rate (the experiment's choice and the report's column both come from here)."""
    best: dict[str, dict] = {}
    for row in selection:
        current = best.get(row["method"])
        if current is None or (row["eval_accuracy"], -row["lr"]) > (
                current["eval_accuracy"], -current["lr"]):
            best[row["method"]] = row
    return {method: row["lr"] for method, row in best.items()}


def markdown(rows: Sequence[dict], selection: Sequence[dict], setup: dict,
             curves: Sequence[dict]) -> str:
    """``experiment.md``: setup, learning rates, the table, the paired differences, findings."""
    parts = [_setup_text(rows, setup), _selection_table(selection), _summary_table(rows),
             _figures(rows), _differences_table(rows), _findings(rows), _settling(curves)]
    return "\n".join(parts)


def _figures(rows: Sequence[dict]) -> str:
    text = ("![The four curves per β: train loss, eval loss, eval accuracy and eval margin, one "
            "line per method, the mean over seeds with a band of ± one s.d.](curves.png)\n\n"
            "The paper's four curves (its Figure 1), drawn from `curves.csv`: the mean over "
            "seeds with a band of ± one standard deviation. Accuracy is drawn from the first "
            "evaluation after step 0, where every pair ties.\n")
    if not any("reward_policy" in r for r in rows):
        text += ("\nThese data have no true reward (only the offline task's r* is known), so the "
                 "table holds the held-out preference metrics only and there is no "
                 "reward-against-divergence frontier.\n")
    else:
        text += ("\n![Mean true reward against KL and JS from π_ref, per method and β, with "
                 "95 % intervals over seeds](frontier.png)\n\nReward against divergence: the "
                 "policies' mean true reward against their Monte-Carlo KL and JS from π_ref; up "
                 "and to the left is better.\n")
    return text


def _setup_text(rows: Sequence[dict], setup: dict) -> str:
    sft = "one SFT model per seed" if setup["sft_per_seed"] else "one SFT model for every seed"
    return (
        f"# IPO against JS-IUPO ({setup['data']} data, {setup['model']})\n\n"
        f"{len(rows)} preference runs: {len(method_order(rows))} methods × β ∈ "
        f"{{{', '.join(f'{b:g}' for b in setup['betas'])}}} × {len(setup['seeds'])} seeds; "
        f"{sft} ({setup['sft_steps']} steps), then {setup['pref_steps']} preference steps of "
        f"{setup['batch_size']} pairs at each method's learning rate; {setup['eval_pairs']} "
        f"held-out evaluation pairs; the true-reward evaluation samples "
        f"{setup['truth_prompts']} held-out prompts per run. Made by `python -m llm.experiment` "
        f"with {setup['jobs']} job(s) at a time: its {setup['runs']} runs (SFT, learning-rate "
        f"selection and sweep) took {setup['run_minutes']} minutes of run time in all; every "
        "figure below is computed from the CSV files beside this report by "
        "`python -m llm.results`.\n\n"
        "Intervals are 95 % confidence intervals of the mean over seeds (t, n − 1 degrees of "
        "freedom); each seed has its own SFT model, data order and evaluation samples, so the "
        "spread between seeds holds all of these.\n")


def _selection_table(selection: Sequence[dict]) -> str:
    rates = sorted({r["lr"] for r in selection})
    chosen = chosen_rates(selection)
    beta = selection[0]["beta"] if selection else float("nan")
    lines = [f"## Learning rates\n\nFinal accuracy on validation pairs (held-out training "
             f"prompts, never the evaluation pairs), β = {beta:g}, seed 0; each method runs the "
             "sweep at its best rate.\n",
             "| method | " + " | ".join(f"lr {r:g}" for r in rates) + " | chosen |",
             "|---|" + "---|" * (len(rates) + 1)]
    for method in method_order(selection):
        cells = {r["lr"]: f"{r['eval_accuracy']:.3f}" for r in selection
                 if r["method"] == method}
        lines.append(f"| {method} | " + " | ".join(cells.get(r, "—") for r in rates)
                     + f" | {chosen[method]:g} |")
    return "\n".join(lines) + "\n"


def _summary_table(rows: Sequence[dict]) -> str:
    summary = summarise(rows)
    shown = [(n, label, d) for n, label, d in METRICS if any(n in s for s in summary)]
    lines = ["## Results\n\nMean over seeds [95 % CI].\n",
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


def _differences_table(rows: Sequence[dict]) -> str:
    differences = paired_differences(rows)
    shown = [n for n in COMPARED if any(n in d for d in differences)]
    labels = {n: label for n, label, _ in METRICS}
    lines = [f"## Against {BASELINE}, seed by seed\n\nMethod − {BASELINE} on the same seed "
             "(same SFT model, data order and samples): mean [95 % CI].\n",
             "| β | method | seeds | " + " | ".join(f"Δ {labels[n]}" for n in shown) + " |",
             "|---|---|---|" + "---|" * len(shown)]
    for d in differences:
        cells = [d[n].text(3, signed=True) if n in d else "—" for n in shown]
        lines.append(f"| {d['beta']:g} | {d['method']} | {d['seeds']} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines) + "\n"


def _verdict(e: Estimate) -> str:
    if math.isnan(e.half_width):
        return f"one seed, no interval ({e.text(3, signed=True)})"
    if e.excludes_zero:
        return (("higher than" if e.mean > 0 else "lower than")
                + f" {BASELINE}'s ({e.text(3, signed=True)})")
    return f"not distinguishable from {BASELINE}'s ({e.text(3, signed=True)}, contains 0)"


def _findings(rows: Sequence[dict]) -> str:
    lines = ["## What this says\n"]
    for d in paired_differences(rows):
        if "eval_accuracy" not in d:
            continue
        line = f"- β = {d['beta']:g}, {d['method']}: eval accuracy {_verdict(d['eval_accuracy'])}"
        if "reward_policy" in d and "kl" in d:
            line += (f"; true reward {_verdict(d['reward_policy'])}, at a KL from π_ref "
                     f"{_verdict(d['kl'])}")
        lines.append(line + ".")
    if any("kl" in d for d in paired_differences(rows)):
        lines.append("\nA method that moves further from π_ref at the same β is regularised "
                     "less, not necessarily better: compare rewards at equal divergence in the "
                     "frontier figure.")
    return "\n".join(lines) + "\n"


def _settling(curves: Sequence[dict]) -> str:
    """How much the mean eval curves still move over the last quarter of the steps."""
    evals = [c for c in curves if c["split"] == "eval"]
    if not evals:
        return ""
    last = max(c["step"] for c in evals)
    then = min({c["step"] for c in evals}, key=lambda step: abs(step - 0.75 * last))
    moves = {"rewards/accuracies": [], "loss": []}
    for key in {(c["method"], c["beta"]) for c in evals}:
        mine = [c for c in evals if (c["method"], c["beta"]) == key]
        for name, values in moves.items():
            at = {step: np.mean([c[name] for c in mine if c["step"] == step])
                  for step in (then, last)}
            values.append((at[last] - at[then]) / (1 if name != "loss" else abs(at[then])))
    accuracy, loss = np.abs(moves["rewards/accuracies"]), np.array(moves["loss"])
    return (f"## Have the curves settled?\n\nFrom step {then:g} to {last:g}, the last quarter, "
            f"the mean eval accuracy of every (method, β) moved by at most {accuracy.max():.3f} "
            f"(median {np.median(accuracy):.3f}); the mean eval loss changed by "
            f"{100 * loss.min():+.1f} % to {100 * loss.max():+.1f} %.\n")


def plot_frontier(rows: Sequence[dict], path: Path) -> Path | None:
    """Mean true reward against KL and JS per (method, β), with 95 % CIs over seeds."""
    points = []
    for s in summarise(rows):
        if not all(n in s for n in ("reward_policy", "kl", "f_divergence")):
            return None
        truth = {n: s[n].mean for n in ("reward_policy", "kl", "f_divergence")}
        truth.update({f"{n}_se": s[n].half_width for n in ("reward_policy", "kl",
                                                           "f_divergence")})
        truth["reward_reference"] = float(np.mean([r["reward_reference"] for r in rows]))
        points.append((s["method"], s["beta"], truth))
    return draw_frontier(points, path, divergence="JS(π, π_ref)")


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
    plot_curves(curves, folder / "curves.png")  # mean with a band
    plot_frontier(rows, folder / "frontier.png")
    return folder / "experiment.md"
