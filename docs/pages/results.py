"""The experiments page: the measured result of the paper's experiment (``docs/results/
experiment.md``, written by the experiment's author) and the figures of any run folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .. import markdown
from ..figures import Figures
from ..html import esc, note, table
from ..plots.runs import Run
from ..site import Page

RESULTS = Path(__file__).resolve().parents[1] / "results"


def results_page(figs: Figures, runs: list[Run], out: Path,
                 log: Callable[[str], None]) -> Page:
    """The page "Experiments": experiment.md if present, then the run figures and table."""
    experiment = RESULTS / "experiment.md"
    if experiment.is_file():
        written = markdown.to_html(experiment.read_text(encoding="utf-8"),
                                   asset=_copier(experiment.parent, out, log), shift=1)
        measured = f'<div class="quoted">{written}</div>'  # its title is the section's
    else:
        measured = "<h2>The measured result</h2>" + note(
            "The experiment's result (<code>docs/results/experiment.md</code>) is not in this "
            "checkout yet.", "warn")
    rows = [
        [esc(r.path.name), esc(r.name), esc(r.divergence), f"{r.beta:g}", str(r.seed)]
        + ([f"{r.truth['reward_policy']:.3f}", f"{r.truth['win_rate']:.3f}",
            f"{r.truth['kl']:.3f}", f"{r.truth['f_divergence']:.3f}"]
           if r.truth else ["—"] * 4)
        for r in runs
    ]
    run_part = (
        f"<p>{len(runs)} run folders were given to this build.</p>"
        + table(["run", "loss", "f", "β", "seed", "true reward", "win rate vs π_ref",
                 "KL(π‖π_ref)", "D_f(π‖π_ref) of that f"], rows, "wide")
        + figs.show("run_curves", "The paper's four curves (Figure 1): train loss, evaluation "
                    "loss, evaluation accuracy and evaluation margin, one row per β.")
        + figs.show("run_frontier", "Reward against divergence: the mean true reward of each "
                    "run's policy against its Monte-Carlo KL and f-divergence from π_ref.")
        if runs else
        "<p>No run folders were given to this build: pass <code>--runs DIR...</code> (run "
        "folders of <code>python -m llm.train</code>, or folders that contain them, such as "
        "the experiment's output) to add the four curves and the frontier.</p>"
    )
    body = (
        "<p>The paper's experiment (Section 5) compares IPO with JS-IUPO at β ∈ {0.1, 0.2, "
        "0.5} by the train loss, evaluation loss, evaluation accuracy and evaluation margin "
        "of GPT-2 on HH and SHP. Here it runs on the offline preference task of "
        "<code>llm.task</code>, whose true reward is known, so the policies can also be "
        "judged by the reward they reach and the divergence they pay for it.</p>"
        + measured
        + "<h2>Run folders</h2>" + run_part
    )
    return Page("results.html", "Experiments", "Experiments", body,
                "IPO against JS-IUPO on GPT-2: curves, table and the answer")


def _copier(base: Path, out: Path, log: Callable[[str], None]) -> markdown.Asset:
    def copy(src: str) -> str | None:
        source = (base / src).resolve()
        if not source.is_file():
            log(f"experiment.md: image {src} not found; shown as text")
            return None
        target = out / "img" / f"results-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return f"img/{target.name}"

    return copy
