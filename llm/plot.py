"""``python -m llm.plot RUN... [--out FILE]``: the paper's four curves for several runs.

The curves are read by :func:`llm.evaluation.curves.run_curve` and drawn by
:func:`llm.evaluation.figures.plot_curves` (see there for what the panels show).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from upo_theory.cli import check_figure_path, config_parser, parse_config, run_cli

from .evaluation.figures import PlotError, plot_curves, plot_frontier, plot_runs

__all__ = ["PlotConfig", "PlotError", "build_parser", "main", "plot_curves", "plot_frontier",
           "plot_runs"]
PROG = "python -m llm.plot"


@dataclass(frozen=True)
class PlotConfig:
    """The options of ``python -m llm.plot``."""

    runs: tuple[Path, ...] = field(metadata={"help": "run folders of llm.train",
                                             "positional": True})
    out: Path = field(default=Path("curves.png"), metadata={"help": "image file"})

    def __post_init__(self) -> None:
        check_figure_path(self.out, "--out")


def build_parser():
    """The CLI of ``python -m llm.plot``."""
    return config_parser(PlotConfig, prog=PROG, description=__doc__.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    config = parse_config(PlotConfig, argv, build_parser())

    return run_cli(PROG, lambda: print(plot_runs(list(config.runs), config.out)))


if __name__ == "__main__":
    sys.exit(main())
