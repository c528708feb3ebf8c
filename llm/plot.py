"""``python -m llm.plot RUN... [--out FILE]``: the paper's four curves for several runs.

One row of panels per β (like the paper's Figure 1), four columns: train loss, evaluation loss,
evaluation accuracy and evaluation margin of the preference stage, against the optimizer step.
Each run is one line, labelled by its loss (IPO, IUPO[js, paper], ...) and seed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from upo_theory import (
    LossSpec,
    UserError,
    check_writable,
    config_parser,
    loss_spec,
    parse_config,
    run_cli,
)

from .metrics import read_metrics

PROG = "python -m llm.plot"
PANELS: tuple[tuple[str, str, str], ...] = (
    ("train", "loss", "train loss"),
    ("eval", "loss", "eval loss"),
    ("eval", "rewards/accuracies", "eval accuracy"),
    ("eval", "rewards/margins", "eval margin"),
)


class PlotError(UserError):
    """A run folder without the files the plot needs."""


def _curve(rows: list[dict], split: str, name: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[name]) for r in rows
              if r["stage"] == "pref" and r["split"] == split and name in r]
    return [p[0] for p in points], [p[1] for p in points]


@dataclass(frozen=True)
class SavedRun:
    """What a plot needs of a run's saved settings: its loss-family member, β and seed."""

    spec: LossSpec
    beta: float
    seed: int


def _load(run: Path) -> tuple[SavedRun, list[dict]]:
    """A run's settings and metric rows. The settings are read as saved, not validated again:
    the run may have moved, its data and ``--init`` folder need not exist here."""
    if not (run / "config.json").is_file() or not (run / "metrics.jsonl").is_file():
        raise PlotError(f"{run} is not a run folder (no config.json or metrics.jsonl)")
    try:
        settings = json.loads((run / "config.json").read_text())
        saved = SavedRun(loss_spec(settings["loss"], settings["f"], settings["form"],
                                   settings["alpha"]),
                         float(settings["beta"]), int(settings["seed"]))
    except UserError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise PlotError(f"{run / 'config.json'} is not a run's settings ({error!r}); give run "
                        "folders of llm.train") from None
    return saved, read_metrics(run)


def plot_runs(runs: list[Path], out: Path) -> Path:
    """Draw the four curves of ``runs`` (one panel row per β) into ``out``."""
    loaded = [_load(Path(run)) for run in runs]
    betas = sorted({config.beta for config, _ in loaded})
    figure, axes = plt.subplots(len(betas), len(PANELS), squeeze=False,
                                figsize=(4 * len(PANELS), 3 * len(betas)))
    for config, rows in loaded:
        row = betas.index(config.beta)
        label = f"{config.spec.name} s{config.seed}"
        for column, (split, name, title) in enumerate(PANELS):
            steps, values = _curve(rows, split, name)
            axis = axes[row][column]
            axis.plot(steps, values, marker="." if len(steps) < 30 else None, label=label)
            axis.set_title(f"{title} (β={config.beta:g})")
            axis.set_xlabel("step")
    for axis in axes.flat:
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    figure.tight_layout()
    return _save(figure, out)


def plot_frontier(points: Sequence[tuple[str, float, Mapping[str, float]]], path: Path,
                  divergence: str = "D_f(π ‖ π_ref) of the run's f") -> Path:
    """Mean true reward against KL(π‖π_ref) and against a D_f, one point per (name, β, truth).

    ``truth`` holds what :func:`llm.truth.evaluate_with_truth` reports (``reward_policy``,
    ``kl``, ``f_divergence``, ``reward_reference`` and their ``*_se``, drawn as error bars): one
    run's, or a mean over seeds. Points up and to the left are better: more reward for less
    divergence, the frontier the f-DPO paper compares divergences by.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    names = sorted({name for name, _, _ in points})
    markers = dict(zip(sorted({beta for _, beta, _ in points}), "os^Dv<>", strict=False))
    for name, beta, t in points:
        for ax, key in zip(axes, ("kl", "f_divergence"), strict=True):
            ax.errorbar(t[key], t["reward_policy"], xerr=t.get(f"{key}_se"),
                        yerr=t.get("reward_policy_se"), fmt=markers[beta],
                        color=f"C{names.index(name)}", capsize=2)
    if points:
        for ax in axes:
            ax.axhline(points[0][2]["reward_reference"], color="0.5", ls=":", label="π_ref")
    handles = [plt.Line2D([], [], color=f"C{i}", marker="o", ls="", label=n)
               for i, n in enumerate(names)]
    handles += [plt.Line2D([], [], color="k", marker=m, ls="", label=f"β = {b:g}")
                for b, m in markers.items()]
    axes[0].legend(handles=handles, fontsize=8)
    axes[0].set(xlabel="KL(π ‖ π_ref) (Monte Carlo)", ylabel="mean true reward r*")
    axes[1].set(xlabel=f"{divergence} (Monte Carlo)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("reward against divergence: policies sampled on held-out prompts")
    return _save(fig, path)


def _save(figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` (its folder made); a failed write is one :class:`PlotError`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    except OSError as error:
        raise PlotError(f"cannot write the figure {path} ({error.strerror or error}); give a "
                        "writable path") from None
    finally:
        plt.close(figure)
    return path


@dataclass(frozen=True)
class PlotConfig:
    """The options of ``python -m llm.plot``."""

    runs: tuple[Path, ...] = field(metadata={"help": "run folders of llm.train",
                                             "positional": True})
    out: Path = field(default=Path("curves.png"), metadata={"help": "image file"})

    def __post_init__(self) -> None:
        check_writable(self.out, "--out")


def build_parser():
    """The CLI of ``python -m llm.plot``."""
    return config_parser(PlotConfig, prog=PROG, description=__doc__.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    config = parse_config(PlotConfig, argv, build_parser())

    return run_cli(PROG, lambda: print(plot_runs(list(config.runs), config.out)))


if __name__ == "__main__":
    sys.exit(main())
