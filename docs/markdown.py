"""A small Markdown subset to HTML, for text the site quotes (README, experiment results).

Supported: ATX headings, fenced code, pipe tables, bullet and numbered lists, paragraphs, and
inline code, bold, emphasis, links and images. Links keep only http(s) targets and pages of the
site; any other target (a path in the repository) is shown as text, so the site has no dead link.
Images are handed to ``asset``, which copies them into the site and returns their new address.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .html import esc

Asset = Callable[[str], str | None]

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def to_html(text: str, asset: Asset | None = None, shift: int = 1) -> str:
    """Render ``text``; headings are demoted by ``shift`` levels (the page has its own h1)."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            fence = line[:3]
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            out.append(f"<pre><code>{esc(chr(10).join(body))}</code></pre>")
            i += 1
        elif m := _HEADING.match(line):
            level = min(6, len(m.group(1)) + shift)
            out.append(f"<h{level}>{inline(m.group(2), asset)}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(
            lines[i + 1]
        ):
            rows = [line]
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table(rows, asset))
        elif _BULLET.match(line) or _NUMBERED.match(line):
            numbered = bool(_NUMBERED.match(line)) and not _BULLET.match(line)
            pattern = _NUMBERED if numbered else _BULLET
            items = []
            while i < len(lines) and (m := pattern.match(lines[i])):
                item = m.group(1)
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() and not (
                    _BULLET.match(lines[i]) or _NUMBERED.match(lines[i])
                ):
                    item += " " + lines[i].strip()
                    i += 1
                items.append(f"<li>{inline(item, asset)}</li>")
            tag = "ol" if numbered else "ul"
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
        elif not line.strip():
            i += 1
        else:
            para = [line.strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and not _starts_block(lines, i):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{inline(' '.join(para), asset)}</p>")
    return "\n".join(out)


def section(text: str, title: str) -> str | None:
    """The body of the ``## title`` section of a Markdown text (to the next heading of its
    level or above), or None if there is no such section."""
    match = re.search(rf"^(#+)\s+{re.escape(title)}\s*$", text, flags=re.M | re.I)
    if not match:
        return None
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}}\s", rest, flags=re.M)
    return rest[: end.start()] if end else rest


def inline(text: str, asset: Asset | None = None) -> str:
    """Inline Markdown: code spans first (their content is literal), then the rest."""
    parts = re.split(r"(`[^`]+`)", text)
    return "".join(
        f"<code>{esc(p[1:-1])}</code>" if p.startswith("`") and p.endswith("`") and len(p) > 1
        else _spans(p, asset)
        for p in parts
    )


def _spans(text: str, asset: Asset | None) -> str:
    text = esc(text)

    def image(m: re.Match[str]) -> str:
        src = asset(m.group(2)) if asset else None
        if src is None:
            return f"[image: {m.group(1)}]"
        return f'<img src="{esc(src)}" alt="{m.group(1)}">'

    def link(m: re.Match[str]) -> str:
        target = m.group(2)
        if re.match(r"https?://", target) or re.fullmatch(r"[\w.-]+\.html(#[\w-]+)?", target):
            return f'<a href="{target}">{m.group(1)}</a>'
        return f"{m.group(1)} (<code>{target}</code>)"

    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", image, text)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", link, text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])", r"<em>\1</em>", text)


def _table(rows: list[str], asset: Asset | None) -> str:
    def cells(row: str) -> list[str]:
        return [c.strip() for c in row.strip().strip("|").split("|")]

    head = "".join(f"<th>{inline(c, asset)}</th>" for c in cells(rows[0]))
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(c, asset)}</td>" for c in cells(r)) + "</tr>"
        for r in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _starts_block(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(
        _FENCE.match(line) or _HEADING.match(line) or _BULLET.match(line)
        or _NUMBERED.match(line) or line.lstrip().startswith("|")
    )
