"""Run folders of ``llm.train`` for ``python -m docs --runs``: found, read, and drawn by
``llm.plot`` (the paper's four curves, and reward against divergence from each ``truth.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..project import module


@dataclass(frozen=True)
class Run:
    """One run folder of ``llm.train``: its path, loss name, f, β, seed and truth evaluation."""

    path: Path
    name: str
    divergence: str
    beta: float
    seed: int
    truth: dict[str, float] | None


def is_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run of ``llm.train`` (its config and metrics)."""
    return (folder / "config.json").is_file() and (folder / "metrics.jsonl").is_file()


def find_runs(folders: Iterable[Path], depth: int = 3) -> list[Path]:
    """Run folders among ``folders`` and below them (up to ``depth`` levels), sorted, unique."""
    found: set[Path] = set()

    def visit(folder: Path, level: int) -> None:
        if is_run(folder):
            found.add(folder.resolve())
        elif level < depth and folder.is_dir():
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                visit(child, level + 1)

    for folder in folders:
        visit(Path(folder), 0)
    return sorted(found)


def load_run(folder: Path) -> Run:
    """Read a run folder's config (loss name, β, seed) and its ``truth.json`` if present."""
    config = module("llm.config").TrainConfig.from_json((folder / "config.json").read_text())
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else None
    spec = config.spec
    return Run(folder, spec.name, spec.divergence.label, config.beta, config.seed, truth)


def plot_curves(folders: list[Path], path: Path) -> Path:
    """The four curves (train loss, eval loss, eval accuracy, eval margin), one row per β."""
    return module("llm.plot").plot_runs(folders, path)


def plot_frontier(runs: list[Run], path: Path) -> Path:
    """Mean true reward against KL(π‖π_ref) and against D_f(π‖π_ref), one point per run."""
    return module("llm.plot").plot_frontier([(r.name, r.beta, r.truth) for r in runs
                                             if r.truth], path)
