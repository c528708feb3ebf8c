"""What ``python -m docs`` builds (:class:`BuildConfig`), checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .project import UserError, check_writable

PLOT_MODES: tuple[str, ...] = ("all", "fast", "none")


class BuildError(UserError):
    """A build option that cannot work (the message names it and the fix)."""


@dataclass(frozen=True)
class BuildConfig:
    """What to build: the output folder, which plots to draw and which run folders to show.

    ``plots``: ``all`` draws everything; ``fast`` skips the simulator's training plots (the slow
    part); ``none`` draws no figure at all.
    """

    out: Path = field(default=Path("build/docs"), metadata={"help": "output folder"})
    plots: str = field(default="all", metadata={
        "help": "figures to draw: all, fast (skips the slow simulator training plots) or none",
        "choices": PLOT_MODES, "shortcuts": {"--fast": "fast", "--no-plots": "none"}})
    runs: tuple[Path, ...] = field(default=(), metadata={
        "help": "run folders of llm.train (or folders holding them) to plot"})

    def __post_init__(self) -> None:
        if self.plots not in PLOT_MODES:
            raise BuildError(f"plots={self.plots!r} is unknown; choose one of {PLOT_MODES}")
        if self.plots == "none" and self.runs:
            raise BuildError("--runs draws the run folders' figures, and --no-plots (--plots "
                             "none) draws no figure: drop one (--fast keeps the run figures)")
        check_writable(self.out, "--out", folder=True)
        for run in self.runs:
            if not Path(run).is_dir():
                raise BuildError(f"--runs {run}: no such folder; give run folders of llm.train")

