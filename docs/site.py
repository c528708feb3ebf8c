"""The site: pages with a shared layout and navigation, written as flat HTML files.

Every page is one file at the root of the output folder; images go under ``img/``, the math font
under ``fonts/``. Links between pages are therefore plain file names, and the navigation is the
same on every page. The layout is responsive: below 800 px the sidebar folds into a menu button,
and every table scrolls sideways inside its own box. Each ``h2``/``h3`` gets an anchor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .assets import FONT_FAMILY, FONT_FILE, copy_assets
from .html import esc, slug

PSI_BAR = "Ψ\u0304"
"""Ψ̄ as text: common fonts drop the combining macron, so pages draw the bar with CSS."""
SECTIONS: tuple[str, ...] = ("Start", "Use it", "Theory", "Divergences", "Experiments",
                             "Reference")


@dataclass(frozen=True)
class Page:
    """One HTML page: its file name, title, navigation section and body (HTML). A page with a
    ``parent`` (a module's API page) is reached from that page and not listed in the sidebar."""

    path: str
    title: str
    section: str
    body: str
    summary: str = ""
    parent: str = ""

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
        copy_assets(out)
        written = []
        for page in self.pages:
            target = out / page.path
            target.write_text(self.render(page), encoding="utf-8")
            written.append(target)
        return written

    def render(self, page: Page) -> str:
        body = page.body.replace(PSI_BAR, '<span class="bar">Ψ</span>')
        return _LAYOUT.format(
            title=esc(page.title),
            site=esc(self.title),
            nav=self._nav(page),
            body=anchor_headings(wrap_tables(body)),
            font=FONT_FILE,
            family=esc(FONT_FAMILY),
        )

    def _nav(self, current: Page) -> str:
        parts = []
        for section in SECTIONS:
            items = [p for p in self.pages if p.section == section and not p.parent]
            if not items:
                continue
            links = "".join(
                f'<li><a href="{esc(p.path)}"'
                + (' class="current" aria-current="page"' if p.path == current.path
                   else ' class="current"' if p.path == current.parent else "")
                + f">{esc(p.title)}</a></li>"
                for p in items
            )
            parts.append(f'<p class="nav-title">{esc(section)}</p><ul>{links}</ul>')
        return "".join(parts)


def wrap_tables(body: str) -> str:
    """Put every table in a box that scrolls sideways, so a wide table never widens the page."""
    return re.sub(r"(<table\b.*?</table>)", r'<div class="scroll">\1</div>', body, flags=re.S)


_HEADING = re.compile(r"<(h[23])( id=\"([^\"]+)\")?>(.*?)</\1>", re.S)


def anchor_headings(body: str) -> str:
    """Give every ``h2``/``h3`` an id (kept if it has one, else from its text, made unique) and,
    unless it is a link already, a visible link to itself."""
    seen: set[str] = set(re.findall(r'id="([^"]+)"', body))

    def anchor(m: re.Match[str]) -> str:
        tag, ident, inner = m.group(1), m.group(3), m.group(4)
        if not ident:
            base = slug(re.sub(r"<[^>]+>", "", inner)) or "section"
            ident, n = base, 2
            while ident in seen:
                ident, n = f"{base}-{n}", n + 1
            seen.add(ident)
        link = "" if "<a " in inner else (
            f'<a class="anchor" href="#{ident}" aria-label="link to this section">#</a>')
        return f'<{tag} id="{ident}">{inner}{link}</{tag}>'

    return _HEADING.sub(anchor, body)


_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {site}</title>
<link rel="preload" href="{font}" as="font" type="font/ttf" crossorigin>
<link rel="stylesheet" href="style.css">
</head>
<body>
<input type="checkbox" id="menu" class="menu-toggle" aria-hidden="true">
<header class="topbar"><a class="brand" href="index.html">{site}</a>
<label for="menu" class="menu-button">Menu</label></header>
<nav class="sidebar" aria-label="pages"><a class="brand" href="index.html">{site}</a>{nav}</nav>
<main>
<h1>{title}</h1>
{body}
<footer>Mathematics is MathML, set in {family} (SIL Open Font License 1.1,
<a href="fonts/OFL.txt">licence</a>), which ships with this site: no page loads anything from
outside it.</footer>
</main>
</body>
</html>
"""
