"""``python -m docs``: build the documentation site (static HTML, offline) into a folder.

Exits 2 with a one-line message on a bad option, an output folder that cannot be written, or a
missing package of the ``docs`` extra.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from upo_theory import config_parser, parse_config, run_cli

from .assets import check_dependencies
from .config import BuildConfig

PROG = "python -m docs"


def build_parser():
    """The command line of ``python -m docs``, one option per :class:`BuildConfig` field."""
    return config_parser(BuildConfig, prog=PROG,
                         description="Build the upo documentation (static HTML with MathML, "
                                     "offline).")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(BuildConfig, argv, build_parser())

    def work() -> int:
        check_dependencies()
        from .build import build

        report = build(config, log=lambda text: tqdm.write(f"note: {text}"))
        print(f"wrote {len(report.pages)} pages and {len(report.figures.paths)} figures to "
              f"{report.out} in {report.seconds:.1f} s; open {report.out / 'index.html'}")
        return 0

    return run_cli(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
