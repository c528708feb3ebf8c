"""Render numpydoc-style docstrings as HTML, simply.

Sections (``Parameters``, ``Returns``, ``Raises``, ``Examples``, ...) are recognised by their
dashed underline. Parameter-like sections become definition lists, ``Examples`` and other literal
blocks (doctests, RST tables, indented text) become ``<pre>``; prose becomes paragraphs with
RST roles and double-backquoted literals shown as code.
"""

from __future__ import annotations

import inspect
import re

from .html import esc

_SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}\s*$", re.M)
_LIST_SECTIONS = {"Parameters", "Returns", "Yields", "Raises", "Attributes", "Other Parameters",
                  "Warns", "See Also"}


def render(doc: str | None) -> str:
    """HTML for a docstring (already cleaned of indentation, or raw)."""
    if not doc:
        return ""
    text = inspect.cleandoc(doc)
    pieces = _SECTION.split(text)
    html = [_prose(pieces[0])]
    for title, content in zip(pieces[1::2], pieces[2::2], strict=True):
        title = title.strip()
        html.append(f"<h4>{esc(title)}</h4>")
        if title in _LIST_SECTIONS:
            html.append(_definitions(content))
        elif title == "Examples":
            html.append(f"<pre><code>{esc(content.strip(chr(10)))}</code></pre>")
        else:
            html.append(_prose(content))
    return "".join(html)


def summary(doc: str | None) -> str:
    """The first line of a docstring, as HTML."""
    if not doc:
        return ""
    return _inline(inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " "))


def _prose(text: str) -> str:
    out = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        if not block.strip():
            continue
        lines = block.split("\n")
        literal = (
            block.lstrip().startswith(">>>")
            or all(line.startswith("    ") for line in lines)
            or any(re.match(r"^\s*={3,}", line) for line in lines)
        )
        if literal:
            out.append(f"<pre><code>{esc(inspect.cleandoc(block))}</code></pre>")
        elif all(re.match(r"^\s*[*-] |^\s{2,}\S", line) for line in lines):
            items = re.split(r"\n\s*[*-] ", "\n" + block)[1:]
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
        else:
            out.append(f"<p>{_inline(block)}</p>")
    return "".join(out)


def _definitions(content: str) -> str:
    items: list[tuple[str, list[str]]] = []
    for line in content.strip("\n").split("\n"):
        if line and not line.startswith(" "):
            items.append((line.strip(), []))
        elif items:
            items[-1][1].append(line.strip())
    rows = "".join(
        f"<dt>{esc(term)}</dt><dd>{_inline(' '.join(desc))}</dd>" for term, desc in items
    )
    return f'<dl class="params">{rows}</dl>'


def _inline(text: str) -> str:
    parts = re.split(r"(``[^`]+``|:[a-z]+:`[^`]+`|`[^`]+`)", text)
    out = []
    for p in parts:
        m = re.fullmatch(r"``([^`]+)``|:[a-z]+:`~?([^`]+)`|`([^`]+)`", p)
        if m:
            out.append(f"<code>{esc(next(g for g in m.groups() if g))}</code>")
        else:
            out.append(esc(p))
    return "".join(out)
