"""The site: pages with a shared layout and navigation, written as flat HTML files.

Every page is one file at the root of the output folder; images go under ``img/``. Links between
pages are therefore plain file names, and the navigation is the same on every page.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .html import esc

STYLE = Path(__file__).with_name("style.css")
PSI_BAR = "Ψ\u0304"
"""Ψ̄ as text: common fonts drop the combining macron, so pages draw the bar with CSS."""
SECTIONS: tuple[str, ...] = ("Start", "Theory", "Divergences", "Experiments", "Reference")


@dataclass(frozen=True)
class Page:
    """One HTML page: its file name, title, navigation section and body (HTML)."""

    path: str
    title: str
    section: str
    body: str
    summary: str = ""

    def __post_init__(self) -> None:
        if self.section not in SECTIONS:
            raise ValueError(f"section={self.section!r} is unknown; choose one of {SECTIONS}")
        if "/" in self.path or not self.path.endswith(".html"):
            raise ValueError(f"page path {self.path!r} must be a flat file name ending in .html")


@dataclass
class Site:
    """The pages of the documentation, in navigation order."""

    title: str = "upo documentation"
    pages: list[Page] = field(default_factory=list)

    def add(self, page: Page) -> None:
        if any(p.path == page.path for p in self.pages):
            raise ValueError(f"two pages share the path {page.path!r}")
        self.pages.append(page)

    def write(self, out: Path) -> list[Path]:
        """Write every page and the stylesheet into ``out``; return the written page paths."""
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STYLE, out / "style.css")
        written = []
        for page in self.pages:
            target = out / page.path
            target.write_text(self.render(page), encoding="utf-8")
            written.append(target)
        return written

    def render(self, page: Page) -> str:
        return _LAYOUT.format(
            title=esc(page.title),
            site=esc(self.title),
            nav=self._nav(page),
            body=page.body.replace(PSI_BAR, '<span class="bar">Ψ</span>'),
        )

    def _nav(self, current: Page) -> str:
        parts = []
        for section in SECTIONS:
            items = [p for p in self.pages if p.section == section]
            if not items:
                continue
            links = "".join(
                f'<li><a href="{esc(p.path)}"'
                + (' class="current" aria-current="page"' if p.path == current.path else "")
                + f">{esc(p.title)}</a></li>"
                for p in items
            )
            parts.append(f"<h2>{esc(section)}</h2><ul>{links}</ul>")
        return "".join(parts)


_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {site}</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<nav class="sidebar"><a class="brand" href="index.html">{site}</a>{nav}</nav>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""
