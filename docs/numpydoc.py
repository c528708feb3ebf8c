"""Docstrings to HTML: a thin adapter over numpydoc's parser and docutils' reStructuredText writer.

``numpydoc.docscrape.NumpyDocString`` splits a docstring into its sections (summary, Parameters,
Returns, Raises, Examples, ...); docutils renders the reStructuredText of each piece (double
backquotes, emphasis, lists, tables, ``:math:``). Sphinx's cross-reference roles (``:func:``,
``:class:``, ...) and single backquotes become code, linked to the API page that documents the
name when ``resolve`` knows it. Formulas written in the text are then typeset as MathML by
:func:`docs.mathtext.typeset_html`. Sections numpydoc does not know (a module's own headings) are
kept, in order, rather than dropped.
"""

from __future__ import annotations

import html
import inspect
import warnings
from collections.abc import Callable
from functools import lru_cache

from docutils import nodes
from docutils.core import publish_parts
from docutils.parsers.rst import roles
from docutils.writers.html5_polyglot import HTMLTranslator, Writer
from numpydoc.docscrape import NumpyDocString

from .mathtext import typeset_html

Resolver = Callable[[str], str | None]
"""A dotted name to the address of its documentation in the site, or None."""

_ROLES = ("func", "class", "mod", "meth", "attr", "data", "obj", "exc", "const", "py:func",
          "py:class", "py:mod", "py:meth", "py:attr", "py:data", "py:obj", "py:exc")
_LIST_SECTIONS = ("Parameters", "Other Parameters", "Attributes", "Returns", "Yields",
                  "Receives", "Raises", "Warns")
_PROSE_SECTIONS = ("Warnings", "Notes", "References")
_SETTINGS = {
    "report_level": 5, "halt_level": 5, "warning_stream": False, "doctitle_xform": False,
    "sectsubtitle_xform": False, "initial_header_level": 4, "file_insertion_enabled": False,
    "raw_enabled": False, "syntax_highlight": "none", "math_output": "MathML",
    "embed_stylesheet": False, "footnote_references": "superscript",
}
_resolve: list[Resolver] = [lambda name: None]


def set_resolver(resolve: Resolver) -> None:
    """Where cross-references (``:func:`x```) link to: the API pages set this while they build."""
    _resolve[0] = resolve
    rst.cache_clear()


def _xref(role, rawtext, text, lineno, inliner, options=None, content=None):
    """A Sphinx-style reference: ``~a.b.c`` shows ``c``; linked when the name is documented."""
    target = text.lstrip("~").strip()
    shown = target.rsplit(".", 1)[-1] if text.startswith("~") else target
    code = nodes.literal(rawtext, shown)
    address = _resolve[0](target)
    if address is None:
        return [code], []
    return [nodes.reference(rawtext, "", code, refuri=address)], []


for _name in _ROLES:
    roles.register_local_role(_name, _xref)
roles.register_local_role("code-ref", _xref)


class _Translator(HTMLTranslator):
    """docutils' HTML5 translator, writing inline literals as plain ``<code>`` elements."""

    def visit_literal(self, node: nodes.literal) -> None:
        self.body.append(f"<code>{self.encode(node.astext())}</code>")
        raise nodes.SkipNode


class _Writer(Writer):
    def __init__(self) -> None:
        super().__init__()
        self.translator_class = _Translator


@lru_cache(maxsize=4096)
def rst(text: str, math: bool = True) -> str:
    """HTML for a piece of reStructuredText (single backquotes are code references); with
    ``math``, the formulas in its text are typeset."""
    if not text.strip():
        return ""
    source = ".. default-role:: code-ref\n\n" + text
    body = publish_parts(source, writer=_Writer(), settings_overrides=_SETTINGS)["body"]
    return typeset_html(body) if math else body


def rst_inline(text: str, math: bool = True) -> str:
    """HTML for one line of reStructuredText, without the paragraph around it."""
    out = rst(text, math).strip()
    if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1:
        return out[3:-4]
    return out


class _Sections(NumpyDocString):
    """numpydoc's parser, keeping the sections it does not know instead of dropping them."""

    def __init__(self, docstring: str) -> None:
        self.extra: list[tuple[str, list[str]]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            super().__init__(docstring)

    def __setitem__(self, key: str, val) -> None:
        if key in self._parsed_data:
            self._parsed_data[key] = val
        else:
            self.extra.append((key, val))


def render(doc: str | None) -> str:
    """HTML for a numpydoc-style docstring (raw or cleaned)."""
    if not doc or not doc.strip():
        return ""
    parsed = _Sections(inspect.cleandoc(doc))
    parts = [rst("\n".join(parsed["Summary"] + [""] + parsed["Extended Summary"]))]
    for title in _LIST_SECTIONS:
        if parsed[title]:
            parts.append(f"<h4>{title}</h4>{_definitions(parsed[title], title)}")
    if parsed["See Also"]:
        links = ", ".join(
            rst_inline(f":obj:`{name}`") for group, _ in parsed["See Also"] for name, _ in group)
        parts.append(f"<h4>See also</h4><p>{links}</p>")
    for title in _PROSE_SECTIONS:
        if parsed[title]:
            parts.append(f"<h4>{title}</h4>{rst(chr(10).join(parsed[title]))}")
    for title, lines in parsed.extra:
        heading = title[:1] + title[1:].lower()  # numpydoc capitalises every word
        parts.append(f"<h4>{html.escape(heading)}</h4>{rst(chr(10).join(lines))}")
    if parsed["Examples"]:
        code = html.escape(inspect.cleandoc("\n".join(parsed["Examples"])))
        parts.append(f'<h4>Examples</h4><pre><code class="language-python">{code}</code></pre>')
    return "".join(parts)


def _definitions(items, title: str) -> str:
    rows = []
    for item in items:
        name, kind, desc = item.name, item.type, item.desc
        if title in ("Returns", "Yields", "Raises", "Warns", "Receives") and not kind:
            name, kind = "", name  # an unnamed return: numpydoc puts its type in ``name``
        head = f"<code>{html.escape(name)}</code>" if name else ""
        if kind:
            sep = " : " if name else ""
            head += f'<span class="type">{sep}{rst_inline(kind)}</span>'
        rows.append(f"<dt>{head}</dt><dd>{rst(chr(10).join(desc))}</dd>")
    return f'<dl class="params">{"".join(rows)}</dl>'


def summary(doc: str | None) -> str:
    """The first sentence-paragraph of a docstring, as inline HTML."""
    if not doc or not doc.strip():
        return ""
    first = inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
    return rst_inline(first)
