"""``python -m docs.screenshot``: render built pages in headless Chromium and save full-page PNGs.

Playwright drives Debian's ``chromium`` (installed with apt-get when missing and the user is
root), offline: background networking, component updates, sync and QUIC are off, and the pages
are served from the built folder on 127.0.0.1, as a reader's browser would load them. Each page
is captured whole (Playwright's full-page screenshot), at each width asked for::

    python -m docs.screenshot [--site build/docs] [--out build/screenshots] [--widths 1280 390]
                              [PAGE.html ...]

:func:`inspect_page` is what the browser test checks on every page: the document's width against
the window's, its visible text outside code and formulas, whether MathJax typeset every
formula, and every request the page made.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .project import UserError, config_parser, parse_config, run_cli

PROG = "python -m docs.screenshot"
FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)
HEIGHT = 900
"""The window's height; screenshots are of the whole page, whatever its length."""


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


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) for the duration; yields its base address."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def browser(executable: str | None = None) -> Iterator[Any]:
    """A headless Chromium driven by Playwright, with an empty profile, closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise ScreenshotError("playwright is not installed; install the docs extra: "
                              "pip install -e '.[docs]'") from err
    path = executable or chromium()
    with tempfile.TemporaryDirectory(prefix="upo-chromium-") as profile, \
            sync_playwright() as play:
        context = play.chromium.launch_persistent_context(
            profile, executable_path=path, args=list(FLAGS), headless=True)
        try:
            yield context
        finally:
            context.close()


_REPORT = """() => {
    const hidden = 'pre, code, kbd, samp, script, style, mjx-container, .MathJax, '
        + '.sphx-glr-script-out';
    const article = document.querySelector('article') || document.body;
    const copy = article.cloneNode(true);
    copy.querySelectorAll(hidden).forEach(e => e.remove());
    return {
        scroll_width: document.documentElement.scrollWidth,
        text: copy.innerText,
        code: [...article.querySelectorAll('code')]
            .filter(e => !e.closest('pre, .terminal-text')).map(e => e.textContent),
        math: document.querySelectorAll('.math').length,
        typeset: document.querySelectorAll('.math mjx-container, mjx-container.MathJax').length,
        unrendered: [...document.querySelectorAll('span.math, div.math')]
            .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
        errors: [...document.querySelectorAll('mjx-merror, .problematic, .system-message')]
            .map(e => e.textContent.slice(0, 80)),
        unlinked_images: [...article.querySelectorAll('img:not(.sphx-glr-thumbcontainer img)')]
            .filter(img => !img.closest('a[href]')).map(img => img.getAttribute('src')),
        wide_tables: [...article.querySelectorAll('.table-wrapper')]
            .filter(box => box.scrollWidth > box.clientWidth + 1).map(box => ({
                hint: !!(box.previousElementSibling && !box.previousElementSibling.hidden
                         && box.previousElementSibling.classList.contains('scroll-hint')),
            })),
    };
}"""


def inspect_page(context: Any, url: str, width: int, shot: Path | None = None) -> dict:
    """Load ``url`` at ``width`` px, wait for MathJax to typeset, and report ``scroll_width``,
    the page's visible ``text`` outside code and formulas, ``code`` (its inline code spans, less
    a table quoting the terminal's text, ``.terminal-text``), ``math`` (its formulas),
    ``unrendered`` (formulas MathJax left as source), ``errors`` (MathJax or reST errors),
    ``unlinked_images`` (figures that do not open at full size), ``wide_tables`` (tables wider
    than the page, each saying whether its scroll hint shows) and the ``requests`` it made;
    with ``shot``, save a full-page screenshot there."""
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": HEIGHT})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(url, wait_until="load")
        page.evaluate("""async () => {
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                await MathJax.startup.promise;
            }
            await document.fonts.ready;
        }""")
        report = page.evaluate(_REPORT)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    report["requests"] = requests
    return report


def site_pages(site: Path) -> list[Path]:
    """Every HTML page of a built site, relative to it (Sphinx's own folders left out)."""
    return sorted(p.relative_to(site) for p in site.rglob("*.html")
                  if not p.relative_to(site).parts[0].startswith(("_", ".")))


@dataclass(frozen=True)
class ScreenshotConfig:
    """The options of ``python -m docs.screenshot``."""

    pages: tuple[str, ...] = field(default=(), metadata={
        "help": "page file names (default: every page)", "positional": True})
    site: Path = field(default=Path("build/docs"), metadata={"help": "the built site"})
    out: Path = field(default=Path("build/screenshots"), metadata={"help": "folder for the PNGs"})
    widths: tuple[int, ...] = field(default=(1280, 390), metadata={
        "help": "window widths in pixels, one PNG per page and width (PAGE-WIDTH.png)"})

    def __post_init__(self) -> None:
        if any(w < 200 or w > 4000 for w in self.widths):
            raise ScreenshotError(f"--widths {self.widths}: give widths between 200 and 4000")


def build_parser():
    """The command line of ``python -m docs.screenshot``."""
    return config_parser(ScreenshotConfig, prog=PROG,
                         description="Screenshot built pages whole, in headless Chromium.")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ScreenshotConfig, argv, build_parser())
    return run_cli(PROG, lambda: screenshot_site(config))


def screenshot_site(config: ScreenshotConfig) -> int:
    """Screenshot the pages ``config`` names (every page by default) into ``config.out``."""
    if not config.site.is_dir():
        raise ScreenshotError(f"--site {config.site} does not exist; build it with python -m docs")
    pages = [Path(p) for p in config.pages] or site_pages(config.site)
    missing = [str(p) for p in pages if not (config.site / p).is_file()]
    if missing:
        raise ScreenshotError(f"no page {', '.join(missing)} in {config.site}; give file names "
                              "of built pages")
    with serve(config.site) as base, browser() as context:
        for page in tqdm(pages, desc="screenshots", unit="page"):
            for width in config.widths:
                path = config.out / f"{'-'.join(page.with_suffix('').parts)}-{width}.png"
                inspect_page(context, base + page.as_posix(), width, path)
                tqdm.write(str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
