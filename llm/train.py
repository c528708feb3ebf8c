"""``python -m llm.train``: supervised fine-tuning, then preference training with the loss family.

The command line becomes a validated :class:`~llm.config.TrainConfig`; the run's story (the
stages, the session, the summary and what lands in the run folder) is told once, in
:mod:`llm.run` (:func:`~llm.run.run_training`).
"""

from __future__ import annotations

import sys

from upo_theory.cli import config_parser, parse_config, run_cli

from .config import TrainConfig
from .engine.loop import TrainingDivergedError
from .run import RESUME, run_training

__all__ = ["TrainConfig", "build_parser", "main", "parse_args", "run_training"]
PROG = "python -m llm.train"


def build_parser():
    """The command line of ``python -m llm.train``, one option per :class:`TrainConfig` field."""
    return config_parser(
        TrainConfig, prog=PROG,
        description="SFT then preference training (DPO, IPO, f-DPO, IUPO) of a GPT-2 model.")


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse a command line into a validated :class:`TrainConfig`; exit 2 on a bad value."""
    return parse_config(TrainConfig, argv, build_parser())


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        return run_cli(PROG, lambda: run_training(config) and 0, then=RESUME)
    except TrainingDivergedError as error:
        print(f"{PROG}: training diverged: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
