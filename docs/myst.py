"""Small writers of MyST Markdown for the generated pages: tables, code, LaTeX from SymPy, badges.

These write *source* text that Sphinx (with MyST) turns into HTML; mathematics is LaTeX, printed
by SymPy's ``latex()`` and typeset by MathJax in the reader's browser (bundled with the site).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sympy as sp


def code(text: object) -> str:
    """``text`` as inline code (a literal: names, plain-text formulas of the code, values)."""
    text = " ".join(str(text).split())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def latex(expr: sp.Basic | str | int | float | None) -> str:
    """SymPy's LaTeX of ``expr`` (a string is taken as LaTeX already)."""
    if isinstance(expr, str):
        return expr
    return sp.latex(sp.sympify(expr))


def math(expr: sp.Basic | str | int | float | None, lhs: str = "") -> str:
    """Inline mathematics ``$lhs = expr$``; ``None`` (SymPy found no closed form) is a dash."""
    if expr is None:
        return "—"
    body = latex(expr).replace("|", r"\vert ")
    return f"${lhs} = {body}$" if lhs else f"${body}$"


def text(value: object) -> str:
    """Plain text for a Markdown table cell or paragraph: Markdown's specials escaped."""
    out = " ".join(str(value).split())
    return re.sub(r"([\\`*_\[\]<>$#])", r"\\\1", out)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown pipe table whose cells are MyST already (escape text with :func:`text`)."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(re.sub(r"(?<!\\)\|", r"\\|", c.replace("\n", " "))
                                 for c in cells) + " |"

    body = [line(header), "|" + "---|" * len(header)]
    body += [line(row) for row in rows]
    return "\n".join(body) + "\n\n"


def badge(status: str) -> str:
    """A coloured status label (PROVEN, REFUTED, NOT APPLICABLE, admissible, ...)."""
    slug = re.sub(r"[^a-z0-9]+", "-", status.lower()).strip("-")
    return f'<span class="badge badge-{slug}">{status}</span>'


def note(body: str, kind: str = "note") -> str:
    """An admonition (``note``, ``warning``, ``tip``) holding MyST ``body``."""
    return f":::{{{kind}}}\n{body}\n:::\n\n"


def code_block(body: str, language: str = "text") -> str:
    """A fenced code block."""
    fence = "`" * max(3, max((len(m) + 1 for m in re.findall(r"`{3,}", body)), default=3))
    return f"{fence}{language}\n{body.rstrip()}\n{fence}\n\n"


def page(title: str, body: str, label: str = "") -> str:
    """A whole page: an optional cross-reference label, its title and its body."""
    target = f"({label})=\n" if label else ""
    return f"{target}# {title}\n\n{body.rstrip()}\n"


def readme_section(markdown: str, title: str) -> str | None:
    """The body of the ``##`` section ``title`` of a Markdown file, up to the next ``#``/``##``
    heading (``None`` when there is no such section)."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if re.fullmatch(rf"##\s+{re.escape(title)}\s*", line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"#{1,2}\s", lines[i])),
               len(lines))
    return "\n".join(lines[start + 1:end]).strip() + "\n"
