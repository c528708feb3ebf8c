"""``python -m llm.train``: supervised fine-tuning, then preference training with the loss family.

The run's story, top to bottom (:func:`run_training`, in
:mod:`llm.evaluation.training_run`): plan the stages once
(:func:`llm.engine.objectives.plan`), set the run up
(:meth:`llm.engine.session.TrainingSession.open`: folder, model, tokenizer, data, logger, or the
checkpoint to resume), train each stage with one loop (:func:`llm.engine.loop.train_stage`; the
preference stage is given π_ref's log-probs, :mod:`llm.engine.reference`), then write the summary,
the curves and, for the offline task, the evaluation against the true reward
(:func:`llm.evaluation.summary.write_summary`, from what the run holds in memory).

Stage ``sft`` maximises the log-likelihood of the chosen responses (prompt tokens masked) and
saves the SFT model in ``<run_dir>/sft``. Stage ``pref`` trains the policy from it with the run's
:class:`upo_theory.LossSpec`; its frozen starting point is π_ref, whose sequence log-probabilities
are computed once before the stage and cached in ``<run_dir>/ref_logps.pt``. ``--init`` starts
from a saved model folder, so one SFT run can serve many preference runs.

Outputs in ``<out_dir>/<run_name>``: ``config.json``, ``metrics.jsonl``/``metrics.csv``
(:mod:`llm.engine.metrics`), ``checkpoint/`` (:mod:`llm.engine.checkpoint`), ``sft/``,
``summary.json`` (final evaluation), ``curves.png`` and, for the offline task, ``truth.json``.
"""

from __future__ import annotations

import sys

from upo_theory.cli import run_cli

from .config import PROG, TrainConfig, build_parser, parse_args
from .engine.loop import TrainingDivergedError
from .evaluation.training_run import run_training

__all__ = ["TrainConfig", "build_parser", "main", "parse_args", "run_training"]


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        return run_cli(PROG, lambda: run_training(config) and 0,
                       then="the run keeps its last checkpoint: run the same command with "
                            "--resume to continue it")
    except TrainingDivergedError as error:
        print(f"{PROG}: training diverged: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
