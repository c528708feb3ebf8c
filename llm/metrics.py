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
  CUDA device of known peak rate, ``mfu`` (model-FLOPs utilisation, :mod:`llm.throughput`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .config import STAGE_ORDER

COLUMNS: tuple[str, ...] = (
    "step", "stage", "split", "loss", "rewards/accuracies", "rewards/margins", "rewards/chosen",
    "rewards/rejected", "logps/chosen", "logps/rejected", "statistic", "grad_norm",
    "learning_rate", "tokens_per_s", "padding", "mfu",
)


class MetricsLogger:
    """Appends metric rows to the run's JSONL and CSV files (resumed runs keep appending)."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.jsonl = run_dir / "metrics.jsonl"
        self.csv = run_dir / "metrics.csv"
        self.board = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                self.board = None

    def truncate_after(self, stage: str, step: int) -> None:
        """Drop rows logged after ``stage`` step ``step`` (a resumed run repeats those steps)."""
        if not self.enabled or not self.jsonl.is_file():
            return
        order = STAGE_ORDER.index
        rows = [r for r in read_metrics(self.jsonl.parent)
                if (order(r["stage"]), r["step"]) <= (order(stage), step)]
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
        with open(self.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise KeyError(f"unknown metric names {sorted(unknown)}; add them to COLUMNS")
        with open(self.jsonl, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        new = not self.csv.is_file()
        with open(self.csv, "a", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.board is not None:
            for name, value in row.items():
                if isinstance(value, float):
                    self.board.add_scalar(f"{row['split']}/{row['stage']}/{name}", value,
                                          row["step"])

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All rows of a run's ``metrics.jsonl``."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
