"""Files every page needs besides its HTML: the stylesheet and the math font with its licence.

The math font is STIX Two Math (SIL Open Font License 1.1), an OpenType font with a MATH table,
so that browsers typeset MathML with it: stretchy brackets, large operators with their limits,
radicals. It comes from the ``ziamath`` package on PyPI (the ``docs`` extra), which carries it,
and is copied into every built site, so no page depends on the fonts of the reader's machine or on
the network. Its licence (``docs/fonts/OFL.txt``) is copied beside it.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

from upo_theory import UserError

HERE = Path(__file__).parent
STYLE = HERE / "style.css"
FONT_LICENCE = HERE / "fonts" / "OFL.txt"
FONT_NAME = "STIXTwoMath-Regular.ttf"
FONT_FILE = f"fonts/{FONT_NAME}"
"""Where the math font lies in the built site (``style.css`` and every page point here)."""
FONT_FAMILY = "STIX Two Math"


class MissingDependency(UserError):
    """A package of the ``docs`` extra is not installed."""


DEPENDENCIES: dict[str, str] = {
    "markdown_it": "markdown-it-py",
    "numpydoc": "numpydoc", "docutils": "docutils", "ziamath": "ziamath",
}
"""The ``docs`` extra's packages the build imports, by module name."""


def check_dependencies() -> None:
    """Raise :class:`MissingDependency` (one line, naming the fix) if the docs extra is absent."""
    missing = [package for module, package in DEPENDENCIES.items() if find_spec(module) is None]
    if missing:
        raise MissingDependency(f"{', '.join(missing)} not installed; install the docs extra: "
                                "pip install -e '.[docs]'")
    math_font()


def math_font() -> Path:
    """The STIX Two Math font file carried by the ``ziamath`` package (found without importing
    ziamath, which would load its own renderer)."""
    spec = find_spec("ziamath")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(
            "the math font comes from the ziamath package; install the docs extra: "
            "pip install -e '.[docs]'")
    font = Path(next(iter(spec.submodule_search_locations))) / "fonts" / FONT_NAME
    if not font.is_file():
        raise MissingDependency(f"ziamath carries no {font.name}; reinstall it: "
                                "pip install --force-reinstall ziamath")
    return font


def copy_assets(out: Path) -> list[Path]:
    """Copy the stylesheet, the math font and its licence into the site ``out``."""
    targets = [out / "style.css", out / FONT_FILE, out / "fonts" / "OFL.txt"]
    targets[1].parent.mkdir(parents=True, exist_ok=True)
    for source, target in zip((STYLE, math_font(), FONT_LICENCE), targets, strict=True):
        shutil.copyfile(source, target)
    return targets
