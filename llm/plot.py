"""``python -m llm.plot RUN... [--out FILE]``: the paper's four curves for several runs.

One row of panels per β (like the paper's Figure 1), four columns: train loss, evaluation loss,
evaluation accuracy and evaluation margin of the preference stage, against the optimizer step.
Each run is one line, labelled by its loss (IPO, IUPO[js, paper], ...) and seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .config import TrainConfig
from .metrics import read_metrics

PANELS: tuple[tuple[str, str, str], ...] = (
    ("train", "loss", "train loss"),
    ("eval", "loss", "eval loss"),
    ("eval", "rewards/accuracies", "eval accuracy"),
    ("eval", "rewards/margins", "eval margin"),
)


class PlotError(ValueError):
    """A run folder without the files the plot needs."""


def _curve(rows: list[dict], split: str, name: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[name]) for r in rows
              if r["stage"] == "pref" and r["split"] == split and name in r]
    return [p[0] for p in points], [p[1] for p in points]


def _load(run: Path) -> tuple[TrainConfig, list[dict]]:
    if not (run / "config.json").is_file() or not (run / "metrics.jsonl").is_file():
        raise PlotError(f"{run} is not a run folder (no config.json or metrics.jsonl)")
    return TrainConfig(**json.loads((run / "config.json").read_text())), read_metrics(run)


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
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The CLI of ``python -m llm.plot``."""
    parser = argparse.ArgumentParser(prog="python -m llm.plot", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of llm.train")
    parser.add_argument("--out", type=Path, default=Path("curves.png"), help="image file")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        path = plot_runs(args.runs, args.out)
    except PlotError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
