"""The experiments pages: the measured result of the paper's experiment and the pre-registered
study, each recomputed when the site is built from the CSV files committed in ``docs/results/``
and ``docs/results/study/`` (by ``llm.results.write_report``, the code that wrote their
``experiment.md``), the study's pre-registration, and the figures and table of any run folders
given with ``--runs``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ..myst import code, note, page, table
from ..plots.runs import find_runs, load_run, plot_curves, plot_frontier
from ..project import RESULTS_MODULE, module

RESULTS = Path(__file__).resolve().parents[1] / "results"
STUDY = RESULTS / "study"
PREREGISTRATION = STUDY / "PREREGISTRATION.md"
INPUTS: tuple[str, ...] = ("runs.csv", "curves.csv", "selection.csv", "setup.json")
"""The committed files the experiment's report is computed from."""

Log = Callable[[str], None]


def experiment(folder: Path, log: Log, context: str = "", source: Path = RESULTS) -> str:
    """The report of the experiment whose CSV files are committed in ``source``, written into
    ``folder`` (beside the page, whose figures it holds) from them, as the body of a page (its
    headings one level down): its verdict and scope first, then ``context`` (MyST), then the
    rest. Missing files or a report that fails are a warning note, never a failed build."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = _missing(source)
    if missing:
        log(f"results: {source.relative_to(RESULTS.parent)} lacks {missing}")
        return "## The measured result\n\n" + note(
            "The experiment's measured result is not in this checkout: run "
            "`python -m llm.experiment` and pass its folder with `--runs`.", "warning")
    for name in INPUTS:
        shutil.copyfile(source / name, folder / name)
    try:
        written = module(RESULTS_MODULE).write_report(folder)
        report = written.read_text(encoding="utf-8")
        written.unlink()  # its text is this page's: a copy beside it would be an orphan page
    except Exception as err:  # another package's failure is reported, not fatal
        log(f"results: {RESULTS_MODULE}.write_report failed ({type(err).__name__}: {err})")
        return "## The measured result\n\n" + note(
            f"The report could not be computed: {code(f'{type(err).__name__}: {err}')}",
            "warning")
    title, rest = _one_level_down(report)
    rest = (rest.replace("](curves-", f"]({folder.name}/curves-")
            .replace("](frontier.png)", f"]({folder.name}/frontier.png)"))
    return f"## {title}\n\n" + verdict_first(rest, context)


def _missing(source: Path) -> list[str]:
    """The files of :data:`INPUTS` that ``source`` lacks."""
    return [name for name in INPUTS if not (source / name).is_file()]


def _one_level_down(markdown: str) -> tuple[str, str]:
    """A Markdown text's title, and the rest with every heading one level down."""
    title, _, rest = markdown.partition("\n")
    return title.lstrip("# ").strip(), re.sub(r"^(#+) ", r"\1# ", rest, flags=re.M)


VERDICT = "What this says"
"""The report's section that states its verdict and scope: the page opens with it."""


def verdict_first(report: str, context: str = "") -> str:
    """The report with its :data:`VERDICT` section moved before everything else, then
    ``context`` (its subsections are ``###``)."""
    parts = re.split(r"(?m)^(?=### )", report)
    found = [p for p in parts if p.startswith(f"### {VERDICT}")]
    if not found:
        return context + report
    return (found[0].rstrip() + "\n\n" + context
            + "".join(p for p in parts if p is not found[0]))


def runs_section(folders: list[Path], images: Path, log: Log) -> str:
    """The table and figures of the run folders given to the build (``images``: where the
    figures go, beside the page)."""
    found = find_runs(folders)
    if folders and not found:
        log(f"runs: no run folder (config.json and metrics.jsonl) under {folders}")
    runs = []
    for folder in found:
        try:
            runs.append(load_run(folder))
        except Exception as err:  # a broken run is reported, not fatal
            log(f"runs: skipped {folder} ({type(err).__name__}: {err})")
    if not runs:
        return ""
    images.mkdir(parents=True, exist_ok=True)
    rows = [[code(r.path.name), code(r.name), code(r.divergence), f"{r.beta:g}", str(r.seed)]
            + ([f"{r.truth['reward_policy']:.3f}", f"{r.truth['win_rate']:.3f}",
                f"{r.truth['kl']:.3f}", f"{r.truth['f_divergence']:.3f}"]
               if r.truth else ["—"] * 4) for r in runs]
    parts = [f"{len(runs)} run folders were given to this build.\n\n",
             table(["run", "loss", "$f$", r"$\beta$", "seed", "true reward",
                    r"win rate vs $\pi_{\mathrm{ref}}$",
                    r"$\mathrm{KL}(\pi \,\Vert\, \pi_{\mathrm{ref}})$",
                    r"$D_f(\pi \,\Vert\, \pi_{\mathrm{ref}})$ of that $f$"], rows)]
    plot_curves([r.path for r in runs], images / "run_curves.png")
    parts.append("```{figure} runs/run_curves.png\n:alt: A grid of line plots, four columns "
                 "(train loss, eval loss, eval accuracy, eval margin), one row per beta.\n\n"
                 "**The paper's four curves** (its Figure 1) for the runs given to this build, "
                 "one row per $\\beta$: the mean over seeds, with a band of ± one standard "
                 "deviation when there are several.\n```\n\n")
    if any(r.truth for r in runs):
        plot_frontier(runs, images / "run_frontier.png")
        parts.append("```{figure} runs/run_frontier.png\n:alt: Two scatter plots with error "
                     "bars, one point per run.\n\n**Reward against divergence**: the mean true "
                     "reward of each run's policy against its KL (left) and f-divergence "
                     "(right) from the reference; up and to the left is better.\n```\n\n")
    return "".join(parts)


def results_page(folder: Path, runs: list[Path], log: Log) -> str:
    """``results/index``: the experiment (computed into ``folder/experiment``) and the runs."""
    context = (
        "### The experiment\n\n"
        "The paper's experiment (Section 5) compares IPO with JS-IUPO at "
        r"$\beta \in \{0.1, 0.2, 0.5\}$ by the train loss, evaluation loss, evaluation accuracy "
        "and evaluation margin of GPT-2 on HH and SHP. Here it runs on the offline preference "
        "task of {py:mod}`llm.task`, whose true reward is known, so the policies can also be "
        "judged by "
        "the reward they reach and the divergence they pay for it. The report below is "
        "recomputed from the CSV files in `docs/results/` by `python -m llm.results` each "
        "time this site is built.\n\n")
    body = experiment(folder / "experiment", log, context) + (
        "\n## The pre-registered study\n\n"
        "A study written down before it ran, sized to decide whether the per-response form beats "
        "IPO at matched divergence and by how much at most: {doc}`study`.\n")
    given = runs_section(runs, folder / "runs", log)
    if given:
        body += "\n## Run folders\n\n" + given
    else:  # a note to whoever builds, not to readers
        log("results: no run folders given (--runs DIR adds their curves and frontier)")
    return page("Experiments", body, "results")


def _finished_so_far(index: Path) -> str:
    """Which units of the running study are finished, by the names its records folder's
    ``units.json`` lists (``llm.experiments.records``); nothing of their results is read."""
    try:
        units = json.loads(index.read_text(encoding="utf-8"))["units"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    seeds = sorted(int(name.removeprefix("seed-")) for name in units if name.startswith("seed-"))
    done = ["the learning-rate selection"] * ("selection" in units) + [
        f"seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}"] * bool(seeds)
    return (f" Finished so far, and kept as records beside the pre-registration: "
            f"{' and '.join(done)}.") if done else ""


def study_page(folder: Path, log: Log) -> str:
    """``results/study``: the pre-registered study's report (computed into ``folder/study``
    from ``docs/results/study``), or, while its runs are not all done, that it has no verdict
    yet; then its pre-registration, as it was written before any run."""
    if not PREREGISTRATION.is_file():
        log("results: docs/results/study lacks PREREGISTRATION.md")
        return page("The pre-registered study", note(
            "The study's pre-registration is not in this checkout.", "warning"), "study")
    if not _missing(STUDY):
        report = experiment(folder / "study", log, source=STUDY)
    else:  # the stopping rule: no look at the primary endpoint before every run exists
        report = "## Result\n\n" + note(
            "The study is running. By its stopping rule it has no verdict, and no look at its "
            "primary endpoint is taken, until every one of its runs is done; its report then "
            "appears here, computed from the CSV files committed beside its pre-registration."
            + _finished_so_far(STUDY / "records" / "units.json"), "note")
    title, rest = _one_level_down(PREREGISTRATION.read_text(encoding="utf-8"))
    return page("The pre-registered study", (
        "Does JS-IUPO in the per-response form give more true reward than IPO at the same KL "
        "from $\\pi_{\\mathrm{ref}}$, and if not, how large can its advantage or deficit at "
        "most be? The question, the primary endpoint, its margin, the analysis and the stopping "
        "rule were fixed before any of the study's runs existed (below, as written then).\n\n"
        + report + f"\n## {title}\n\n" + rest), "study")
