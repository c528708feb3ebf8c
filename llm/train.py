"""``python -m llm.train``: supervised fine-tuning, then preference training with the loss family.

The command line becomes a validated :class:`~llm.config.TrainConfig`; the run's story (the
stages, the session, the summary and what lands in the run folder) is told once, in
:mod:`llm.run` (:func:`~llm.run.run_training`).
"""

from __future__ import annotations

import sys

from upo_theory.cli import run_cli

from .config import PROG, TrainConfig, build_parser, parse_args
from .engine.loop import TrainingDivergedError
from .run import run_training

__all__ = ["TrainConfig", "build_parser", "main", "parse_args", "run_training"]


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        return run_cli(PROG, lambda: run_training(config) and 0)
    except TrainingDivergedError as error:
        print(f"{PROG}: training diverged: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
