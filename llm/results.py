"""The experiment's analysis: from its CSV files to the table, the paired differences, the figures.

``python -m llm.results DIR`` (re)writes ``DIR/experiment.md``, ``DIR/curves-beta<β>.png`` and
``DIR/frontier.png`` from the experiment's CSV files; the analysis is
:mod:`llm.experiments.report_files` (the files), :mod:`llm.experiments.report` (the
rendering) and the statistics beside them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from upo_theory.cli import config_parser, parse_config, run_cli

from .experiments.frontier import envelope, frontier
from .experiments.rates import chosen_rates
from .experiments.report import markdown
from .experiments.report_files import ResultsError, read_csv, study_design, write_report
from .experiments.statistics import BASELINE, Estimate, holm, paired_differences, summarise

__all__ = ["BASELINE", "Estimate", "ReportConfig", "ResultsError", "build_parser", "chosen_rates",
           "envelope", "frontier", "holm", "main", "markdown", "paired_differences", "read_csv",
           "study_design", "summarise", "write_report"]
PROG = "python -m llm.results"


@dataclass(frozen=True)
class ReportConfig:
    """The options of ``python -m llm.results``."""

    folder: Path = field(metadata={"help": "the experiment's folder (runs.csv, curves.csv, "
                                           "selection.csv, setup.json)", "positional": True})
    design: bool = field(default=False, metadata={
        "help": "print the pre-registered study's design computed from this folder (the "
                "pilot's), as docs/results/study/PREREGISTRATION.md states it; writes nothing"})


def build_parser():
    """The CLI of ``python -m llm.results``."""
    return config_parser(ReportConfig, prog=PROG, description=__doc__.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ReportConfig, argv, build_parser())
    if config.design:
        return run_cli(PROG, lambda: print(study_design(config.folder), end=""))
    return run_cli(PROG, lambda: print(write_report(config.folder)))


if __name__ == "__main__":
    sys.exit(main())
