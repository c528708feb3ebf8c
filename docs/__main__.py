"""``python -m docs``: build the documentation site (Sphinx, static HTML, offline) into a folder.

Exits 2 with a one-line message on a bad option, an output folder that cannot be written, or a
missing package of the ``docs`` extra.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

from .config import BuildConfig
from .project import UserError, config_parser, parse_config, run_cli

PROG = "python -m docs"
DEPENDENCIES: dict[str, str] = {
    "sphinx": "sphinx", "furo": "furo", "myst_parser": "myst-parser", "numpydoc": "numpydoc",
    "sphinx_gallery": "sphinx-gallery", "sphinx_copybutton": "sphinx-copybutton",
    "sphinx-mathjax-offline": "sphinx-mathjax-offline",
}
"""The ``docs`` extra's packages the build imports, by module name."""


class MissingDependency(UserError):
    """A package of the ``docs`` extra is not installed."""


def check_dependencies() -> None:
    """Raise :class:`MissingDependency` (one line, naming the fix) if the docs extra is absent."""
    missing = [package for module, package in DEPENDENCIES.items() if find_spec(module) is None]
    if missing:
        raise MissingDependency(f"{', '.join(missing)} not installed; install the docs extra: "
                                "pip install -e '.[docs]'")


def build_parser():
    """The command line of ``python -m docs``, one option per :class:`BuildConfig` field."""
    return config_parser(BuildConfig, prog=PROG,
                         description="Build the upo documentation (Sphinx, static HTML with "
                                     "MathJax, offline).")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(BuildConfig, argv, build_parser())

    def work() -> int:
        check_dependencies()
        from .build import build

        report = build(config, log=lambda text: print(f"note: {text}", file=sys.stderr))
        print(f"wrote {len(report.pages)} pages to {report.out} in {report.seconds:.1f} s; "
              f"open {report.out / 'index.html'}")
        return 0

    return run_cli(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
