"""Sphinx configuration of the upo documentation (``python -m docs`` builds it).

The sources Sphinx reads are generated into a folder beside the output by :mod:`docs.build`: the
hand-written MyST pages of ``docs/source/`` plus the pages generated from the code's own objects.
The gallery scripts of ``docs/gallery/`` run at build time (sphinx-gallery); ``UPO_DOCS_PLOTS``
(``all``, ``fast`` or ``none``, set by ``python -m docs``) says which of them run.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import warnings
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from importlib.util import find_spec
from pathlib import Path, PurePath

from docs import inventories as _inventories
from docs.project import OPTIONAL_IMPORTS
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
    "sphinx.ext.intersphinx",
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
# Every reference must resolve and every warning fails the build (docs.build runs Sphinx with
# -W): a docstring naming a function that moved shows up here, not as dead text on the site.
nitpicky = True
nitpick_ignore = [
    # type variables of generic helpers: a name in a signature, not an object with a page
    ("py:class", "upo_theory.budget.R"), ("py:class", "upo_theory.cli.C"),
    ("py:class", "upo_theory.verdicts.F"),
]

# Other projects' documentation, through the inventories shipped in docs/inventories/ (the
# build reads no network; docs/inventories.py lists the names and writes the files).
intersphinx_mapping = _inventories.mapping()
intersphinx_timeout = 1

# trl is not in the docs extra: llm.trl's page is built from its docstrings either way.
autodoc_mock_imports = [m for m in OPTIONAL_IMPORTS if find_spec(m) is None]

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
# autodoc shows numpydoc the SymPy classes a module imports (then leaves them off the page);
# SymPy's own docstrings have sections numpydoc does not know. Only that message, only SymPy's.
warnings.filterwarnings("ignore", message=r"Unknown section \w+ in the docstring of \w+ in "
                        r".*[/\\]sympy[/\\]", category=UserWarning)

# MathJax 3 (bundled by sphinx-mathjax-offline): the paper's equation numbers are written with
# \tag{..}; nothing is numbered automatically. A wide display scrolls sideways (upo.css):
# MathJax 3 has no line breaking (its 4's "displayOverflow" would warn on every page).
mathjax3_config = {
    "tex": {"tags": "none"},
    "options": {"enableMenu": False},
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


_LITERAL = re.compile(r"``.+?``|:[a-z:]+:`[^`]*`|`[^`]*`", re.S)


def _escape_bars(app, what, name, obj, options, lines) -> None:
    """Docstrings write |t| for an absolute value; in reST that is a substitution. Escape the
    bars outside literals and roles (where a backslash would show; a literal may run over two
    lines) and outside table rows, so the text shows as written."""
    text = "\n".join(lines)
    kept = [m.span() for m in _LITERAL.finditer(text)]
    out, start = [], 0
    for begin, end in [*kept, (len(text), len(text))]:
        part = text[start:begin].split("\n")
        out.append("\n".join(
            line if line.lstrip().startswith(("|", "+")) and (i > 0 or start == 0)
            else re.sub(r"(?<!\\)\|", r"\\|", line) for i, line in enumerate(part)))
        out.append(text[begin:end])
        start = end
    lines[:] = "".join(out).split("\n")


def _lookup(name: str) -> object:
    """The object ``name`` (a dotted path) names in the code, or :data:`_MISSING`."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # not a module: try a shorter prefix
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return _MISSING
        return obj
    return _MISSING


_MISSING = object()


def _resolve(app, env, node, contnode):
    """Resolve a Python reference the way Python resolves the name: relative to the object
    whose docstring holds it and the modules and classes around it, then through re-exports
    (``upo_theory.derive`` is documented where it is defined, ``upo_theory.derivation.derive``);
    a name no scope holds links to the one documented object of its package with that name.
    A name that exists in the code but has no entry (a private helper, an undocumented
    constant) is shown as code without a link; a name that exists nowhere stays a warning,
    which fails the build."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    domain = env.get_domain("py")
    for scope in _scopes(node):
        obj = _lookup(scope + target)
        if obj is _MISSING:
            continue
        for name in _documented(domain, scope + target, obj):
            found = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", name, node,
                                        contnode)
            if found is not None:
                return found
        return contnode
    package = (node.get("py:module") or node["refdoc"].removeprefix("api/")).split(".")[0]
    same = [entry for entry in domain.objects if entry.endswith("." + target)
            and entry.split(".")[0] == package]
    if len(same) == 1:
        return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", same[0], node,
                                   contnode)
    return None


def _scopes(node) -> list[str]:
    """The dotted prefixes a name in ``node`` may be relative to, innermost first."""
    module, cls = node.get("py:module"), node.get("py:class")
    holder = re.search(r"docstring of ([\w.]+)", node.source or "")
    scopes = []
    if holder:  # the documented object, then each object and module around it
        parts = holder.group(1).split(".")
        scopes += [".".join(parts[:cut]) + "." for cut in range(len(parts), 0, -1)]
    if module and cls:
        scopes.append(f"{module}.{cls}.")
    if module:
        scopes.append(f"{module}.")
    return list(dict.fromkeys([*scopes, ""]))


def _documented(domain, name: str, obj: object) -> list[str]:
    """The names under which ``obj`` has an API entry, ``name`` first."""
    names = [name]
    qualname = getattr(obj, "__qualname__", None)
    if getattr(obj, "__module__", None) and qualname:
        names.append(f"{obj.__module__}.{qualname}")
    if isinstance(obj, type(importlib)):
        names.append(obj.__name__)
    last = name.rsplit(".", 1)[-1]
    names += [entry for entry in domain.objects if entry.endswith("." + last)
              and entry not in names and _lookup(entry) is obj]
    return names


_REPRS = (
    (re.compile(r"<factory>"), "..."),  # a dataclass field's default_factory
    (re.compile(r"\b(?:Posix|Windows)Path\("), "Path("),
    (re.compile(r"<class '([\w.]+)'>"), r"\1"),
    (re.compile(r"<function ([\w.]+) at 0x[0-9a-f]+>"), r"\1"),
    (re.compile(r"<([\w.]+): [^>]*>"), r"\1"),  # an enum member
)


def _readable_signature(app, what, name, obj, options, signature, return_annotation):
    """A signature's defaults as Python would be written, not as repr() prints them
    (``Path('curves.png')``, not ``PosixPath('curves.png')``; a dataclass field with a factory
    as ``...``), so that the signature parses and reads as code."""
    if not signature:
        return None
    for pattern, text in _REPRS:
        signature = pattern.sub(text, signature)
    return signature, return_annotation


def _as_code(describe):
    """Sphinx's ``object_description`` (the text of an attribute's value), printing a path, a
    class or a function as code that makes it, not as its repr."""
    def described(obj, *args, **kwargs):
        if isinstance(obj, PurePath):
            return f"Path({str(obj)!r})"
        if isinstance(obj, type) or inspect.isfunction(obj):
            return f"{obj.__module__}.{obj.__qualname__}"
        return describe(obj, *args, **kwargs)

    described.upo = True
    return described


def setup(app) -> None:
    import sphinx.util.inspect

    if not getattr(sphinx.util.inspect.object_description, "upo", False):
        sphinx.util.inspect.object_description = _as_code(
            sphinx.util.inspect.object_description)
    app.connect("autodoc-process-docstring", _escape_bars)
    app.connect("autodoc-process-signature", _readable_signature)
    app.connect("missing-reference", _resolve, priority=900)
