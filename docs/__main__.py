"""``python -m docs``: build the documentation site (static HTML, offline) into a folder.

Exits 2 with a one-line message on a bad option.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .build import BuildConfig, BuildError, build


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m docs``."""
    parser = argparse.ArgumentParser(
        prog="python -m docs",
        description="Build the upo documentation (static HTML with MathML, offline).",
    )
    parser.add_argument("--out", type=Path, default=Path("build/docs"),
                        help="output folder (default: %(default)s)")
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument("--fast", dest="plots", action="store_const", const="fast",
                       help="skip the slow simulator training plots")
    plots.add_argument("--no-plots", dest="plots", action="store_const", const="none",
                       help="draw no figure at all")
    parser.add_argument("--runs", type=Path, nargs="+", default=[], metavar="DIR",
                        help="run folders of llm.train (or folders holding them) to plot")
    parser.set_defaults(plots="all")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = BuildConfig(out=args.out, plots=args.plots, runs=tuple(args.runs))
    except BuildError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    report = build(config, log=lambda text: tqdm.write(f"note: {text}"))
    print(f"wrote {len(report.pages)} pages and {len(report.figures.paths)} figures to "
          f"{report.out} in {report.seconds:.1f} s; open {report.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
