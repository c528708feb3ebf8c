"""Sphinx configuration of the upo documentation (``python -m docs`` builds it).

The sources Sphinx reads are generated into a folder beside the output by :mod:`docs.build`: the
hand-written MyST pages of ``docs/source/`` plus the pages generated from the code's own objects.
The gallery scripts of ``docs/gallery/`` run at build time (sphinx-gallery); ``UPO_DOCS_PLOTS``
(``all``, ``fast`` or ``none``, set by ``python -m docs``) says which of them run.
"""

from __future__ import annotations

import os
import re
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path

from docs.scraper import PNGScraper

HERE = Path(__file__).resolve().parent

project = "upo"
author = "the upo authors"
copyright = "the upo authors, MIT licence"
try:
    release = _version("upo")
except PackageNotFoundError:  # a checkout that was not installed
    release = "0.1.0"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "numpydoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "sphinx-mathjax-offline",  # MathJax 3 with its fonts, copied into the site: no CDN
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["examples/**", "_snippets/**", "_generated/**", ".doctrees/**"]
default_role = "py:obj"
nitpicky = False
suppress_warnings = ["myst.header", "myst.xref_missing", "ref.python", "config.cache",
                     "toc.not_included"]

# MyST: $...$ and $$...$$ LaTeX, tables, definition lists; headings get anchors to link to.
myst_enable_extensions = ["dollarmath", "amsmath", "deflist", "colon_fence", "attrs_inline",
                          "attrs_block"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# autodoc + numpydoc: the API reference from the docstrings.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# MathJax (bundled by sphinx-mathjax-offline): the paper's equation numbers are written with
# \tag{..}; nothing is numbered automatically.
mathjax3_config = {
    "tex": {"tags": "none"},
    "options": {"enableMenu": False},
    "chtml": {"displayOverflow": "linebreak"},
}

html_theme = "furo"
html_title = f"upo {release}"
html_static_path = [str(HERE / "static")]
html_css_files = ["upo.css"]
html_js_files = ["upo.js"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
pygments_style = "friendly"
pygments_dark_style = "monokai"
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}

copybutton_prompt_text = r"\$ |>>> "
copybutton_prompt_is_regexp = True

# The gallery: runnable scripts whose figures are drawn while the site is built.
PLOTS = os.environ.get("UPO_DOCS_PLOTS", "all")
SLOW_EXAMPLES = ("plot_bandit_sweep", "plot_bandit_training")
"""Gallery scripts that ``--fast`` leaves unrun (the simulator's training and β sweep)."""


sphinx_gallery_conf = {
    "examples_dirs": "examples",  # docs/gallery, copied beside the sources by docs.build
    "gallery_dirs": "gallery",
    "filename_pattern": (r"/plot_(?!" + "|".join(re.escape(s.removeprefix("plot_"))
                                                 for s in SLOW_EXAMPLES) + ")"
                         if PLOTS == "fast" else r"/plot_"),
    "plot_gallery": "False" if PLOTS == "none" else "True",
    "image_scrapers": (PNGScraper(),),  # docs/scraper.py
    "only_warn_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 3600,
    "capture_repr": (),
    "matplotlib_animations": False,
    "write_computation_times": False,  # its page loads a table script from a CDN
}


def _escape_bars(app, what, name, obj, options, lines) -> None:
    """Docstrings write |t| for an absolute value; in reST that is a substitution. Escape the
    bars of every line that is not a table row, so the text shows as written."""
    for i, line in enumerate(lines):
        if "|" in line and not line.lstrip().startswith(("|", "+")):
            lines[i] = re.sub(r"(?<!\\)\|", r"\\|", line)


def setup(app) -> None:
    app.connect("autodoc-process-docstring", _escape_bars)
