"""The experiments page: the measured result of the paper's experiment (``docs/results/
experiment.md``, rendered with its figures when the site is built) and the figures of any run
folders given to the build."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .. import markdown
from ..figures import Figures
from ..html import esc, note, readable, table
from ..plots.runs import Run
from ..site import Page
from .use import REPO_PAGES

RESULTS = Path(__file__).resolve().parents[1] / "results"


def results_page(figs: Figures, runs: list[Run], out: Path,
                 log: Callable[[str], None]) -> Page:
    """The page "Experiments": experiment.md if present, then the run figures and table."""
    experiment = RESULTS / "experiment.md"
    if experiment.is_file():
        written = markdown.to_html(experiment.read_text(encoding="utf-8"),
                                   asset=_copier(experiment.parent, out, log), shift=1,
                                   pages=REPO_PAGES)
        measured = f'<div class="quoted">{written}</div>'  # its title is the section's
    else:
        measured = "<h2>The measured result</h2>" + note(
            "The experiment's measured result is not in this checkout yet; run "
            "<code>python -m llm.experiment</code> and pass its folder with "
            "<code>--runs</code> to see its curves here.", "warn")
    rows = [
        [esc(r.path.name), esc(r.name), esc(r.divergence), f"{r.beta:g}", str(r.seed)]
        + ([f"{r.truth['reward_policy']:.3f}", f"{r.truth['win_rate']:.3f}",
            f"{r.truth['kl']:.3f}", f"{r.truth['f_divergence']:.3f}"]
           if r.truth else ["—"] * 4)
        for r in runs
    ]
    run_part = (
        f"<p>{len(runs)} run folders were given to this build.</p>"
        + table([readable(h) for h in ("run", "loss", "f", "β", "seed", "true reward",
                                        "win rate vs π_ref", "KL(π‖π_ref)",
                                        "D_f(π‖π_ref) of that f")], rows, "wide")
        + figs.show("run_curves",
                    "<strong>The paper's four curves</strong> (its Figure 1) for the runs given "
                    "to this build: train loss, evaluation loss, evaluation accuracy and "
                    "evaluation margin, one row per β. One line per method: the mean over its "
                    "seeds, with a band of ± one standard deviation when there are several. "
                    "Accuracy starts after step 0, where every pair ties; dotted: chance.",
                    "A grid of line plots, four columns (train loss, eval loss, eval accuracy, "
                    "eval margin) and one row per beta, one coloured line with a shaded band "
                    "per method, the legend below the grid.")
        + figs.show("run_frontier",
                    "<strong>Reward against divergence.</strong> The mean true reward of each "
                    "run's policy against its Monte-Carlo KL (left) and f-divergence (right) "
                    "from π<sub>ref</sub>; up and to the left is better. Dotted: "
                    "π<sub>ref</sub>'s own reward.",
                    "Two scatter plots with error bars, one point per run, coloured by loss and "
                    "shaped by beta; a dotted horizontal line marks the reference policy's "
                    "reward.")
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
