"""Figures of the simulator (matplotlib, Agg backend); each takes results and a path to write.

* :func:`plot_policies`: π_ref, π* and every loss's minimiser side by side (one panel per context);
* :func:`plot_curves`: loss and TV to the loss's own optimum per GD/Adam step;
* :func:`plot_sweep`: π*(y) and each minimiser's π(y) against β, and TV to the own optimum;
* :func:`plot_sweep_tv`: that last panel alone, larger (the docs show it on its own).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from upo_theory.cli import save_figure

from .compare import REACHED_TV, Comparison, Sweep

MAX_PANELS = 4


def plot_policies(comparison: Comparison, path: str | Path) -> Path:
    """Grouped bars per action: π_ref, π* and each trained policy, for up to 4 contexts.

    Parameters
    ----------
    comparison : Comparison
        What :func:`~sim.compare.compare` returned.
    path : str or Path
        The figure's file.

    Returns
    -------
    Path
        The file written.
    """
    rows = [("π_ref", comparison.problem.pi_ref),
            (f"π* ({comparison.divergence.label}, {comparison.psi})", comparison.optimum.policy)]
    rows += [(o.name, o.trained.policy) for o in comparison.outcomes]
    contexts = min(comparison.problem.contexts, MAX_PANELS)
    fig, axes = plt.subplots(1, contexts, figsize=(6 * contexts, 4), squeeze=False)
    actions = np.arange(comparison.problem.actions)
    width = 0.8 / len(rows)
    for x, ax in enumerate(axes[0]):
        for i, (label, policy) in enumerate(rows):
            ax.bar(actions + i * width - 0.4 + width / 2, policy[x], width, label=label)
        ax.set(xlabel="action y", ylabel="π(y|x)", title=f"context {x}", xticks=actions)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_curves(comparison: Comparison, path: str | Path) -> Path:
    """Loss and TV to the own optimum per step, one line per loss (needs trajectories).

    Parameters
    ----------
    comparison : Comparison
        What :func:`~sim.compare.compare` returned, with trajectories.
    path : str or Path
        The figure's file.

    Returns
    -------
    Path
        The file written.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for o in comparison.outcomes:
        if o.trajectory is None:
            continue
        steps = np.arange(len(o.trajectory.loss))
        left.plot(steps, np.maximum(o.trajectory.loss - o.trained.loss, 1e-17), label=o.name)
        right.plot(steps, o.trajectory.tv, label=o.name)
    left.set(xlabel="step", ylabel="loss − minimum", yscale="log", title="training loss")
    right.set(xlabel="step", ylabel="TV to own optimum", yscale="log", title="distance to π*")
    right.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_sweep(sweep: Sweep, path: str | Path, context: int = 0, columns: int | None = None,
               tv: bool = True, optimum: str = "π*") -> Path:
    """π(y|x) against β for π* (titled ``optimum``) and each loss's minimiser, one panel each on
    a grid of ``columns`` (one row by default), then the TV of each minimiser to its own optimum
    when ``tv``; the actions' legend below the panels.

    Parameters
    ----------
    sweep : Sweep
        What :func:`~sim.compare.beta_sweep` returned.
    path : str or Path
        The figure's file.
    context : int, optional
        The context x to plot.
    columns : int, optional
        Panels per row (all in one row by default).
    tv : bool, optional
        Add the panel of total variations.
    optimum : str, optional
        The title of the optimum's panel.

    Returns
    -------
    Path
        The file written.
    """
    panels = [(optimum, sweep.optimum), *sweep.policies.items()]
    count = len(panels) + tv
    columns = columns or count
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows + 0.5),
                             squeeze=False, layout="constrained")
    flat = list(axes.flat)
    for ax, (label, policies) in zip(flat, panels, strict=False):
        for y in range(policies.shape[2]):
            ax.plot(sweep.betas, policies[:, context, y], marker="o", ms=3, color=f"C{y}")
        ax.set(xscale="log", xlabel="β", title=label, ylim=(0, 1))
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    if tv:
        _draw_tv(flat[len(panels)], sweep)
        flat[len(panels)].legend(fontsize=6)
    for ax in flat[count:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"π(y|x={context})")
    actions = sweep.optimum.shape[2]
    handles = [plt.Line2D([], [], color=f"C{y}", marker="o", ms=3, label=f"action y = {y}")
               for y in range(actions)]
    fig.legend(handles=handles, loc="outside lower center", ncol=actions, fontsize="small")
    return _save(fig, path)


def plot_sweep_tv(sweep: Sweep, path: str | Path, title: str | None = None) -> Path:
    """TV of each loss's minimiser to its own optimum against β, with the 'reached' line.

    Parameters
    ----------
    sweep : Sweep
        What :func:`~sim.compare.beta_sweep` returned.
    path : str or Path
        The figure's file.
    title : str, optional
        The figure's title.

    Returns
    -------
    Path
        The file written.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    _draw_tv(ax, sweep)
    ax.set(ylabel="TV to the loss's own optimum", title=title or "TV to own optimum")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def _draw_tv(ax: plt.Axes, sweep: Sweep) -> None:
    for name, tv in sweep.tv_own.items():
        ax.plot(sweep.betas, np.maximum(tv, 1e-17), marker="o", ms=3, label=name)
    ax.axhline(REACHED_TV, color="0.5", ls=":", label=f"reached ({REACHED_TV:g})")
    ax.set(xscale="log", yscale="log", xlabel="β", title="TV to own optimum")


def _save(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` atomically: a link at ``path`` is replaced, never written through."""
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
