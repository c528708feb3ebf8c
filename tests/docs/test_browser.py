"""The built site in a real browser (headless Chromium driven by Playwright).

Every page, at a phone width (390 px) and a desktop width (1280 px): nothing scrolls the page
sideways, no LaTeX or markup source is left in its visible text, MathJax (shipped with the site)
typesets every formula without an error, and no request leaves the site (any request that is not
to the local server is intercepted, blocked and reported), and the report's pages show no
plain-text maths in code font. Search finds the JS divergence's page
for "Jensen", the dark theme switches on, and the phone menu opens from the keyboard. Every figure
opens at full size, and every table wider than the page says that it scrolls sideways.

CI installs Chromium (``.ci/run``), so there the test runs; elsewhere it is skipped when no
Chromium or Playwright is installed, and it fails instead of skipping when ``CI`` is set.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest
from docs_helpers import PLAIN, QUOTED, RAW

from docs.build import build
from docs.config import BuildConfig

WIDTHS: tuple[int, ...] = (390, 1280)

_missing = [what for what, absent in (
    ("chromium", shutil.which("chromium") is None and shutil.which("chromium-browser") is None),
    ("playwright", importlib.util.find_spec("playwright") is None)) if absent]
if _missing and os.environ.get("CI"):
    raise RuntimeError(f"{', '.join(_missing)} missing in CI: .ci/run must install them")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(_missing), reason=f"{', '.join(_missing)} not installed")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "site"
    build(BuildConfig(out=out, plots="fast"))
    return out


def test_screenshots_are_whole_pages(site: Path, tmp_path: Path) -> None:
    """``python -m docs.screenshot`` captures a page whole, however long, at each width (first in
    this file: it starts its own Playwright, which cannot run inside the shared one below)."""
    from PIL import Image

    from docs.screenshot import main

    assert main(["--site", str(site), "--out", str(tmp_path), "claims.html"]) == 0
    for width in WIDTHS:
        with Image.open(tmp_path / f"claims-{width}.png") as image:
            assert image.width == width and image.height > 2000


@pytest.fixture(scope="module")
def browsing(site: Path):
    """A local server for the site and a browser that blocks (and records) any other request."""
    from docs.screenshot import browser, serve

    outside: list[str] = []
    with serve(site) as base, browser() as context:
        def route(request_route) -> None:
            url = request_route.request.url
            if url.startswith((base, "data:", "blob:", "about:")):
                request_route.continue_()
            else:
                outside.append(url)
                request_route.abort()

        context.route("**/*", route)
        yield base, context, outside


@pytest.fixture(scope="module")
def reports(site: Path, browsing) -> dict[tuple[str, int], dict]:
    """Every page of the build, inspected at each width."""
    from docs.screenshot import inspect_page, site_pages

    base, context, _ = browsing
    return {(page.as_posix(), width): inspect_page(context, base + page.as_posix(), width)
            for page in site_pages(site) for width in WIDTHS}


def test_every_page_fits_its_window(reports: dict[tuple[str, int], dict]) -> None:
    wide = sorted(f"{name} at {width} px: {r['scroll_width']} px wide"
                  for (name, width), r in reports.items() if r["scroll_width"] > width)
    assert not wide, wide
    assert len(reports) >= 2 * 60  # every page, both widths


def test_no_raw_latex_or_markup_in_visible_text(reports: dict[tuple[str, int], dict]) -> None:
    found = []
    for (name, width), r in reports.items():
        if width != WIDTHS[0]:
            continue
        own = not name.startswith(QUOTED)
        for line in r["text"].splitlines():
            if RAW.search(line) or (own and PLAIN.search(line)):
                found.append(f"{name}: {line.strip()[:90]!r}")
    assert not found, found[:20]


CODE_MATHS = re.compile(r"pi\*|pi_ref|-oo|\^-1|!=|Psibar|f'\(|\bbeta\b|\blambda\b|sqrt\(")
"""The terminal report's plain-text maths (``pi* = pi_ref (f')^-1(...)``, ``f'(0+) = -oo``)."""


def test_the_report_pages_typeset_their_maths_rather_than_show_it_as_code(
        reports: dict[tuple[str, int], dict]) -> None:
    """The claims and divergence pages once gave about 330 statements as ASCII in code font
    (issue 31); only the notation map, which quotes the terminal's text, may show it."""
    pages = [name for (name, width) in reports if width == WIDTHS[1]
             and (name == "claims.html" or name.startswith("divergences/"))]
    assert "claims.html" in pages and len(pages) >= 9
    found = [f"{name}: {span!r}" for name in pages
             for span in reports[(name, WIDTHS[1])]["code"] if CODE_MATHS.search(span)]
    assert not found, found[:10]
    assert any(span for name in pages for span in reports[(name, WIDTHS[1])]["code"])


def test_mathjax_typesets_every_formula(reports: dict[tuple[str, int], dict]) -> None:
    problems = [f"{name} at {width}: {r['unrendered'][:3]} {r['errors'][:3]}"
                for (name, width), r in reports.items() if r["unrendered"] or r["errors"]]
    assert not problems, problems[:10]
    for name in ("index.html", "math.html", "claims.html", "divergences/js.html"):
        assert reports[(name, 1280)]["typeset"] >= 3, name


def test_figures_open_full_size_and_wide_tables_say_they_scroll(
        reports: dict[tuple[str, int], dict]) -> None:
    unlinked = sorted({f"{name}: {src}" for (name, _), r in reports.items()
                       for src in r["unlinked_images"]})
    assert not unlinked, unlinked[:10]
    silent = sorted(f"{name} at {width}" for (name, width), r in reports.items()
                    if any(not t["hint"] for t in r["wide_tables"]))
    assert not silent, silent[:10]
    assert any(r["wide_tables"] for (_, width), r in reports.items() if width == 390)


def test_no_request_leaves_the_site(reports: dict[tuple[str, int], dict], browsing) -> None:
    _, _, outside = browsing
    assert not outside, sorted(set(outside))[:10]
    assert any("_static/mathjax/" in u for r in reports.values() for u in r["requests"])


def test_search_finds_the_js_divergence(browsing) -> None:
    base, context, _ = browsing
    page = context.new_page()
    try:
        page.goto(base + "search.html?q=Jensen", wait_until="load")
        page.wait_for_selector("ul.search li a", timeout=20_000)
        hrefs = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.href)")
    finally:
        page.close()
    assert any("divergences/js.html" in h for h in hrefs), hrefs


def test_dark_mode_switches(browsing) -> None:
    base, context, _ = browsing
    page = context.new_page()
    try:
        page.goto(base + "index.html", wait_until="load")
        light = page.evaluate("getComputedStyle(document.body).backgroundColor")
        for _ in range(3):
            if page.evaluate("document.body.dataset.theme") == "dark":
                break
            page.locator(".theme-toggle:visible").first.click()
        assert page.evaluate("document.body.dataset.theme") == "dark"
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    finally:
        page.close()
    assert dark != light


def test_phone_menu_and_skip_link_work_from_the_keyboard(browsing) -> None:
    base, context, _ = browsing
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 800})
    try:
        page.goto(base + "math.html", wait_until="load")
        assert page.locator("a.skip-to-content").count() == 1
        focused = []
        for _ in range(15):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("document.activeElement.className"))
            if "nav-overlay-icon" in focused[-1]:
                break
        assert "nav-overlay-icon" in focused[-1], focused
        page.keyboard.press("Enter")
        assert page.evaluate("document.getElementById('__navigation').checked")
        page.wait_for_timeout(600)  # the drawer slides in
        assert page.locator(".sidebar-drawer").bounding_box()["x"] >= 0
    finally:
        page.close()
