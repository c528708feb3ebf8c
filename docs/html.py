"""Small HTML helpers: escaping, MathML from SymPy, tables and code blocks.

Mathematics is rendered with SymPy's presentation-MathML printer, which browsers display natively
and offline; no LaTeX source ever reaches a page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE

from .mathtext import overbar, scientific, typeset


class _Printer(MathMLPresentationPrinter):
    """SymPy's presentation printer, keeping the case and subscripts of undefined functions.

    SymPy lowercases the name of an undefined function (``Ψ`` would print as ``ψ``) and does not
    split ``π_ref`` into a base and a subscript; here the head is printed like a symbol.
    """

    def _print_Function(self, e: sp.Expr):
        if not isinstance(e, AppliedUndef):
            return super()._print_Function(e)
        mrow = self.dom.createElement("mrow")
        mrow.appendChild(self._print(sp.Symbol(type(e).__name__)))
        mrow.appendChild(self._paren_comma_separated(*e.args))
        return mrow

    def _print_Mul(self, expr: sp.Expr):
        """With ``order="none"``, an unevaluated product keeps its written order of factors."""
        written = self._settings.get("order") == "none" and not any(
            a.is_Pow and a.exp.is_negative for a in expr.args
        )
        if not written:
            return super()._print_Mul(expr)
        mrow = self.dom.createElement("mrow")
        factors = list(expr.args)
        if factors and factors[0] == -1:
            mrow.appendChild(self._mo("-"))
            factors = factors[1:]
        for i, factor in enumerate(factors):
            if i:
                mrow.appendChild(self._mo("&InvisibleTimes;"))
            mrow.appendChild(self.parenthesize(factor, PRECEDENCE["Mul"]))
        return mrow

    def _print_Sum(self, e: sp.Expr):
        """A sum whose summand is a product needs no parentheses around it."""
        if e.function.is_Add or len(e.limits) != 1:
            return super()._print_Sum(e)
        mrow = super()._print_Sum(sp.Sum(sp.Symbol("□"), *e.limits))
        mrow.replaceChild(self._print(e.function), mrow.lastChild)
        return mrow

    def _mo(self, text: str):
        mo = self.dom.createElement("mo")
        mo.appendChild(self.dom.createTextNode(text))
        return mo


_TYPESET = {
    "<mo>-</mo>": "<mo>&#8722;</mo>",
    "<mn>-": "<mn>&#8722;",
    "<mi>&#936;&#772;</mi>": overbar("<mi>&#936;</mi>"),
    "<mo>&amp;InvisibleTimes;</mo>": "<mo>&InvisibleTimes;</mo>",
}
"""Typographic fixes of SymPy's output: a true minus sign, Ψ̄ with a bar that renders, ⁢ unescaped."""


def readable(text: object) -> str:
    """Plain text from the code (SymPy's ``oo``, ``pi_ref``, ``f'(u)``, ``beta``...) as HTML:
    its prose escaped and its formulas typeset as MathML (:func:`docs.mathtext.typeset`)."""
    return typeset(text)


def slug(text: str) -> str:
    """An id for an anchor: lower case ASCII words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def number(value: float, digits: int = 2) -> str:
    """A number that never breaks across lines: plain below 10⁴ and above 10⁻³, otherwise
    in scientific notation typeset as MathML (5.1 × 10⁻⁹, not ``5.1e-09``)."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f'<span class="num">{f"{value:.{digits + 1}g}".replace("-", "−")}</span>'
    sign = "<mo>−</mo>" if value < 0 else ""
    return (f'<math xmlns="http://www.w3.org/1998/Math/MathML">{sign}'
            f'{scientific(f"{abs(value):.{digits - 1}e}")}</math>')


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes included)."""
    return html.escape(str(text), quote=True)


def math(
    expr: sp.Basic | str | int | float | None, display: bool = False, as_written: bool = False
) -> str:
    """A ``<math>`` element for ``expr``: inline by default, a centred block with ``display``.

    ``as_written`` keeps the order of terms of an unevaluated expression (hand-written
    equations); otherwise SymPy orders them. ``None`` (an object SymPy could not find, e.g. no
    closed-form inverse) prints as an em dash.
    """
    if expr is None:
        return "—"
    order = "none" if as_written else None
    body = _Printer({"order": order}).doprint(sp.sympify(expr))
    for plain, fixed in _TYPESET.items():
        body = body.replace(plain, fixed)
    mode = ' display="block"' if display else ""
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode}>{body}</math>'


def eq(lhs: sp.Basic, rhs: sp.Basic, number: str | None = None) -> str:
    """A displayed equation ``lhs = rhs``; a numbered one (the paper's number) gets the anchor
    ``eq-N`` and its number links to it."""
    body = math(sp.Eq(lhs, rhs, evaluate=False), True, True)
    if not number:
        return f'<div class="equation">{body}</div>'
    ident = f"eq-{slug(number)}"
    return (f'<div class="equation" id="{ident}">{body}<a class="eqno" href="#{ident}" '
            f'title="link to equation ({esc(number)})">({esc(number)})</a></div>')


def table(header: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table whose cells are already HTML (escape text cells with :func:`esc`)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def code_block(text: str, language: str = "") -> str:
    """A ``<pre>`` block of literal text."""
    klass = f' class="language-{esc(language)}"' if language else ""
    return f"<pre><code{klass}>{esc(text)}</code></pre>"


def figure(src: str, caption: str, alt: str, ident: str = "") -> str:
    """An image with a caption (``caption`` is HTML) and an alt text that says what it shows
    (plain text, for readers who cannot see it)."""
    anchor = f' id="{esc(ident)}"' if ident else ""
    return (
        f'<figure{anchor}><a href="{esc(src)}" title="open the full-size image">'
        f'<img src="{esc(src)}" alt="{esc(alt)}"></a>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def note(text: str, kind: str = "note") -> str:
    """A highlighted paragraph: ``kind`` in note, warn, ok."""
    return f'<p class="{kind}">{text}</p>'


def badge(status: str) -> str:
    """A coloured status label (PROVEN, REFUTED, NOT APPLICABLE, admissible, ...)."""
    slug = status.lower().replace(" ", "-")
    return f'<span class="badge badge-{esc(slug)}">{esc(status)}</span>'
