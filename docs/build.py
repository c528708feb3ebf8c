"""Build the documentation site: draw the figures, generate every page, write them.

The build never fails because another package is missing or not finished: a page or figure that
cannot be produced says why on the page and in the build's notes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .config import BuildConfig
from .figures import Figures
from .html import esc, note
from .pages import claims, divergences, reference, results, start, use
from .pages.bandit import bandit_page
from .pages.math_page import math_page
from .pages.references import references_page
from .pages.walkthrough import walkthrough_page
from .plots import runs as run_plots
from .plots import theory
from .site import Site

EXPERIMENT_OUTPUTS: tuple[Path, ...] = (Path("runs/experiment"),)
"""Where ``python -m llm.experiment`` writes by default; included in the build when present."""


@dataclass
class BuildReport:
    """What a build wrote: the pages, the figures, notes on anything skipped, the time taken."""

    out: Path
    pages: list[Path] = field(default_factory=list)
    figures: Figures = field(default_factory=Figures)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def build(config: BuildConfig, log: Callable[[str], None] | None = None) -> BuildReport:
    """Build the site into ``config.out`` and return what was written."""
    start_time = time.perf_counter()
    report = BuildReport(config.out)

    def say(text: str) -> None:
        report.notes.append(text)
        if log is not None:
            log(text)

    figs = report.figures
    steps = ["theory figures", "simulator", "runs", "claims", "pages", "write"]
    with tqdm(total=len(steps), desc="docs", unit="step", leave=False) as bar:
        bar.set_postfix_str(steps[0])
        _theory_figures(config, figs)
        bar.update()
        bar.set_postfix_str(steps[1])
        measured = _simulator(config, figs, say)
        bar.update()
        bar.set_postfix_str(steps[2])
        runs = _runs(config, figs, say)
        bar.update()
        bar.set_postfix_str(steps[3])
        verified, missing = _claims(say)
        bar.update()
        bar.set_postfix_str(steps[4])
        site = Site()
        content = [
            start.getting_started_page(),
            use.loop_page(say),
            use.data_page(say),
            use.runs_page(say),
            use.choosing_page(measured.get("forms", "")),
            math_page(),
            walkthrough_page(measured.get("forms", ""), _js_figure(figs)),
            claims.claims_page(verified, missing),
            divergences.overview(_divergence_figures(figs)),
            *divergences.pages(verified),
            bandit_page(figs, measured),
            results.results_page(figs, runs, config.out, say),
            reference.cli_page(say),
            *reference.api_pages(say),
            references_page(),
        ]
        site.add(start.home_page([(p.path, p.title, p.summary) for p in content
                                  if (p.summary and p.section != "Divergences")
                                  or p.path == "divergences.html"]))
        for page in content:
            site.add(page)
        bar.update()
        bar.set_postfix_str(steps[5])
        report.pages = site.write(config.out)
        bar.update()
    report.seconds = time.perf_counter() - start_time
    return report


def _js_figure(figs: Figures) -> str:
    return figs.show(
        "js_statistics",
        "<strong>The two JS-IUPO pair statistics</strong> over the policy's probabilities "
        "(π(y<sub>w</sub>), π(y<sub>l</sub>)), with π<sub>ref</sub>(y<sub>w</sub>) = 0.3 and "
        "π<sub>ref</sub>(y<sub>l</sub>) = 0.2 (the star). Only the triangle π(y<sub>w</sub>) + "
        "π(y<sub>l</sub>) ≤ 1 is drawn: the rest is not a probability. Black lines: where the "
        "statistic equals the IUPO target 1/(2β) for β = 2, 1 and 0.5 (targets 0.25, 0.5, 1). "
        "The paper form never reaches the target of β = 0.5; the per-response form reaches "
        "every target.",
        "Two heat maps side by side over the triangle of valid probability pairs, the "
        "reference point marked by a star. Left, the paper form: its values never exceed 0.51, "
        "so only the level lines for beta = 2 and beta = 1 appear, low in the triangle. Right, "
        "the per-response form: it grows without bound as pi of y_l goes to 0, and the level "
        "lines for beta = 2, 1 and 0.5 all cross the triangle.")


def _divergence_figures(figs: Figures) -> str:
    return (
        figs.show("generators",
                  "<strong>Generators and their derivatives.</strong> f (left) and f′ (right) of "
                  "every registered divergence, against the ratio u = π/π<sub>ref</sub> on a "
                  "log axis; f′ is missing for total variation, which has no derivative at 1.",
                  "Two line plots. Left: every generator f(u) is zero at u = 1 and convex. "
                  "Right: every derivative f′(u) is increasing; all but Pearson's go to minus "
                  "infinity as u goes to 0, Pearson's stops at −2; reverse KL and Pearson keep "
                  "rising for large u while the others flatten out.")
        + figs.show("reward",
                    "<strong>The implicit reward β f′(u) of Theorem 3.1</strong> (eq. 12), one "
                    "panel per differentiable divergence, for the paper's β = 0.1, 0.2, 0.5; "
                    "dashed: its ceiling β sup f′, where f′ is bounded.",
                    "A grid of small line plots, one per divergence, each with three curves for "
                    "the three beta values. For reverse KL and Pearson the curves keep rising; "
                    "for the other divergences they flatten under dashed horizontal ceilings.")
    )


def _theory_figures(config: BuildConfig, figs: Figures) -> None:
    names = {
        "generators": theory.plot_generators,
        "reward": theory.plot_reward,
        "js_statistics": theory.plot_js_statistics,
    }
    for name, draw in names.items():
        if config.plots == "none":
            figs.skipped[name] = "the site was built with --no-plots"
            continue
        draw(config.out / "img" / f"{name}.png")
        figs.paths[name] = f"img/{name}.png"


def _simulator(config: BuildConfig, figs: Figures, say: Callable[[str], None]) -> dict[str, str]:
    """The simulator's figures and measured tables (HTML by topic), via ``docs.plots.bandit``."""
    try:
        from .plots import bandit

        return bandit.draw(config.out / "img", config.plots, figs, say)
    except Exception as err:  # another package's failure is reported, never fatal
        why = f"{type(err).__name__}: {err}"
        say(f"simulator: skipped ({why})")
        missing = note(f"The simulator's results are not in this build ({esc(why)}).", "warn")
        return dict.fromkeys(("table", "forms", "pearson", "azar"), missing)


def _runs(config: BuildConfig, figs: Figures, say: Callable[[str], None]) -> list[run_plots.Run]:
    folders = list(config.runs) + [p for p in EXPERIMENT_OUTPUTS if p.is_dir()]
    found = run_plots.find_runs(folders)
    if folders and not found:
        say(f"runs: no run folder (config.json and metrics.jsonl) under {folders}")
    if not found:
        return []
    loaded = []
    for folder in found:
        try:
            loaded.append(run_plots.load_run(folder))
        except Exception as err:  # a broken run is reported, not fatal
            say(f"runs: skipped {folder} ({type(err).__name__}: {err})")
    if config.plots == "none":
        for name in ("run_curves", "run_frontier"):
            figs.skipped[name] = "the site was built with --no-plots"
        return loaded
    if loaded:
        run_plots.plot_curves([r.path for r in loaded], config.out / "img" / "run_curves.png")
        figs.paths["run_curves"] = "img/run_curves.png"
    if any(r.truth for r in loaded):
        run_plots.plot_frontier(loaded, config.out / "img" / "run_frontier.png")
        figs.paths["run_frontier"] = "img/run_frontier.png"
    else:
        figs.skipped["run_frontier"] = "no run has a truth.json (offline task evaluation)"
    return loaded


def _claims(say: Callable[[str], None]) -> tuple[list | None, str]:
    try:
        from upo_theory import verify_all

        return verify_all(), ""
    except Exception as err:  # reported on the page, never fatal
        why = f"{type(err).__name__}: {err}"
        say(f"claims: skipped ({why})")
        return None, why
