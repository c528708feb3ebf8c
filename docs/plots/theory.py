"""Plots of the theory, drawn from upo_theory's own objects (no formula is typed here).

* :func:`plot_generators` — f and f′ of every registered divergence;
* :func:`plot_reward` — the reward reparameterisation β f′(u) of Theorem 3.1 (eq. 12), with its
  ceiling β sup f′;
* :func:`plot_js_statistics` — the two forms of the JS-IUPO pair statistic (eq. 23 and the
  per-response form that eq. 17 pairs with) over (π(y_w), π(y_l)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from upo_theory import (
    derive,
    generator_function,
    get_divergence,
    kernel_for,
    loss_spec,
    pair_statistic,
    registered,
)

BETAS: tuple[float, ...] = (0.1, 0.2, 0.5)
"""The paper's β values (Section 5)."""

_U = np.logspace(-3, np.log10(8.0), 600)


def plot_generators(path: Path) -> Path:
    """f(u) and f′(u) for every registered divergence, on u ∈ [10⁻³, 8] (log axis)."""
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    for div in registered():
        d = derive(div)
        ax_f.plot(_U, generator_function(div)(_U), label=div.label)
        if d.differentiable:
            ax_d.plot(_U, kernel_for(div)(np.log(_U)), label=div.label)
    ax_f.set(xscale="log", ylim=(-0.5, 6), xlabel="u = π/π_ref", ylabel="f(u)",
             title="generators f")
    ax_d.set(xscale="log", ylim=(-6, 4), xlabel="u = π/π_ref", ylabel="f′(u)",
             title="derivatives f′ (total variation has none)")
    for ax in (ax_f, ax_d):
        ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.grid(alpha=0.3)
    handles, labels = ax_f.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    return _save(fig, path)


def plot_reward(path: Path, betas: Sequence[float] = BETAS) -> Path:
    """β f′(u) for each differentiable divergence and β, with the ceiling β sup f′ dashed."""
    divs = [d for d in registered() if derive(d).differentiable]
    cols = 4
    rows = -(-len(divs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3.0 * rows + 0.4), sharex=True,
                             layout="constrained", squeeze=False)
    for ax, div in zip(axes.flat, divs, strict=False):
        k = kernel_for(div)
        for beta, color in zip(betas, ("C0", "C1", "C2"), strict=False):
            ax.plot(_U, beta * k(np.log(_U)), color=color, label=f"β = {beta}")
            if np.isfinite(k.sup):
                ax.axhline(beta * k.sup, color=color, ls="--", lw=0.8)
        ax.set(xscale="log", ylim=(-1.5, 1.5), xlabel="u")
        ax.set_title(div.title, fontsize=9.5)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(divs):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("β f′(u)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
    fig.suptitle("implicit reward β f′(π/π_ref) (eq. 12); dashed: its ceiling β sup f′")
    return _save(fig, path)


def plot_js_statistics(path: Path, ref_w: float = 0.3, ref_l: float = 0.2,
                       betas: Sequence[float] = (2.0, 1.0, 0.5)) -> Path:
    """Both JS-IUPO pair statistics over the valid (π(y_w), π(y_l)), π_ref fixed.

    Only π(y_w) + π(y_l) ≤ 1 is drawn (two responses' probabilities cannot add up to more).
    Contour lines mark the IUPO target 1/(2β) for each β in ``betas``, labelled with that β;
    where a line is missing, the target is out of the statistic's reach.
    """
    grid = np.linspace(0.002, 0.998, 300)
    pw, pl = np.meshgrid(grid, grid)
    valid = pw + pl <= 1.0
    log_pw, log_pl = np.log(pw), np.log(pl)
    rw, rl = np.full_like(pw, np.log(ref_w)), np.full_like(pw, np.log(ref_l))
    js = get_divergence("js")
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), layout="constrained")
    for ax, form, title in zip(
        axes, ("paper", "per_response"),
        ("paper form (eq. 23): f′(π_w/π_l) − f′(π_ref,w/π_ref,l)",
         "per-response form (eq. 17): f′(π_w/π_ref,w) − f′(π_l/π_ref,l)"),
        strict=True,
    ):
        stat = pair_statistic(loss_spec("iupo", js, form), log_pw, log_pl, rw, rl)
        stat = np.ma.masked_where(~valid, stat)
        mesh = ax.pcolormesh(pw, pl, stat, cmap="RdBu_r", vmin=-3, vmax=3, shading="auto")
        levels = sorted(1.0 / (2.0 * b) for b in betas)
        lines = ax.contour(pw, pl, stat, levels=levels, colors="k", linewidths=1.0)
        ax.clabel(lines, fmt=_beta_label, fontsize=8)
        ax.plot([0, 1], [1, 0], color="0.3", lw=0.8)
        ax.plot([ref_w], [ref_l], "k*", ms=10)
        ax.set(xlabel="π(y_w)", ylabel="π(y_l)", title=title, aspect="equal", xlim=(0, 1),
               ylim=(0, 1))
        ax.title.set_fontsize(9.5)
        fig.colorbar(mesh, ax=ax, shrink=0.85, label="pair statistic")
    targets = ", ".join(f"{1 / (2 * b):g} (β = {b:g})" for b in betas)
    fig.suptitle(f"JS-IUPO statistics where π(y_w) + π(y_l) ≤ 1; π_ref(y_w) = {ref_w}, "
                 f"π_ref(y_l) = {ref_l} (★); max of the paper form "
                 f"{js_paper_ceiling(ref_w, ref_l):.3f}\nblack lines: statistic = target "
                 f"1/(2β) = {targets}", fontsize=10)
    return _save(fig, path)


def _beta_label(target: float) -> str:
    """A level line of the target 1/(2β), labelled by its β."""
    return f"β={1.0 / (2.0 * target):.3g}"


def js_paper_ceiling(ref_w: float, ref_l: float) -> float:
    """sup of the JS paper-form statistic: sup f′ − f′(π_ref(y_w)/π_ref(y_l)) (Mathematics page)."""
    k = kernel_for(get_divergence("js"))
    return float(k.sup - k(np.array([np.log(ref_w / ref_l)]))[0])


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
