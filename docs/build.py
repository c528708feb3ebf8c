"""Build the documentation site: generate the pages' sources, then run Sphinx on them.

The sources are written to a folder beside the output (``<out>.sources``): the hand-written MyST
pages of ``docs/source/``, the gallery scripts of ``docs/gallery/`` and the pages and snippets
generated from the code's own objects (``docs/pages/``). Sphinx (configured by ``docs/conf.py``)
turns them into HTML in ``<out>``. Both folders carry the build's marker (:data:`MARKER`): a
folder there that holds anything and not the marker is someone else's, and the build refuses it
before writing anything (:func:`claim`); only a marked sources folder is ever deleted. The build
never fails because another package is missing or
not finished: a page or figure that cannot be produced says why on the page and in the notes.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import BuildConfig
from .myst import note, page
from .pages import reference, results, simulator, theory, usage
from .project import FORMS, PSIS, UserError, registered

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source"
GALLERY = HERE / "gallery"
EXPERIMENT_OUTPUTS: tuple[Path, ...] = (Path("runs/experiment"),)
"""Where ``python -m llm.experiment`` writes by default; included in the build when present."""


MARKER = ".upo-docs"
"""The empty file that makes a folder one ``python -m docs`` wrote (the site, its sources)."""


class OutputError(UserError):
    """An output folder that holds what the build did not write."""


def ours(folder: Path) -> bool:
    """Whether ``folder`` is a folder holding the build's :data:`MARKER` (not a link)."""
    marker = folder / MARKER
    return folder.is_dir() and marker.is_file() and not marker.is_symlink()


def claim(folder: Path, option: str, link: bool = True) -> None:
    """Raise :class:`OutputError` unless ``folder`` is absent, empty or :func:`ours`; a link to
    a folder is taken only with ``link`` (``--out`` itself: the user's choice, not the sources
    folder, which the build deletes)."""
    usable = folder.is_dir() and (link or not folder.is_symlink())
    if os.path.lexists(folder) and not usable:
        raise OutputError(f"{option} {folder} is a link or a file, not a folder the docs build "
                          "wrote; nothing was written: give another --out")
    if folder.is_dir() and not ours(folder) and any(folder.iterdir()):
        held = sorted(p.name for p in folder.iterdir())
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise OutputError(f"{option} {folder} holds {shown} and no {MARKER}, so the docs build "
                          "did not write it; nothing was written or deleted: give another "
                          "--out, or empty that folder")


def _mark(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MARKER).is_file():
        (folder / MARKER).touch()


class SphinxError(UserError):
    """Sphinx stopped with an error, or logged a warning (each is an error): one line naming
    the log that holds them, never a traceback."""


@dataclass
class BuildReport:
    """What a build wrote: the HTML pages, notes on anything skipped, the time taken."""

    out: Path
    pages: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sources_folder(out: Path) -> Path:
    """Where the build writes the sources Sphinx reads, beside the output folder."""
    return out.parent / f"{out.name}.sources"


def drawn(script: str, plots: str) -> bool:
    """Whether the gallery script ``script`` runs in a build with ``plots`` (all, fast, none)."""
    from .conf import SLOW_EXAMPLES

    return plots == "all" or (plots == "fast" and script not in SLOW_EXAMPLES)


def figure(script: str, plots: str, caption: str, alt: str, number: int = 1) -> str:
    """A figure drawn by the gallery script ``script`` (its ``number``-th image), captioned and
    linked to the script; or a note that this build did not draw it."""
    code = f"{{doc}}`the script that draws it </gallery/{script}>`"
    if not drawn(script, plots):
        why = "--fast" if plots == "fast" else "--no-plots"
        return note(f"This figure is not in this build (built with `{why}`); see {code}.")
    return (f"```{{figure}} /gallery/images/sphx_glr_{script}_{number:03d}.png\n"
            f":alt: {alt}\n\n{caption} ({code}; click to open it at full size)\n```\n\n")


def build(config: BuildConfig, log: Callable[[str], None] | None = None) -> BuildReport:
    """Generate the sources and build the site into ``config.out``; return what was written."""
    start = time.perf_counter()
    report = BuildReport(config.out)

    def say(text: str) -> None:
        report.notes.append(text)
        if log is not None:
            log(text)

    src = sources_folder(config.out)
    claim(config.out, "--out")
    claim(src, f"--out {config.out}: its sources folder", link=False)
    _mark(config.out)
    if src.exists():  # ours (claimed): a build's sources are made anew
        shutil.rmtree(src)
    shutil.copytree(SOURCE, src)
    _mark(src)
    shutil.copytree(GALLERY, src / "examples")
    generate(src, config, say)
    _sphinx(src, config.out, config.plots)
    report.pages = sorted(p for p in config.out.rglob("*.html")
                          if not p.relative_to(config.out).parts[0].startswith("_"))
    report.seconds = time.perf_counter() - start
    return report


def generate(src: Path, config: BuildConfig, say: Callable[[str], None]) -> None:
    """Write the generated pages and the snippets the hand-written pages include."""
    snippets = src / "_generated"
    snippets.mkdir(parents=True, exist_ok=True)

    def write(name: str, text: str) -> None:
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    plots = config.plots
    verified, missing = _claims(say)
    write("divergences/index.md", theory.overview(
        figure("plot_generators", plots, "**Generators and their derivatives**: $f$ and $f'$ "
               "of every registered divergence against the ratio $u = \\pi/\\pi_{\\mathrm{ref}}$.",
               "Two line plots of f(u) and f'(u) for every divergence, on a log axis of u.")
        + figure("plot_reward", plots, "**The implicit reward** $\\beta f'(u)$ of Theorem 3.1 "
                 "(eq. 12) for $\\beta$ = 0.1, 0.2, 0.5; dashed: its ceiling $\\beta \\sup f'$.",
                 "A grid of line plots, one per divergence, three curves for three betas.")))
    for div in registered():
        write(f"{theory.docname(div)}.md", theory.divergence_page(div, verified))
    proof = (src / "_snippets" / "central-proof.md").read_text(encoding="utf-8")
    write("_generated/js-forms.md", theory.js_forms())
    write("claims.md", theory.claims_page(verified, missing, proof))
    write("_generated/finding.md", theory.finding(verified))
    measured = _simulator(say)
    for topic, text in measured.items():
        write(f"_generated/sim-{topic}.md", text)
    for name, script, caption, alt, number in _FIGURES:
        write(f"_generated/fig-{name}.md", figure(script, plots, caption, alt, number))
    write("_generated/readme.md", usage.readme_quotes(say))
    write("_generated/trl.md", usage.trl_section(say))
    write("_generated/run-folder.md", usage.run_folder_section(say))
    write("_generated/options.md", usage.options_table(FORMS, PSIS))
    write("_generated/choices.md", usage.divergence_choices())
    write("use/data.md", page("Data formats", (src / "_snippets" / "data-intro.md").read_text(
        encoding="utf-8") + usage.data_formats(say), "data"))
    write("reference/cli.md", reference.cli_page(say))
    reference.api_pages(src / "api", say)
    runs = list(config.runs) + [p for p in EXPERIMENT_OUTPUTS if p.is_dir()]
    write("results/index.md", results.results_page(src / "results", runs, say))
    write("results/study.md", results.study_page(src / "results", say))


_FIGURES: tuple[tuple[str, str, str, str, int], ...] = (
    ("js-statistics", "plot_js_statistics",
     "**The two JS-IUPO pair statistics** over $(\\pi(y_w), \\pi(y_l))$ with "
     "$\\pi_{\\mathrm{ref}}(y_w) = 0.3$, $\\pi_{\\mathrm{ref}}(y_l) = 0.2$ (the star); black "
     "lines: the targets $1/(2\\beta)$ for $\\beta$ = 2, 1, 0.5.",
     "Two heat maps over the triangle of valid probability pairs; the paper form (left) stays "
     "below 0.51, the per-response form (right) crosses every level line.", 1),
    ("bandit-policies", "plot_bandit_policies",
     "**Policies on the default problem** ($f$ = JS): $\\pi_{\\mathrm{ref}}$, the optimum "
     "$\\pi^*$ and the policy each loss trains to.",
     "Grouped bar chart over four actions; the per-response IUPO bars match the optimum's.", 1),
    ("bandit-tv-beta", "plot_bandit_sweep",
     "**Distance to the optimum across $\\beta$** ($f$ = JS); below the dotted line the "
     "minimiser is the optimum.",
     "Line plot on log-log axes of distance against beta, one line per loss.", 1),
    ("bandit-beta", "plot_bandit_sweep",
     "**The policies across $\\beta$**: $\\pi^*(y)$ and each loss's minimiser for the four "
     "actions, one panel per policy ($f$ = JS).",
     "Six small line plots of probability against beta, one line per action.", 2),
    ("bandit-training", "plot_bandit_training",
     "**Gradient training**: the loss above its minimum (left) and the distance to the loss's "
     "own optimum (right) along the steps.",
     "Two decreasing line plots on log scales against the training step.", 1),
    ("bandit-azar", "plot_bandit_azar",
     "**Azar et al.'s scenario at $\\beta = 0.5$**: DPO becomes deterministic, IPO converges "
     "to the closed form.",
     "Grouped bar chart over three actions: DPO puts almost all mass on the first.", 1),
)
"""Figures shown on hand-written pages: snippet name, gallery script, caption, alt, image."""


def _claims(say: Callable[[str], None]) -> tuple[list | None, str]:
    try:
        from .project import verify_all

        return verify_all(), ""
    except Exception as err:  # reported on the page, never fatal
        why = f"{type(err).__name__}: {err}"
        say(f"claims: skipped ({why})")
        return None, why


def _simulator(say: Callable[[str], None]) -> dict[str, str]:
    try:
        return simulator.measure()
    except Exception as err:  # another package's failure is reported, never fatal
        why = f"{type(err).__name__}: {err}"
        say(f"simulator: skipped ({why})")
        missing = note(f"The simulator's results are not in this build (`{why}`).", "warning")
        return dict.fromkeys(("table", "forms", "pearson", "azar"), missing)


def _sphinx(src: Path, out: Path, plots: str) -> None:
    """Run Sphinx with every warning an error (``-W``; ``--keep-going`` to list them all)."""
    from sphinx.cmd.build import build_main

    os.environ["UPO_DOCS_PLOTS"] = plots
    warnings = src / "sphinx-warnings.log"
    args = ["-b", "html", "-q", "-E", "-W", "--keep-going", "-c", str(HERE),
            "-d", str(src / ".doctrees"), "-w", str(warnings), str(src), str(out)]
    status = build_main(args)
    found = [line for line in warnings.read_text().splitlines() if "WARNING" in line
             or "ERROR" in line] if warnings.is_file() else []
    if status != 0 or found:
        shown = "; ".join(found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3
                                          else "")
        raise SphinxError(f"Sphinx failed to build {src} into {out} with {len(found)} "
                          f"warning(s), each an error; all are in {warnings}: {shown}")
