"""The figures of runs: the paper's four curves for several runs, and the reward frontier.

:func:`plot_curves`: one row of panels per β (like the paper's Figure 1), four columns: train
loss, evaluation loss, evaluation accuracy and evaluation margin of the preference stage, against
the optimizer step; :func:`curves_by_beta` splits them into one 2 × 2 figure per β, which a
page shows at its width. Runs of the same method (:func:`llm.evaluation.curves.method_label`) and β
are one method: its mean over the seeds is one line, with a band of ± one standard deviation over
the seeds when there are several. The legend sits below the panels, off the data. Evaluation
accuracy (the share of pairs with t_w > t_l) is drawn from the first evaluation after step 0: at
step 0 the policy is π_ref, every pair is a tie (statistic 0) and the share is 0 by definition,
which is no measurement of ranking; chance (0.5) is dotted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from upo_theory import UserError
from upo_theory.cli import save_figure

from .curves import run_curve

PANELS: tuple[tuple[str, str, str], ...] = (
    ("train", "loss", "train loss"),
    ("eval", "loss", "eval loss"),
    ("eval", "rewards/accuracies", "eval accuracy"),
    ("eval", "rewards/margins", "eval margin"),
)


class PlotError(UserError):
    """A figure that cannot be written."""


def _curve(rows: Sequence[Mapping], split: str, name: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[name]) for r in rows if r["split"] == split and name in r]
    return [p[0] for p in points], [p[1] for p in points]


def _method_curves(rows_by_seed: list[list[Mapping]], split: str, name: str,
                   skip_ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and standard deviation over seeds of one metric, on the steps all share."""
    curves = [dict(zip(*_curve(rows, split, name), strict=True)) for rows in rows_by_seed]
    steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    if skip_ties:
        steps = [s for s in steps if s > 0]
    values = np.array([[c[s] for s in steps] for c in curves], dtype=float).reshape(
        len(curves), len(steps))
    spread = values.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(len(steps))
    return np.array(steps), values.mean(axis=0), spread


def plot_runs(runs: list[Path], out: Path) -> Path:
    """Draw the four curves of ``runs`` into ``out`` (:func:`plot_curves`); a run without a
    logged preference point is a :class:`PlotError`."""
    rows = []
    for run in runs:
        curve = run_curve(Path(run))
        if not curve:
            raise PlotError(f"{run} has no preference-stage rows in its metrics.jsonl yet; "
                            "nothing to plot: give runs that reached the preference stage")
        rows += curve
    return plot_curves(rows, out)


def plot_curves(rows: Sequence[Mapping], out: Path, columns: int = len(PANELS)) -> Path:
    """The four curves, one line per method: the mean over its seeds (its runs, where rows name
    one) with a ± s.d. band; ``rows`` are logged points with ``method``, ``beta``, ``seed``,
    ``step``, ``split`` and the metrics. The panels run β by β, ``columns`` to a row (four: one
    row per β, as the paper's Figure 1; two: each β a 2 × 2 block, for a page's width)."""
    betas = sorted({r["beta"] for r in rows})
    names = list(dict.fromkeys(r["method"] for r in rows))
    methods: dict[tuple[float, str], dict[object, list[Mapping]]] = defaultdict(
        lambda: defaultdict(list))
    for r in rows:
        methods[(r["beta"], r["method"])][r.get("run", r["seed"])].append(r)
    rows_of_panels = -(-len(betas) * len(PANELS) // columns)
    figure, grid = plt.subplots(rows_of_panels, columns, squeeze=False, layout="constrained",
                                figsize=(4 * columns, 2.9 * rows_of_panels + 0.6))
    flat = grid.ravel()
    axes = [flat[row * len(PANELS): (row + 1) * len(PANELS)] for row in range(len(betas))]
    for spare in flat[len(betas) * len(PANELS):]:
        spare.set_visible(False)
    for (beta, name), by_seed in methods.items():
        color = f"C{names.index(name)}"
        seeds = list(by_seed.values())
        for column, (split, metric, _) in enumerate(PANELS):
            steps, mean, spread = _method_curves(seeds, split, metric,
                                                 skip_ties=metric == "rewards/accuracies")
            axis = axes[betas.index(beta)][column]
            axis.plot(steps, mean, color=color, marker="." if len(steps) < 30 else None)
            if len(seeds) > 1:
                axis.fill_between(steps, mean - spread, mean + spread, color=color, alpha=0.2,
                                  linewidth=0)
    for row, beta in enumerate(betas):
        for column, (_, metric, title) in enumerate(PANELS):
            axis = axes[row][column]
            axis.set_title(f"{title} (β={beta:g})", fontsize=10)
            axis.set_xlabel("step")
            axis.grid(alpha=0.3)
            if metric == "rewards/accuracies":
                axis.axhline(0.5, color="0.4", ls=":", lw=1)
    seeds_per_method = sorted({len(s) for s in methods.values()})
    band = (f"mean over {'/'.join(map(str, seeds_per_method))} seeds, band ± 1 s.d."
            if seeds_per_method[-1] > 1 else "one seed")
    handles = [plt.Line2D([], [], color=f"C{i}", label=n) for i, n in enumerate(names)]
    handles.append(plt.Line2D([], [], color="0.4", ls=":", label="chance (accuracy)"))
    figure.legend(handles=handles, loc="outside lower center",
                  ncol=len(handles) if columns >= len(PANELS) else 2,
                  fontsize="small", title=f"{band}; accuracy from the first step after 0 "
                  "(at step 0 every pair ties)", title_fontsize="small")
    return _save(figure, out)


def curves_by_beta(rows: Sequence[Mapping], folder: Path, stem: str = "curves"
                   ) -> list[Path]:
    """:func:`plot_curves` split for a page: one figure per β, its four panels 2 × 2, written
    to ``folder/<stem>-beta<β>.png`` (:func:`beta_figure`); the paths, β ascending."""
    return [plot_curves([r for r in rows if r["beta"] == beta], folder / beta_figure(beta, stem),
                        columns=2)
            for beta in sorted({r["beta"] for r in rows})]


def beta_figure(beta: float, stem: str = "curves") -> str:
    """The file name of β's figure from :func:`curves_by_beta`: ``curves-beta0.1.png``."""
    return f"{stem}-beta{beta:g}.png"


def plot_frontier(points: Sequence[tuple[str, float, Mapping[str, float]]], path: Path,
                  divergence: str = "D_f(π ‖ π_ref) of the run's f",
                  lines: Mapping[str, tuple] | None = None) -> Path:
    """Mean true reward against KL(π‖π_ref) and against a D_f, one point per (name, β, truth).

    ``truth`` holds what :func:`llm.evaluation.true_reward.evaluate_with_truth` reports
    (``reward_policy``, ``kl``, ``f_divergence``, ``reward_reference`` and their ``*_se``, drawn
    as error bars): one run's, or a mean over seeds. Points up and to the left are better: more
    reward for less divergence, the frontier the f-DPO paper compares divergences by.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    names = sorted({name for name, _, _ in points})
    markers = dict(zip(sorted({beta for _, beta, _ in points}), "os^Dv<>", strict=False))
    for name, beta, t in points:
        for ax, key in zip(axes, ("kl", "f_divergence"), strict=True):
            ax.errorbar(t[key], t["reward_policy"], xerr=t.get(f"{key}_se"),
                        yerr=t.get("reward_policy_se"), fmt=markers[beta],
                        color=f"C{names.index(name)}", capsize=2)
    for name, (k, reward) in (lines or {}).items():
        if name in names:
            axes[0].plot(k, reward, color=f"C{names.index(name)}", lw=1.2, alpha=0.8)
    if points:
        for ax in axes:
            ax.axhline(points[0][2]["reward_reference"], color="0.5", ls=":")
    handles = [plt.Line2D([], [], color=f"C{i}", marker="o", ls="", label=n)
               for i, n in enumerate(names)]
    handles += [plt.Line2D([], [], color="k", marker=m, ls="", label=f"β = {b:g}")
                for b, m in markers.items()]
    if points:
        handles.append(plt.Line2D([], [], color="0.5", ls=":", label="π_ref"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    axes[0].set(xlabel="KL(π ‖ π_ref) (Monte Carlo)", ylabel="mean true reward r*")
    axes[1].set(xlabel=f"{divergence} (Monte Carlo)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("reward against divergence: policies sampled on held-out prompts",
                 fontsize=11)
    return _save(fig, path)


def _save(figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` (its folder made) atomically: a link at ``path`` is replaced,
    never written through; a failed write is one :class:`PlotError`."""
    try:
        save_figure(figure, path)
    except OSError as error:
        raise PlotError(f"cannot write the figure {path} ({error.strerror or error}); give a "
                        "writable path") from None
    finally:
        plt.close(figure)
    return path
