"""The experiment's report rendered: ``experiment.md`` from the runs' rows, and the frontier figure.

:func:`markdown` writes the setup, the learning-rate grid (:mod:`llm.experiments.rates`), the
table at each method's rate and the paired differences (:mod:`llm.experiments.statistics`), the
comparison at matched divergence (:mod:`llm.experiments.frontier`), what they say, and how
settled the curves are. Nothing in the report is typed by hand, so the committed results can be
checked against their own data; the files it is computed from are read and written by
:mod:`llm.experiments.report_files`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..evaluation.figures import beta_figure, plot_frontier
from .frontier import MATCHED_FRACTIONS, envelope, frontier, frontier_points
from .rates import chosen_rates, rate_means, rate_rows, tied_rates
from .statistics import (
    BASELINE,
    COMPARED,
    LEVEL,
    METRICS,
    Estimate,
    curves_of,
    holm,
    method_order,
    paired_differences,
    summarise,
)

SETTLED = {"loss": 0.01, "rewards/accuracies": 0.01}
"""The settling criterion: over the last quarter of the steps the mean eval loss changed by less
than 1 % (relative) and the mean eval accuracy by less than 0.01 (absolute)."""
PLATEAU = 0.10
"""The plateau criterion: over the last quarter of the truth probes, the mean (over seeds) KL
changes by less than this share of its final value and the mean true reward by less than this
share of its final gain over π_ref."""


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
              _settling(curves, best), _plateau_text(curves, best)]
    return "\n".join(parts)


def _rates_text(rates: dict[str, float]) -> str:
    return ", ".join(f"{method} {lr:g}" for method, lr in rates.items())


def _figures(rows: Sequence[dict]) -> str:
    text = "".join(
        f"![The four curves at β = {beta:g}: train loss, eval loss, eval accuracy and eval "
        f"margin, one line per method, the mean over seeds with a band of ± one s.d.]"
        f"({beta_figure(beta)})\n\n" for beta in sorted({r["beta"] for r in rows}))
    text += ("The paper's four curves (its Figure 1), one figure per β, drawn from `curves.csv`, "
             "each method at its own rate: the mean over seeds with a band of ± one standard "
             "deviation. Accuracy is drawn from the first evaluation after step 0, where every "
             "pair ties.\n")
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
    model = re.fullmatch(r"offline GPT-2 (\d+) x (\d+)", setup["model"])
    model_text = (f"a randomly initialised GPT-2, {model[1]} layers × {model[2]} wide"
                  if model else setup["model"])
    return (
        f"# IPO against JS-IUPO: an analogue of the paper's Section 5 ({setup['data']} data, "
        f"{model_text})\n\n"
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
    chosen, tied = chosen_rates(selection), tied_rates(selection)
    seeds = sorted({int(r["seed"]) for r in selection})
    pairs = sorted({int(r["eval_pairs"]) for r in selection})
    beta = selection[0]["beta"] if selection else float("nan")
    lines = [f"## Learning rates\n\nFinal accuracy (and loss), the mean over the selection "
             "seeds, on validation pairs: "
             f"{'/'.join(map(str, pairs))} pairs from held-out training prompts of selection "
             f"seed(s) {', '.join(map(str, seeds))}, which no evaluated run uses (each its own SFT "
             f"model and data), β = {beta:g}. Rates within one standard error of a method's best "
             "accuracy (binomial, or the spread between selection seeds where larger) tie "
             "(marked *), and of those the lowest validation loss is "
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
             "compared. \"Not distinguishable\" is a null at this number of seeds: its interval "
             "says how large a difference it leaves open. TRL's per-token variant of JS-IUPO "
             "(`score_per_token`) is not tested.\n"]
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
    lines += _against_reference(best)
    for where, comparisons in matched:
        for method in dict.fromkeys(c["method"] for c in comparisons):
            verdicts = "; ".join(f"at KL {c['kl']:.3g} {_verdict(c['difference'], c['holm'])}"
                                 for c in comparisons if c["method"] == method)
            lines.append(f"- at matched KL, {where}, {method}: true reward {verdicts}.")
    lines.append("\nAt the same β a method that moves further from π_ref is regularised less, "
                 "not necessarily better; the comparison at matched divergence is the one that "
                 "separates the form of the loss from how far it lets the policy move.")
    return "\n".join(lines) + "\n"


def _against_reference(rows: Sequence[dict]) -> list[str]:
    """Per method: its true reward − π_ref's on the same seed at each β, Holm over the β."""
    if not all("reward_policy" in r and "reward_reference" in r for r in rows):
        return []
    lines = []
    for method in method_order(rows):
        mine = [r for r in rows if r["method"] == method]
        betas = sorted({r["beta"] for r in mine})
        gains = [Estimate.of([r["reward_policy"] - r["reward_reference"] for r in mine
                              if r["beta"] == beta], len(betas)) for beta in betas]
        verdicts = []
        for beta, e, p in zip(betas, gains, holm([e.p_value for e in gains]), strict=True):
            verdict = _verdict(e, p).replace(f"{BASELINE}'s", "π_ref's")
            verdicts.append(f"at β = {beta:g} {verdict}")
        lines.append(f"- each at its own rate, {method} against π_ref (same seed): true reward "
                     + "; ".join(verdicts) + ".")
    return lines


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


def frontier_figure(rows: Sequence[dict], path: Path, curves: Sequence[dict] = ()
                  ) -> Path | None:
    """``frontier.png``: mean true reward against KL and JS per (method, β), with 95 % CIs over
    seeds, and each method's mean frontier R(k) over its seeds (from the truth rows of
    ``curves``), drawn by :func:`llm.evaluation.figures.plot_frontier`; None where the runs have
    no truth evaluation."""
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
    return plot_frontier(points, path, divergence="JS(π, π_ref)", lines=lines)


def plateau(curves: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """Per (method, β): the mean over seeds of KL and true reward at the truth probe nearest
    three quarters of the way and at the last, their relative changes between the two (KL's
    against its final value, the reward's against its final gain over π_ref) and whether both
    are below :data:`PLATEAU`."""
    truth = [c for c in curves_of(curves, rows) if c["split"] == "truth"]
    out = []
    order = method_order(truth) if truth else []
    for method, beta in sorted({(c["method"], c["beta"]) for c in truth},
                               key=lambda k: (k[1], order.index(k[0]))):
        mine = [c for c in truth if (c["method"], c["beta"]) == (method, beta)]
        steps = sorted({c["step"] for c in mine})
        if len(steps) < 2:
            continue
        last = steps[-1]
        then = min(steps[:-1], key=lambda step: (abs(step - 0.75 * last), -step))

        def mean(name: str, step: float, mine: list[dict] = mine) -> float:
            return float(np.mean([c[name] for c in mine if c["step"] == step]))

        kl = _relative(mean("kl", last) - mean("kl", then), mean("kl", last))
        gain = mean("reward_policy", last) - mean("reward_reference", last)
        reward = _relative(mean("reward_policy", last) - mean("reward_policy", then), gain)
        out.append({"method": method, "beta": beta, "from": then, "to": last,
                    "kl": mean("kl", last), "kl_change": kl, "reward_change": reward,
                    "plateau": abs(kl) < PLATEAU and abs(reward) < PLATEAU})
    return out


def _relative(change: float, scale: float) -> float:
    """``change`` as a share of ``|scale|``; against a scale of 0 (a policy still at π_ref), no
    change is 0 and any change is infinite, so the plateau is decided, never a division error."""
    if scale == 0:
        return 0.0 if change == 0 else math.copysign(math.inf, change)
    return change / abs(scale)


def _plateau_text(curves: Sequence[dict], rows: Sequence[dict]) -> str:
    table = plateau(curves, rows)
    if not table:
        return ""
    held = sum(t["plateau"] for t in table)
    lines = [f"## Have KL and true reward plateaued?\n\nCriterion: from the truth probe nearest "
             "three quarters of the run to the last (the steps column), the mean (over seeds) KL "
             "changes by less than "
             f"{100 * PLATEAU:g} % of its final value and the mean true reward by less than "
             f"{100 * PLATEAU:g} % of its final gain over π_ref. It holds for {held} of "
             f"{len(table)} (method, β).\n",
             "| β | method | steps | KL at the end | Δ KL | Δ true reward | plateau |",
             "|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['beta']:g} | {t['method']} | {t['from']:g}–{t['to']:g} | "
                     f"{t['kl']:.3f} | {100 * t['kl_change']:+.1f} % | "
                     f"{100 * t['reward_change']:+.1f} % | {'yes' if t['plateau'] else 'no'} |")
    return "\n".join(lines) + "\n"
