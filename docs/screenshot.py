"""``python -m docs.screenshot``: render built pages in headless Chromium and save PNGs.

Uses Debian's ``chromium`` (installed with apt-get when missing and the user is root), offline:
background networking, component updates, sync and QUIC are off, and each page is a local file.

    python -m docs.screenshot [--site build/docs] [--out build/screenshots] [PAGE.html ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


class ScreenshotError(RuntimeError):
    """No browser, or a page that does not exist."""


def chromium(install: bool = True) -> str:
    """The path of the Chromium binary, installing Debian's package when missing (as root)."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    if install and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if found := shutil.which("chromium"):
            return found
    raise ScreenshotError("chromium not found; install it with: apt-get install -y chromium")


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 2000,
               browser: str | None = None, timeout: float = 60.0) -> Path:
    """Render ``page`` (an HTML file) at ``width`` × ``height`` and save a PNG at ``out``."""
    if not page.is_file():
        raise ScreenshotError(f"{page} does not exist; build the site first (python -m docs)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upo-chromium-") as profile:
        command = [browser or chromium(), *FLAGS, f"--user-data-dir={profile}",
                   f"--screenshot={out.resolve()}", f"--window-size={width},{height}",
                   page.resolve().as_uri()]
        subprocess.run(command, check=False, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not out.is_file():
        raise ScreenshotError(f"chromium wrote no screenshot for {page}")
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m docs.screenshot``."""
    parser = argparse.ArgumentParser(prog="python -m docs.screenshot",
                                     description="Screenshot built pages in headless Chromium.")
    parser.add_argument("pages", nargs="*", help="page file names (default: every page)")
    parser.add_argument("--site", type=Path, default=Path("build/docs"),
                        help="the built site (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/screenshots"),
                        help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--width", type=int, default=1280, help="window width in pixels")
    parser.add_argument("--height", type=int, default=2000, help="window height in pixels")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.site.is_dir():
        parser.exit(2, f"{parser.prog}: error: --site {args.site} does not exist; "
                       "build it with python -m docs\n")
    pages = [args.site / p for p in args.pages] or sorted(args.site.glob("*.html"))
    try:
        browser = chromium()
        for page in tqdm(pages, desc="screenshots", unit="page"):
            path = screenshot(page, args.out / f"{page.stem}.png", args.width, args.height,
                              browser)
            tqdm.write(str(path))
    except ScreenshotError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
