"""The experiment's files: its CSV files read and written, and the report (re)made from them.

:func:`write_report` (``python -m llm.results DIR``) (re)writes ``DIR/experiment.md``,
``DIR/curves-beta<β>.png`` (one figure per β) and ``DIR/frontier.png`` from ``DIR/runs.csv``
(one row per preference run: its final figures), ``DIR/curves.csv`` (every logged point),
``DIR/selection.csv`` (the learning-rate grid) and ``DIR/setup.json`` (how the runs were
made), all written by the experiment (:mod:`llm.experiments.sweep`, with :func:`write_csv`); a
folder of the pre-registered study (``setup.json``'s ``protocol``: ``study``) gets the study's
report (:func:`llm.experiments.study.study_markdown`). :func:`study_design` is the study's
design computed from the pilot's files (``python -m llm.results --design docs/results``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from upo_theory import UserError, parse_json
from upo_theory.cli import write_atomically

from ..evaluation.figures import curves_by_beta
from .rates import rate_rows
from .report import frontier_figure, markdown
from .statistics import curves_of
from .study import design_text, pilot_design, study_markdown


class ResultsError(UserError):
    """A results folder without the files the report is computed from."""


COLUMNS = {
    "runs.csv": ("method", "loss", "f", "form", "beta", "seed", "lr", "holdout", "run",
                 "eval_accuracy", "eval_loss", "eval_margin"),
    "selection.csv": ("method", "loss", "f", "form", "beta", "seed", "lr", "holdout", "run",
                      "eval_accuracy", "eval_loss"),
    "curves.csv": ("method", "f", "form", "beta", "seed", "lr", "step", "split"),
}
"""The columns the report reads from each file, as the experiment writes them: a file without
one (a renamed header) is refused, never read as a column of blanks."""

RUN_KEY = ("method", "loss", "f", "form", "beta", "seed", "lr", "holdout")
"""The columns that name one run (:class:`llm.experiments.sweep.Setting`): ``runs.csv`` and
``selection.csv`` hold one row per run, so a row repeated would count that run twice."""


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV file, numbers as floats (empty cells dropped); a file of the experiment's
    must hold its :data:`COLUMNS`, and ``runs.csv`` and ``selection.csv`` one row per run
    (:data:`RUN_KEY`)."""
    _check_regular(path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS.get(path.name, ()) if c not in (reader.fieldnames or ())]
        if missing:
            raise ResultsError(f"{path} lacks the column(s) {', '.join(missing)} that "
                               "python -m llm.experiment writes; restore the file's header")
        rows, lines = [], {}
        for row in reader:
            if path.name in ("runs.csv", "selection.csv"):
                key = tuple(_value(row[c] or "") for c in RUN_KEY)  # 0.1 and 0.10 alike
                if key in lines:
                    named = ", ".join(f"{c}={row[c]}" for c in RUN_KEY)
                    raise ResultsError(f"{path} line {reader.line_num} repeats the run of line "
                                       f"{lines[key]} ({named[:200]}); delete the repeated row")
                lines[key] = reader.line_num
            rows.append({k: _value(v) for k, v in row.items() if v != ""})
        return rows


def _check_setup(folder: Path) -> None:
    setup = folder / "setup.json"
    if not setup.exists() and not setup.is_symlink():
        raise ResultsError(f"{folder} has no setup.json; run python -m llm.experiment first")
    _check_regular(setup)


def _check_regular(path: Path) -> None:
    """Refuse ``path`` unless it is a regular file (or a link to one): a link to ``/dev/zero``
    or a FIFO is there but never ends, and is named for what it is, not called missing."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise ResultsError(f"{path} is a link to {os.readlink(path)}, which does not exist; "
                               "restore the file python -m llm.experiment writes") from None
        raise ResultsError(f"{path} does not exist; run python -m llm.experiment first") from None
    except OSError as error:
        raise ResultsError(f"{path} cannot be read ({error.strerror}); restore the file "
                           "python -m llm.experiment writes") from None
    if not stat.S_ISREG(mode):
        what = ("a folder" if stat.S_ISDIR(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
                if stat.S_ISSOCK(mode) else "not a regular file")
        link = f"a link to {os.readlink(path)}, " if path.is_symlink() else ""
        raise ResultsError(f"{path} is {link}{what}, not a regular file; restore the file "
                           "python -m llm.experiment writes")


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    """``rows`` as a CSV file at ``path``, a column per key in the order keys first appear (a
    row without a key leaves its cell empty, which :func:`read_csv` drops)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, names)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue())  # a link planted at path is replaced, not followed


def read_results(folder: Path) -> dict:
    """The experiment's files in ``folder``: ``rows`` (runs.csv), ``selection``, ``curves`` and
    ``setup`` (setup.json)."""
    folder = Path(folder)
    _check_setup(folder)
    found = {"setup": parse_json((folder / "setup.json").read_text()),
             "rows": read_csv(folder / "runs.csv"),
             "selection": read_csv(folder / "selection.csv"),
             "curves": read_csv(folder / "curves.csv")}
    if not found["rows"] or not found["curves"]:
        raise ResultsError(f"{folder}: runs.csv or curves.csv holds no rows; finish or rerun "
                           "python -m llm.experiment there")
    return found


@contextlib.contextmanager
def _results_of(folder: Path) -> Iterator[None]:
    """Files that do not hold the experiment's results are a :class:`ResultsError` that says so."""
    try:
        yield
    except ResultsError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, csv.Error) as error:
        raise ResultsError(f"{folder}: the experiment's files do not hold its results "
                           f"({type(error).__name__}: {str(error)[:120]}); finish or rerun "
                           "python -m llm.experiment there") from None


def study_design(folder: Path) -> str:
    """The pre-registered study's design computed from the pilot's files in ``folder``
    (:func:`llm.experiments.study.pilot_design`), as ``PREREGISTRATION.md`` states it."""
    with _results_of(folder):
        return design_text(pilot_design(read_results(folder)))


def write_report(folder: Path, setup: dict | None = None) -> Path:
    """``experiment.md`` and the figures from the CSV files of ``folder`` (``setup`` is saved
    as ``setup.json``, or read from it)."""
    folder = Path(folder)
    if setup is not None:
        write_atomically(folder / "setup.json", json.dumps(setup, indent=2) + "\n")
    else:
        _check_setup(folder)
    with _results_of(folder):
        found = read_results(folder)
        rows, selection, curves = found["rows"], found["selection"], found["curves"]
        render = study_markdown if found["setup"].get("protocol") == "study" else markdown
        report = render(rows, selection, found["setup"], curves)
    write_atomically(folder / "experiment.md", report)
    curves_by_beta(curves_of(curves, rate_rows(rows, selection, equal=False)),
                   folder)  # mean with a band, one figure per β
    frontier_figure(rate_rows(rows, selection, equal=False), folder / "frontier.png", curves)
    return folder / "experiment.md"
