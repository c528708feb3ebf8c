"""The home page and "Getting started", which quotes the README's quick start at build time so
the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from .. import markdown
from ..html import code_block, esc, note
from ..site import Page
from .use import REPO_PAGES

README = Path(__file__).resolve().parents[2] / "README.md"
QUOTED_SECTIONS: tuple[str, ...] = ("Quick start", "A tour of the entry points")


def home_page(cards: list[tuple[str, str, str]]) -> Page:
    """The index: what the toolkit is, and a card per page (path, title, summary)."""
    grid = "".join(
        f'<div class="card"><h3><a href="{esc(path)}">{esc(title)}</a></h3><p>{summary}</p></div>'
        for path, title, summary in cards
    )
    body = (
        "<p><strong>upo</strong> makes the theory of UPO and IUPO — IPO generalised from the "
        "KL divergence to f-divergences — checkable. <code>upo_theory</code> derives "
        "everything from a generator f with SymPy and checks the paper's claims, each within "
        "the scope the paper states, and further statements beyond the paper; "
        "<code>sim</code> solves the UPO optimum of tabular bandits exactly and trains "
        "policies on each loss; <code>llm</code> trains GPT-2 with the same losses. Every "
        "formula, table and plot on this site is generated from those packages' own objects "
        "when the site is built (<code>python -m docs</code>), so what it shows is what was "
        "checked.</p>"
        '<p>New here? Start with <a href="getting-started.html">Getting started</a>, then '
        '<a href="math.html">the mathematics</a>.</p>'
        f'<div class="cards">{grid}</div>'
    )
    return Page("index.html", "upo: UPO and IUPO made checkable", "Start", body)


def getting_started_page(readme: Path = README) -> Page:
    """The README's quick start and tour of the entry points, quoted when the site is built."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    quoted = []
    for title in QUOTED_SECTIONS:
        section = markdown.section(text, title)
        quoted.append(
            f"<h2>{esc(title)}</h2>"
            + (markdown.to_html(section, shift=1, pages=REPO_PAGES) if section and section.strip()
               else note(f"The README has no “{esc(title)}” section.", "warn"))
        )
    body = (
        "<p>The two sections below are quoted from the project's README when this site is "
        "built, so they cannot drift from it.</p>"
        + "".join(quoted)
        + "<h2>This documentation</h2>"
        + code_block("python -m docs                  # build into build/docs/\n"
                     "python -m docs --fast           # skip the slow simulator plots\n"
                     "python -m docs --runs RUN_DIR   # add the curves of training runs\n"
                     "python -m docs.screenshot       # full-page PNGs in headless Chromium",
                     "sh")
        + "<p>Building needs the <code>docs</code> extra (<code>pip install -e '.[docs]'</code>"
        "): markdown-it-py, numpydoc, docutils, ziamath (which carries the math font) and "
        "Playwright; screenshots and the browser test also need Chromium "
        "(<code>apt-get install chromium</code> on Debian).</p>"
        + "<p>The site is static and offline: open <code>build/docs/index.html</code> in a "
        "browser. Mathematics is MathML, which current browsers render without any script "
        "or network access, set in STIX Two Math, a font that ships with the site "
        '(<a href="fonts/OFL.txt">SIL Open Font License 1.1</a>). Every command\'s options '
        'are in the <a href="cli.html">CLI reference</a>.</p>'
        "<h2>Where to go next</h2><ul>"
        '<li><a href="use-loop.html">The loss in your code</a>: a training loop with '
        "<code>preference_loss</code>, and TRL.</li>"
        '<li><a href="use-data.html">Data formats</a> and '
        '<a href="use-runs.html">run folders and metrics</a>.</li>'
        '<li><a href="math.html">The mathematics</a>: notation, Theorem 3.1, the loss family.'
        "</li>"
        '<li><a href="walkthrough.html">Derivation walk-through</a>: from the objective to '
        "the IUPO loss, and its two forms.</li>"
        '<li><a href="divergences.html">Divergences</a>: what SymPy derived for each f.</li>'
        '<li><a href="claims.html">Verification report</a>: each claim proven or refuted.</li>'
        '<li><a href="bandit.html">Bandit simulator</a> and '
        '<a href="results.html">Experiments</a>: what was measured.</li></ul>'
    )
    return Page("getting-started.html", "Getting started", "Start", body,
                "the README's quick start and tour of the commands")
