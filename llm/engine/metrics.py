"""Metrics of a run: ``metrics.jsonl`` and ``metrics.csv`` (and TensorBoard when installed).

One row per logging event: ``step`` (global optimizer step), ``stage`` (``sft``/``pref``),
``split`` (``train``/``eval``) and the standard names below; a name that does not apply to a row
is absent from its JSON and blank in its CSV line.

- ``loss``; for preference rows, under TRL's names and with TRL's meanings:
  ``rewards/chosen`` and ``rewards/rejected`` (mean ``β t_w`` and ``β t_l``, with
  ``t = log π − log π_ref``), ``rewards/margins`` (their difference, mean ``β (t_w − t_l)``),
  ``rewards/accuracies`` (share of pairs with ``t_w > t_l``), ``logps/chosen``, ``logps/rejected``
  (mean policy sequence log-probs, summed or per-token as the run's ``length``); and the loss
  family's own ``statistic`` (mean pair statistic s of the run's (Ψ, f, form), whose target is
  ``1/(2β)`` for IPO and IUPO);
- training rows also ``grad_norm`` (before clipping), ``learning_rate``, ``tokens_per_s`` (real
  tokens, not padding), ``padding`` (share of the positions computed that were padding) and, on a
  CUDA device of known peak rate, ``mfu`` (model-FLOPs utilisation, :mod:`llm.engine.throughput`).

A run killed while appending leaves a half-written last line: :func:`read_metrics` drops it and
says so (a crashed run can always be plotted and resumed), while a bad line anywhere else is an
error naming the line. On resume, :meth:`MetricsLogger.keep_until` drops every row after the
restored checkpoint, so ``metrics.jsonl`` never holds a step twice; the kept rows, and every row
logged after them, stay in memory (:attr:`MetricsLogger.history`) for the run's summary.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from upo_theory import UserError, parse_json
from upo_theory.cli import write_atomically

from ..config import STAGE_ORDER
from .atomic import append

COLUMNS: tuple[str, ...] = (
    "step", "stage", "split", "loss", "rewards/accuracies", "rewards/margins", "rewards/chosen",
    "rewards/rejected", "logps/chosen", "logps/rejected", "statistic", "grad_norm",
    "learning_rate", "tokens_per_s", "padding", "mfu",
    # rows of split "truth" (--truth-every): llm.evaluation.true_reward.evaluate_with_truth
    "reward_policy", "reward_policy_se", "reward_reference", "reward_reference_se", "win_rate",
    "win_rate_se", "kl", "kl_se", "f_divergence", "f_divergence_se", "correct_policy",
    "correct_reference", "best_reward", "n_samples",
)


class MetricsError(UserError):
    """A ``metrics.jsonl`` with a bad line before its last one (not a run's torn last write)."""


class MetricsLogger:
    """Appends metric rows to the run's JSONL and CSV files (resumed runs keep appending)."""

    def __init__(self, run_dir: Path, enabled: bool = True,
                 say: Callable[[str], None] | None = None) -> None:
        self.enabled = enabled
        self.say = say
        self.jsonl = run_dir / "metrics.jsonl"
        self.csv = run_dir / "metrics.csv"
        self.history: list[dict[str, Any]] = []
        """The run's rows so far, in memory: those kept on resume, then every row logged."""
        self.board = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                self.board = None

    def keep_until(self, position: tuple[str, int] | None) -> None:
        """Keep only the rows up to (stage, step) ``position``; None keeps none (a new start).

        A resumed run repeats the steps after its checkpoint, so their rows go; the CSV is
        rewritten from the kept rows. Both files are replaced atomically, and written even when
        ``metrics.jsonl`` is missing: what stands at their names (a link included) is replaced,
        never appended to.
        """
        if not self.enabled:
            return
        rows = []
        if position is not None and self.jsonl.is_file():
            order = STAGE_ORDER.index
            limit = (order(position[0]), position[1])
            rows = [r for r in read_metrics(self.jsonl.parent, self.say)
                    if (order(r["stage"]), r["step"]) <= limit]
        self.history = rows
        write_atomically(self.jsonl, "".join(json.dumps(r) + "\n" for r in rows))
        table = io.StringIO()
        writer = csv.DictWriter(table, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        write_atomically(self.csv, table.getvalue())

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise KeyError(f"unknown metric names {sorted(unknown)}; add them to COLUMNS")
        append(self.jsonl, json.dumps(row) + "\n")  # never through a link
        self.history.append(row)
        line = io.StringIO()
        writer = csv.DictWriter(line, COLUMNS)
        if not self.csv.is_file():
            writer.writeheader()
        writer.writerow(row)
        append(self.csv, line.getvalue())
        if self.board is not None:
            for name, value in row.items():
                if isinstance(value, float):
                    self.board.add_scalar(f"{row['split']}/{row['stage']}/{name}", value,
                                          row["step"])

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def read_metrics(run_dir: Path, say: Callable[[str], None] | None = None
                 ) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``; a half-written last line is dropped with a note.

    ``say`` receives the note (default: a line on stderr). A line before the last that is not a
    metrics row raises :class:`MetricsError` naming the file and the line.
    """
    path = Path(run_dir) / "metrics.jsonl"
    lines = path.read_bytes().split(b"\n")
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    rows = []
    for number, line in numbered:
        try:
            row = parse_json(line)
            if not isinstance(row, dict) or not {"step", "stage", "split"} <= set(row):
                raise ValueError("not an object with step, stage and split")
            if row["stage"] not in STAGE_ORDER or type(row["step"]) is not int:
                raise ValueError(f"stage {str(row['stage'])[:20]!r} step "
                                 f"{str(row['step'])[:20]!r} is no stage of {STAGE_ORDER} and "
                                 "integer step")
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            if number != numbered[-1][0]:
                raise MetricsError(f"{path} line {number} is not a metrics row ({error}); repair "
                                   "or delete that line") from None
            (say or _note)(f"{path}: dropped its half-written last line {number} (the run was "
                           "stopped while writing it)")
            continue
        rows.append(row)
    return rows


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr, flush=True)

