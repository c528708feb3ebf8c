"""``python -m llm.task``: generate the offline preference task (HH format) and print its summary.

The task itself (its questions, true reward r*, Bradley–Terry labels and held-out prompts) is
:mod:`llm.data.offline_task`; its names are re-exported here for users of ``llm.task``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from upo_theory.cli import check_writable, config_parser, parse_config, run_cli

from .data.offline_task import (
    BEST_REWARD,
    DEFAULT_EVAL_PAIRS,
    DEFAULT_TRAIN_PAIRS,
    KINDS,
    MAX_PENALISED_WORDS,
    PENALTY_PER_WORD,
    REWARD_CORRECT,
    REWARD_WRONG,
    VOCABULARY,
    Kind,
    TaskError,
    answer,
    answer_words,
    best_accuracy,
    eval_prompts,
    generate_pairs,
    hh_prompt,
    is_correct,
    is_held_out,
    kind_of,
    preference_probabilities,
    question_of,
    realised_accuracy,
    reward_gaps,
    true_reward,
)

__all__ = [
    "BEST_REWARD", "DEFAULT_EVAL_PAIRS", "DEFAULT_TRAIN_PAIRS", "KINDS", "MAX_PENALISED_WORDS",
    "PENALTY_PER_WORD", "REWARD_CORRECT", "REWARD_WRONG", "VOCABULARY", "Kind", "TaskConfig",
    "TaskError", "answer", "answer_words", "best_accuracy", "build_parser", "eval_prompts",
    "generate_pairs", "hh_prompt", "is_correct", "is_held_out", "kind_of", "main",
    "preference_probabilities", "question_of", "realised_accuracy", "reward_gaps",
    "true_reward", "write_task",
]
PROG = "python -m llm.task"


@dataclass(frozen=True)
class TaskConfig:
    """The options of ``python -m llm.task``."""

    write: str | None = field(default=None, metadata={
        "help": "write training pairs to PATH.jsonl and evaluation pairs beside it "
                "(PATH.eval.jsonl)"})
    seed: int = field(default=0, metadata={"help": "seed of the task"})
    n_train: int = field(default=DEFAULT_TRAIN_PAIRS, metadata={"help": "training pairs"})
    n_eval: int = field(default=DEFAULT_EVAL_PAIRS, metadata={"help": "held-out evaluation pairs"})

    def __post_init__(self) -> None:
        if self.write:
            for path in _outputs(Path(self.write)):
                check_writable(path, "--write")


def _outputs(path: Path) -> tuple[Path, Path]:
    """The files ``--write PATH`` writes: the training pairs and the evaluation pairs."""
    return path, path.with_name(path.name.removesuffix(".jsonl") + ".eval.jsonl")


def build_parser():
    """The CLI of ``python -m llm.task``."""
    return config_parser(
        TaskConfig, prog=PROG,
        description="Generate the offline preference task (HH format) and print its summary.")


def _write_jsonl(path: Path, rows: Sequence[dict[str, str]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    except OSError as error:
        raise TaskError(f"--write: cannot write {path} ({error.strerror}); give a writable "
                        "path") from None


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 on a user error)."""
    config = parse_config(TaskConfig, argv, build_parser())
    return run_cli(PROG, lambda: write_task(config))


def write_task(config: TaskConfig) -> int:
    """Generate the task, print its summary and write it where ``config.write`` says."""
    train, evaluation = generate_pairs(config.seed, config.n_train, config.n_eval)
    print(f"{len(train)} training pairs, {len(evaluation)} held-out evaluation pairs "
          f"(seed {config.seed})")
    print(f"best achievable eval accuracy (Bayes, r* itself): {best_accuracy(evaluation):.3f}; "
          f"realised accuracy of r* on these labels: {realised_accuracy(evaluation):.3f}")
    if config.write:
        path, eval_path = _outputs(Path(config.write))
        _write_jsonl(path, train)
        _write_jsonl(eval_path, evaluation)
        print(f"wrote {path} and {eval_path}")
    else:
        print("example:", json.dumps(train[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
