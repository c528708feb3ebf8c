"""``python -m llm.experiment``: an analogue of the paper's experiment (Section 5), over seeds.

The protocol (SFT per seed, a learning rate per method chosen on validation pairs, the sweep over
β and seeds) and what it writes are :mod:`llm.experiments.sweep`; the analysis is the rest of
the experiments room (:mod:`llm.experiments`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from upo_theory.cli import config_parser, parse_config, run_cli

from .engine.run_folder import claim_folder
from .experiments.rates import next_rate
from .experiments.sweep import (
    BETAS,
    LRS,
    METHODS,
    PROTOCOLS,
    QUICK,
    STUDY,
    SWEPT,
    TRAIN_DEFAULTS,
    ExperimentConfig,
    Setting,
    run_experiment,
    selection,
    sweep,
)

__all__ = ["BETAS", "LRS", "METHODS", "PROTOCOLS", "QUICK", "STUDY", "SWEPT", "TRAIN_DEFAULTS",
           "ExperimentConfig", "Setting", "build_parser", "main", "next_rate", "protocol_argv",
           "run_experiment", "selection", "sweep"]
PROG = "python -m llm.experiment"
MARKER = ".upo-experiment"
"""The empty file that makes a folder one ``python -m llm.experiment`` writes."""
OUTPUTS = ("*.csv", "*.md", "*.png", "setup.json", "reference-*.pt")
"""What the experiment writes beside its run folders (a folder of these is its, from before the
marker)."""


def build_parser():
    """The CLI of ``python -m llm.experiment``: the sweep, then ``llm.train``'s shared options."""
    return config_parser(ExperimentConfig, prog=PROG, description=__doc__.splitlines()[0])


def protocol_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the options of its ``--protocol`` (:data:`PROTOCOLS`) put before it, so the
    command line's own options win; an unknown protocol is left to the parser to refuse."""
    argv = list(argv)
    named = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--protocol"]
    named += [a.split("=", 1)[1] for a in argv if a.startswith("--protocol=")]
    return [*PROTOCOLS.get(named[-1], ()), *argv] if named else argv


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints where the results are."""
    own = list(sys.argv[1:] if argv is None else argv)
    config = parse_config(ExperimentConfig, protocol_argv(own), build_parser(), own=own)

    def work() -> int:
        claim_folder(config.out_dir, MARKER, "--out-dir", OUTPUTS)  # before anything is written
        out = run_experiment(config)
        print((out / "experiment.md").read_text())
        figures = [*sorted(out.glob("curves-beta*.png")),
                   *[out / "frontier.png"] * (out / "frontier.png").exists()]
        print("results: " + ", ".join(str(path) for path in [
            out / "experiment.md", out / "runs.csv", out / "curves.csv", out / "selection.csv",
            *figures]))
        return 0

    return run_cli(PROG, work, then="finished runs are kept and stopped ones keep their last "
                   "checkpoint: run the same command again to go on")


if __name__ == "__main__":
    sys.exit(main())
