"""Markdown to HTML for the text the site quotes (README sections, ``llm/README.md``, the
experiment's result): a thin adapter over markdown-it-py (CommonMark with tables).

What the adapter adds: headings demoted under the page's own title; links that stay inside the
site (web addresses and pages of the site are kept, a file of the repository that the site
renders becomes a link to that page, any other file path is shown as text, never a dead link);
images copied into the site by ``asset`` and shown as figures whose caption is their alt text;
formulas in the text typeset as MathML (:func:`docs.mathtext.typeset_html`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from markdown_it import MarkdownIt
from markdown_it.token import Token

from .mathtext import typeset_html

Asset = Callable[[str], str | None]
"""An image path of the Markdown file to its address in the site (None: not found)."""

SITE_PAGE = re.compile(r"[\w.-]+\.html(#[\w-]+)?")


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def to_html(text: str, asset: Asset | None = None, shift: int = 1,
            pages: Mapping[str, str] | None = None) -> str:
    """Render ``text``; headings go ``shift`` levels down (the page has its own h1).

    ``pages`` maps repository paths that the site renders (``llm/README.md``) to the site
    page that shows them; a link or code span naming one becomes a link to that page.
    """
    md = _parser()
    tokens = md.parse(text)
    pages = pages or {}
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + shift)}"
        if token.type == "inline" and token.children:
            token.children = _inline(token.children, asset, pages)
    out = md.renderer.render(tokens, md.options, {})
    out = re.sub(r'<p>(<img src="([^"]*)" alt="([^"]*)"[^>]*>)</p>',
                 r'<figure>\1<figcaption>\3</figcaption></figure>', out)
    return typeset_html(out)


def _inline(children: list[Token], asset: Asset | None,
            pages: Mapping[str, str]) -> list[Token]:
    out: list[Token] = []
    skip_close = 0
    for token in children:
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            target = _site_link(href, pages)
            if target is None:
                skip_close += 1
                continue
            token.attrSet("href", target)
        elif token.type == "link_close" and skip_close:
            skip_close -= 1
            continue
        elif token.type == "image":
            src = asset(str(token.attrGet("src"))) if asset else None
            alt = "".join(c.content for c in token.children or [])
            if src is None:
                text = Token("text", "", 0)
                text.content = f"[figure not in this build: {alt}]"
                out.append(text)
                continue
            token.attrSet("src", src)
            token.attrSet("alt", alt)
        elif token.type == "code_inline" and token.content in pages:
            out.extend(_link(pages[token.content], token))
            continue
        out.append(token)
    return out


def _site_link(href: str, pages: Mapping[str, str]) -> str | None:
    if re.match(r"https?://", href) or SITE_PAGE.fullmatch(href) or href.startswith("#"):
        return href
    return pages.get(href.split("#")[0])


def _link(address: str, inner: Token) -> list[Token]:
    start, end = Token("link_open", "a", 1), Token("link_close", "a", -1)
    start.attrSet("href", address)
    return [start, inner, end]


def section(text: str, title: str) -> str | None:
    """The Markdown under the heading ``title`` (any level, case-insensitive), up to the next
    heading of the same level or above; None if there is no such heading."""
    tokens = _parser().parse(text)
    lines = text.splitlines()
    wanted = title.strip().lower()
    for k, token in enumerate(tokens):
        heading = tokens[k + 1].content.strip().lower() if token.type == "heading_open" else ""
        if not heading or not (heading == wanted or heading.startswith(wanted + " ")):
            continue
        level = int(token.tag[1])
        start = token.map[1] if token.map else 0
        end = len(lines)
        for later in tokens[k + 1:]:
            if later.type == "heading_open" and int(later.tag[1]) <= level and later.map:
                end = later.map[0]
                break
        return "\n".join(lines[start:end])
    return None


def inline(text: str) -> str:
    """One line of Markdown as inline HTML (no paragraph), formulas typeset."""
    md = _parser()
    return typeset_html(md.renderInline(text))
