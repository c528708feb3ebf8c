"""The built site in a real browser (headless Chromium driven by Playwright): every page at a
desktop width (1280 px) and a phone width (390 px) fits its window — nothing scrolls sideways —
and loads the math font from the site itself, never from outside it.

CI installs Chromium (``.ci/run``), so there the test runs; elsewhere it is skipped when no
Chromium or Playwright is installed, and it fails instead of skipping when ``CI`` is set.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from docs.assets import FONT_FAMILY, FONT_FILE
from docs.build import build
from docs.config import BuildConfig

WIDTHS: tuple[int, ...] = (1280, 390)

_missing = [what for what, absent in (
    ("chromium", shutil.which("chromium") is None and shutil.which("chromium-browser") is None),
    ("playwright", importlib.util.find_spec("playwright") is None)) if absent]
if _missing and os.environ.get("CI"):
    raise RuntimeError(f"{', '.join(_missing)} missing in CI: .ci/run must install them")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(_missing), reason=f"{', '.join(_missing)} not installed")]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], dict]:
    """Every page of a fresh build, inspected at each width."""
    from docs.screenshot import browser, inspect_page, serve

    site = tmp_path_factory.mktemp("site")
    build(BuildConfig(out=site, plots="fast"))
    out = {}
    with serve(site) as base, browser() as context:
        for page in sorted(site.glob("*.html")):
            for width in WIDTHS:
                report = inspect_page(context, base + page.name, width)
                out[(page.name, width)] = {**report, "base": base}
    return out


def test_every_page_fits_its_window(reports: dict[tuple[str, int], dict]) -> None:
    wide = {f"{name} at {width} px: {r['scroll_width']} px wide"
            for (name, width), r in reports.items() if r["scroll_width"] > width}
    assert not wide, sorted(wide)
    assert len(reports) >= 2 * 40  # every page, both widths


def test_every_page_loads_its_math_font_from_the_site(
        reports: dict[tuple[str, int], dict]) -> None:
    problems = []
    for (name, width), r in reports.items():
        if r["base"] + FONT_FILE not in r["requests"]:
            problems.append(f"{name} at {width}: no request for {FONT_FILE}")
        outside = [u for u in r["requests"] if not u.startswith(r["base"])]
        problems += [f"{name}: loads {u} from outside the site" for u in outside]
        if r["math"] and r["fonts"].get(FONT_FAMILY) != "loaded":
            problems.append(f"{name} at {width}: {FONT_FAMILY} is {r['fonts']}")
    assert not problems, problems


def test_screenshots_are_whole_pages(tmp_path: Path) -> None:
    """``python -m docs.screenshot`` captures a page whole, however long, at each width."""
    from PIL import Image

    from docs.screenshot import main

    site = tmp_path / "site"
    build(BuildConfig(out=site, plots="none"))
    assert main(["--site", str(site), "--out", str(tmp_path / "png"), "claims.html"]) == 0
    for width in WIDTHS:
        with Image.open(tmp_path / "png" / f"claims-{width}.png") as image:
            assert image.width == width and image.height > 2000
