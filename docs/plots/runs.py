"""Figures of GPT-2 training runs (``llm.train`` run folders): the paper's four curves, drawn by
``llm.plot.plot_runs``, and the reward-against-divergence frontier from each run's ``truth.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@dataclass(frozen=True)
class Run:
    """One run folder: its path, loss name, f, β, seed, and its truth evaluation if any."""

    path: Path
    name: str
    divergence: str
    beta: float
    seed: int
    truth: dict[str, float] | None
    preference: bool = True
    """Whether the run has a preference stage (an SFT-only run has no curves to compare)."""


def is_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run of ``llm.train`` (its config and metrics)."""
    return (folder / "config.json").is_file() and (folder / "metrics.jsonl").is_file()


def find_runs(folders: Iterable[Path], depth: int = 3) -> list[Path]:
    """Run folders among ``folders`` and below them (up to ``depth`` levels), sorted, unique."""
    found: set[Path] = set()

    def visit(folder: Path, level: int) -> None:
        if is_run(folder):
            found.add(folder.resolve())
            return
        if level < depth and folder.is_dir():
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                visit(child, level + 1)

    for folder in folders:
        visit(Path(folder), 0)
    return sorted(found)


def load_run(folder: Path) -> Run:
    """Read a run folder's config (loss name, β, seed) and its ``truth.json`` if present."""
    from llm.config import TrainConfig

    config = TrainConfig.from_json((folder / "config.json").read_text())
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else None
    spec = config.spec
    return Run(folder, spec.name, spec.divergence.label, config.beta, config.seed, truth,
               config.stage != "sft")


def plot_curves(folders: list[Path], path: Path) -> Path:
    """The four curves (train loss, eval loss, eval accuracy, eval margin), one row per β."""
    from llm.plot import plot_runs

    return plot_runs(folders, path)


def plot_frontier(runs: list[Run], path: Path) -> Path:
    """Mean true reward against KL(π‖π_ref) and against D_f(π‖π_ref), one point per run.

    Error bars are the standard errors that ``llm.truth.evaluate_with_truth`` reports.
    """
    with_truth = [r for r in runs if r.truth]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    names = sorted({r.name for r in with_truth})
    markers = dict(zip(sorted({r.beta for r in with_truth}), "os^Dv<>", strict=False))
    for run in with_truth:
        t = run.truth or {}
        color = f"C{names.index(run.name)}"
        for ax, key in zip(axes, ("kl", "f_divergence"), strict=True):
            ax.errorbar(t[key], t["reward_policy"], xerr=t.get(f"{key}_se"),
                        yerr=t.get("reward_policy_se"), fmt=markers[run.beta], color=color,
                        capsize=2)
    if with_truth:
        ref = with_truth[0].truth or {}
        for ax in axes:
            ax.axhline(ref["reward_reference"], color="0.5", ls=":", label="π_ref")
    handles = [plt.Line2D([], [], color=f"C{i}", marker="o", ls="", label=n)
               for i, n in enumerate(names)]
    handles += [plt.Line2D([], [], color="k", marker=m, ls="", label=f"β = {b:g}")
                for b, m in markers.items()]
    axes[0].legend(handles=handles, fontsize=8)
    axes[0].set(xlabel="KL(π ‖ π_ref) (Monte Carlo)", ylabel="mean true reward r*")
    axes[1].set(xlabel="D_f(π ‖ π_ref) of the run's f (Monte Carlo)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("reward against divergence: each run's policy, sampled on held-out prompts")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
