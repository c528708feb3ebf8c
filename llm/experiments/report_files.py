"""The experiment's files: its CSV files read and written, and the report (re)made from them.

:func:`write_report` (``python -m llm.results DIR``) (re)writes ``DIR/experiment.md``,
``DIR/curves.png`` and ``DIR/frontier.png`` from ``DIR/runs.csv`` (one row per preference run:
its final figures), ``DIR/curves.csv`` (every logged point), ``DIR/selection.csv`` (the
learning-rate grid) and ``DIR/setup.json`` (how the runs were made), all written by the
experiment (:mod:`llm.experiments.sweep`, with :func:`write_csv`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from upo_theory import UserError, parse_json

from ..evaluation.figures import plot_curves
from .rates import rate_rows
from .report import frontier_figure, markdown
from .statistics import curves_of


class ResultsError(UserError):
    """A results folder without the files the report is computed from."""


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV file, numbers as floats (empty cells dropped)."""
    if not path.is_file():
        raise ResultsError(f"{path} does not exist; run python -m llm.experiment first")
    with open(path, newline="") as handle:
        return [{k: _value(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    """``rows`` as a CSV file at ``path``, a column per key in the order keys first appear (a
    row without a key leaves its cell empty, which :func:`read_csv` drops)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        writer.writerows(rows)


def write_report(folder: Path, setup: dict | None = None) -> Path:
    """``experiment.md`` and the figures from the CSV files of ``folder`` (``setup`` is saved
    as ``setup.json``, or read from it)."""
    folder = Path(folder)
    if setup is not None:
        (folder / "setup.json").write_text(json.dumps(setup, indent=2) + "\n")
    elif not (folder / "setup.json").is_file():
        raise ResultsError(f"{folder} has no setup.json; run python -m llm.experiment first")
    try:
        setup = parse_json((folder / "setup.json").read_text())
        rows, selection = read_csv(folder / "runs.csv"), read_csv(folder / "selection.csv")
        curves = read_csv(folder / "curves.csv")
        if not rows or not curves:
            raise ValueError("runs.csv or curves.csv holds no rows")
        report = markdown(rows, selection, setup, curves)
    except ResultsError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, csv.Error) as error:
        raise ResultsError(f"{folder}: the experiment's files do not hold its results "
                           f"({type(error).__name__}: {str(error)[:120]}); finish or rerun "
                           "python -m llm.experiment there") from None
    (folder / "experiment.md").write_text(report)
    plot_curves(curves_of(curves, rate_rows(rows, selection, equal=False)),
                folder / "curves.png")  # mean with a band
    frontier_figure(rate_rows(rows, selection, equal=False), folder / "frontier.png", curves)
    return folder / "experiment.md"
