"""``python -m docs.screenshot``: render built pages in headless Chromium and save PNGs.

Uses Debian's ``chromium`` (installed with apt-get when missing and the user is root), offline:
background networking, component updates, sync and QUIC are off, and each page is a local file.

    python -m docs.screenshot [--site build/docs] [--out build/screenshots] [PAGE.html ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from upo_theory import UserError, config_parser, parse_config, run_cli

PROG = "python -m docs.screenshot"
FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


class ScreenshotError(UserError):
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


@dataclass(frozen=True)
class ScreenshotConfig:
    """The options of ``python -m docs.screenshot``."""

    pages: tuple[str, ...] = field(default=(), metadata={
        "help": "page file names (default: every page)", "positional": True})
    site: Path = field(default=Path("build/docs"), metadata={"help": "the built site"})
    out: Path = field(default=Path("build/screenshots"), metadata={"help": "folder for the PNGs"})
    width: int = field(default=1280, metadata={"help": "window width in pixels"})
    height: int = field(default=2000, metadata={"help": "window height in pixels"})


def build_parser():
    """The command line of ``python -m docs.screenshot``."""
    return config_parser(ScreenshotConfig, prog=PROG,
                         description="Screenshot built pages in headless Chromium.")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ScreenshotConfig, argv, build_parser())
    return run_cli(PROG, lambda: screenshot_site(config))


def screenshot_site(config: ScreenshotConfig) -> int:
    """Screenshot the pages ``config`` names (every page by default) into ``config.out``."""
    if not config.site.is_dir():
        raise ScreenshotError(f"--site {config.site} does not exist; build it with python -m docs")
    pages = [config.site / p for p in config.pages] or sorted(config.site.glob("*.html"))
    browser = chromium()
    for page in tqdm(pages, desc="screenshots", unit="page"):
        path = screenshot(page, config.out / f"{page.stem}.png", config.width, config.height,
                          browser)
        tqdm.write(str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
