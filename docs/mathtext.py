"""Mathematics written as plain text in the code's strings and docstrings, typeset as MathML.

The claims report, the derivations' details and the docstrings write formulas in one linear
notation: ``f'(e^t)``, ``(f')^-1(y)``, ``pi_ref``, ``piref_w``, ``Psibar``, ``rbar``, ``d/du``,
``lim_{u->0+}``, ``1/(2 beta)``, ``-oo``, SymPy's ``**`` and ``oo``, and their Unicode forms
(``π_ref``, ``β``, ``−``). :func:`typeset` finds the formulas in a sentence, leaves its prose as
text and prints each formula as an inline ``<math>`` element (superscripts, subscripts, primes,
bars, derivatives and limits as MathML elements), so no page shows ``^``, ``_`` or ``'`` where a
formula is meant. :func:`typeset_html` does the same inside an HTML fragment (the output of the
Markdown and docstring parsers): its text, and those ``<code>`` spans that hold a formula rather
than code.

A word of two or more letters that is neither a Greek letter's name nor a known function
(log, exp, sup, ...) is prose; so is a lone "a", "A" or "I". A run of formula tokens that holds
no identifier and no relation (``400 steps``, ``eq. (14)``) stays text.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

GREEK: dict[str, str] = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
FUNCTIONS = frozenset({
    "log", "exp", "sqrt", "sin", "cos", "tanh", "sup", "inf", "lim", "min", "max", "argmin",
    "argmax", "Abs", "logit", "softplus", "expm1", "log1p", "KL", "JS", "TV", "oo", "piref",
    "sign", "E",
})
SPACED = frozenset({"log", "exp", "sin", "cos", "tanh", "sup", "inf", "min", "max", "argmin",
                    "argmax", "logit", "softplus", "expm1", "log1p", "sign"})
"""Function names set off by thin spaces, as TeX does (u log u, not ulogu)."""
PROSE_LETTERS = frozenset({"a", "A", "I"})
BARE_ARGUMENT = frozenset({"log", "exp", "sqrt", "sin", "cos", "tanh", "sup", "inf", "E"})
"""Functions written before a bare argument: ``log 2``, ``sup f′``."""
UNITS = frozenset({"s", "h", "min", "ms"})
_GREEK_CHARS = "Α-Ωα-ωϵϑϕ"
_LETTER = rf"A-Za-z{_GREEK_CHARS}ℒ"
_TOKEN = re.compile(
    rf"""(?P<possessive>'s\b)
    |(?P<abbrev>\b(?:e\.g\.|i\.e\.|cf\.|vs\.|s\.d\.|s\.e\.|w\.r\.t\.))
    |(?P<compound>(?<![\w-])[A-Za-z{_GREEK_CHARS}]+(?:-[A-Za-z]{{2,}})+\b)
    |(?P<deriv>\bd/d(?P<var>[{_LETTER}]+)\b)
    |(?P<lim>\blim_\{{(?P<limsub>[^}}]*)\}})
    |(?P<ident>(?P<base>[{_LETTER}]\u0304|[{_LETTER}][{_LETTER}0-9]*)
        (?:_(?P<sub>\{{[^}}]*\}}|[{_LETTER}0-9]+(?:,[wl]\b)?))?
        (?P<star>\*(?![\w(])|(?:(?<=\b[A-Za-zπΨψ])|(?<=pi))\*(?=\())?(?P<prime>(?:['′″](?![A-Za-z]))*))
    |(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<rel><=|>=|->|!=|==|\*\*|\^)
    |(?P<relation>[=<>≤≥→≠∈∉≈∝≻≺])
    |(?P<op>[-+*/|·×−‖∞⁻¹²ᵗ])
    |(?P<open>[(\[{{])
    |(?P<close>[)\]}}])
    |(?P<comma>,)
    |(?P<space>\s+)
    |(?P<other>.)""",
    re.X | re.S,
)
_OPERATORS = {"-": "−", "*": "\u2062", "<=": "≤", ">=": "≥", "->": "→", "!=": "≠", "==": "="}
_CLOSING = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    match: re.Match[str] | None = None

    @property
    def strong(self) -> bool:
        """A token that makes its run a formula (an identifier, a relation, d/du, lim)."""
        return self.kind in ("math", "rel", "deriv", "lim")

    @property
    def weak(self) -> bool:
        """A token that may sit inside a formula but does not make one alone."""
        return self.kind in ("number", "op", "open", "close", "space", "comma", "relation")


def _tokens(text: str, force: bool = False) -> list[_Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("possessive", "abbrev"):
            kind = "other"
        elif kind == "compound":
            kind = "math" if force else "prose"
        elif kind == "ident":
            kind = "math" if force or _is_math_word(m) else "prose"
        out.append(_Tok(kind, m.group(0), m))
    return out if force else _words_in_prose(out)


def _words_in_prose(tokens: list[_Tok]) -> list[_Tok]:
    """A function's name with no argument and no formula before it ("log space", "the logit")
    is a word."""
    solid = [k for k, t in enumerate(tokens) if t.kind != "space"]
    for n, k in enumerate(solid):
        t = tokens[k]
        after = tokens[solid[n + 1]] if n + 1 < len(solid) else None
        if t.kind == "prose" and t.text in PROSE_LETTERS and after is not None and (
                after.kind in ("close", "comma", "op", "relation", "rel")
                and ((k and tokens[k - 1].kind in ("open", "op", "relation", "comma"))
                     or after.kind == "close")):
            tokens[k] = _Tok("math", t.text, t.match)  # σ(r*(a) − r*(b)): a variable
            continue
        if t.kind == "math" and t.match and t.match.group("base") in UNITS and k >= 2 and \
                tokens[k - 1].kind == "space" and tokens[k - 2].kind == "number" and \
                not (k + 1 < len(tokens) and tokens[k + 1].text == "("):
            tokens[k] = _Tok("prose", t.text, t.match)  # 43 min 9 s: units
            continue
        if t.kind != "math" or not t.match or t.match.group("base") not in FUNCTIONS:
            continue
        if t.match.group("base") == "oo" or t.match.group("sub"):
            continue
        after = tokens[solid[n + 1]] if n + 1 < len(solid) else None
        before = tokens[solid[n - 1]] if n else None
        if (after is None or after.kind in ("prose", "other", "comma")) and \
                (before is None or not (before.strong or before.kind in ("number", "op"))):
            tokens[k] = _Tok("prose", t.text, t.match)
    return tokens


def _is_math_word(m: re.Match[str]) -> bool:
    base = m.group("base")
    if base in GREEK or base in FUNCTIONS or re.fullmatch(rf"[{_GREEK_CHARS}ℒ]+", base):
        return True
    if base.endswith("bar") and (base[:-3] in GREEK or len(base) == 4):
        return True
    if base.endswith("\u0304"):  # a barred letter: Ψ̄
        return True
    if len(base) == 1:
        return base not in PROSE_LETTERS or bool(m.group("sub") or m.group("prime"))
    return len(base) == 2 and base[0] in "Dd" and bool(m.group("sub"))


def _runs(tokens: list[_Tok]) -> Iterator[tuple[bool, list[_Tok]]]:
    """Split the tokens into (is_formula, tokens) pieces."""
    i = 0
    while i < len(tokens):
        if not (tokens[i].strong or tokens[i].weak) or tokens[i].kind in ("space", "comma"):
            yield False, [tokens[i]]
            i += 1
            continue
        j, depth = i, 0
        while j < len(tokens) and (tokens[j].strong or tokens[j].weak):
            t = tokens[j]
            if (t.kind == "comma" and depth <= 0) or (depth == 0
                                                      and _number_after_name(tokens, j)):
                break
            depth += (t.kind == "open") - (t.kind == "close")
            j += 1
        yield from _pieces(tokens[i:j])
        i = j


def _number_after_name(tokens: list[_Tok], j: int) -> bool:
    """A space between a name and a number ("KL 0.56", "π_ref −0.57") ends a formula; a
    function's argument ("log 2") does not."""
    if tokens[j].kind != "space" or j == 0 or j + 1 >= len(tokens):
        return False
    before, after = tokens[j - 1], tokens[j + 1]
    signed = (after.text in ("-", "−") and j + 2 < len(tokens)
              and tokens[j + 2].kind == "number")
    named = before.kind == "math" and before.match is not None and \
        before.match.group("base") not in BARE_ARGUMENT
    return named and (after.kind == "number" or signed)


def _pieces(run: list[_Tok]) -> Iterator[tuple[bool, list[_Tok]]]:
    """A candidate run, balanced and split at its top-level commas, as formulas and text."""
    start, end = _balance(run)
    body = run[start:end]
    for t in run[:start]:
        yield False, [t]
    depth, commas = 0, []
    for k, t in enumerate(body):
        depth += (t.kind == "open") - (t.kind == "close")
        if t.kind == "comma" and depth == 0:
            commas.append(k)
    if commas:
        edges = [-1, *commas, len(body)]
        for a, b in itertools.pairwise(edges):
            yield from _pieces(body[a + 1:b])
            if b < len(body):
                yield False, [body[b]]
    elif body and any(t.strong for t in body):
        yield True, body
    else:
        for t in body:
            yield False, [t]
    yield from _runs(run[end:])


def _balance(run: list[_Tok]) -> tuple[int, int]:
    """The part of ``run`` to typeset: no spaces or commas at its ends, and no bracket that is
    not closed within it (the formula stops before it, or starts after it)."""
    start, end = 0, len(run)
    while True:
        while start < end and run[start].kind in ("space", "comma"):
            start += 1
        while end > start and run[end - 1].kind in ("space", "comma"):
            end -= 1
        opened: list[int] = []
        stray = None
        for k in range(start, end):
            if run[k].kind == "open":
                opened.append(k)
            elif run[k].kind == "close":
                if opened:
                    opened.pop()
                elif stray is None:
                    stray = k
        cut = min([k for k in (*opened[:1], stray) if k is not None], default=None)
        if cut is None:
            return start, end
        if cut == start:
            start += 1
        else:
            end = cut


def typeset(text: object, force: bool = False) -> str:
    """Plain text to HTML: prose escaped, each formula an inline ``<math>`` element.

    With ``force`` the whole text is one formula (a ``<code>`` span known to hold mathematics).
    """
    tokens = _tokens(str(text), force)
    if force:
        return _math(tokens) if tokens else ""
    return "".join(" ".join(_math(part) for part in _lines(run)) if formula
                   else html.escape(run[0].text, quote=False) for formula, run in _runs(tokens))


def _lines(run: list[_Tok], longest: int = 24) -> list[list[_Tok]]:
    """A long formula cut before its top-level relations (=, ≠, <), so that the line can break
    there: MathML itself never breaks a line."""
    if sum(t.kind != "space" for t in run) <= longest:
        return [run]
    parts: list[list[_Tok]] = [[]]
    depth = 0
    for t in run:
        depth += (t.kind == "open") - (t.kind == "close")
        if depth == 0 and t.kind in ("relation", "rel") and t.text not in ("^", "**") and \
                any(x.kind != "space" for x in parts[-1]):
            parts.append([])
        parts[-1].append(t)
    return [p for p in parts if any(x.kind != "space" for x in p)]


def _math(tokens: list[_Tok]) -> str:
    body = "".join(_Parser(tokens).sequence())
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML">{body}</math>'


class _Parser:
    """Tokens of one formula to MathML: brackets group, ``^`` and ``**`` raise the next atom."""

    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = [t for t in tokens if t.kind != "space"]
        self.i = 0

    def sequence(self, closing: str | None = None) -> list[str]:
        nodes: list[str] = []
        while self.i < len(self.tokens):
            t = self.tokens[self.i]
            if t.kind == "close" and closing is not None:
                return nodes
            self.i += 1
            if t.text in ("^", "**") and nodes:
                nodes[-1] = f"<msup>{_row(nodes[-1])}{_row(self.script())}</msup>"
            elif t.kind == "math" and t.match and t.match.group("base") == "sqrt" and \
                    self._next_is("("):
                self.i += 1
                inner = self.sequence(")")
                self.i += 1
                nodes.append(f"<msqrt>{''.join(inner)}</msqrt>")
            else:
                nodes.append(self.atom(t))
        return nodes

    def _next_is(self, text: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i].text == text

    def script(self) -> str:
        """The atom after ``^``: a signed number or identifier, or a group without its parens."""
        sign = ""
        if self.i < len(self.tokens) and self.tokens[self.i].text in ("-", "+", "−"):
            sign = _mo(_OPERATORS.get(self.tokens[self.i].text, self.tokens[self.i].text))
            self.i += 1
        if self.i >= len(self.tokens):
            return sign
        t = self.tokens[self.i]
        self.i += 1
        if t.kind == "open":
            inner = self.sequence(_CLOSING[t.text])
            self.i += 1
            return sign + "".join(inner)
        return sign + self.atom(t)

    def atom(self, t: _Tok) -> str:
        if t.kind == "open":
            inner = self.sequence(_CLOSING[t.text])
            close = ""
            if self._next_is(_CLOSING[t.text]):
                close = _mo(_CLOSING[t.text])
                self.i += 1
            return f"<mrow>{_mo(t.text)}{''.join(inner)}{close}</mrow>"
        if t.kind in ("math", "prose"):
            return _identifier(t.match) if t.match else _mi(t.text)
        if t.kind == "number":
            return scientific(t.text)
        if t.kind == "deriv" and t.match:
            var = _identifier(_TOKEN.fullmatch(t.match.group("var")))
            return f"<mfrac><mi>d</mi><mrow><mi>d</mi>{var}</mrow></mfrac>"
        if t.kind == "lim" and t.match:
            below = "".join(_Parser(_tokens(t.match.group("limsub"), True)).sequence())
            return f"<munder><mi>lim</mi><mrow>{below}</mrow></munder>"
        return _mo(_OPERATORS.get(t.text, t.text))


def _row(node: str) -> str:
    return node if node.startswith("<mrow>") else f"<mrow>{node}</mrow>"


def _mo(text: str) -> str:
    return f"<mo>{html.escape(text, quote=False)}</mo>"


def _mi(text: str) -> str:
    return f"<mi>{html.escape(text, quote=False)}</mi>"


def scientific(text: str) -> str:
    """An unsigned number token as MathML; ``5.1e-09`` as 5.1 × 10⁻⁹."""
    mantissa, _, exponent = text.lower().partition("e")
    if not exponent:
        return f"<mn>{text}</mn>"
    power = int(exponent)
    sign = "−" if power < 0 else ""
    return (f"<mrow><mn>{mantissa}</mn><mo>×</mo>"
            f"<msup><mn>10</mn><mn>{sign}{abs(power)}</mn></msup></mrow>")


def _symbol(name: str) -> str:
    """A base name: a Greek letter, a barred letter (rbar, Psibar), a function or a letter."""
    if name in SPACED:
        return f'<mspace width="0.1667em"/>{_mi(name)}<mspace width="0.1667em"/>'
    if name in GREEK:
        return _mi(GREEK[name])
    if name == "oo":
        return _mi("∞")
    if name == "piref":
        return f"<msub>{_mi('π')}<mi>ref</mi></msub>"
    if name.endswith("bar") and (name[:-3] in GREEK or len(name) == 4):
        return overbar(_symbol(name[:-3]))
    if name.endswith("\u0304") and len(name) == 2:  # a letter with a combining macron: Ψ̄
        return overbar(_mi(name[0]))
    return _mi(name)


def overbar(inner: str) -> str:
    """``inner`` (MathML) with a bar over it, as Ψ̄ is drawn everywhere on the site."""
    return f'<mover accent="true">{inner}<mo>‾</mo></mover>'


def _identifier(m: re.Match[str] | None) -> str:
    if m is None:
        return ""
    base, sub = m.group("base"), m.group("sub")
    if base in ("pi", "π", "piref") and sub in ("w", "l"):
        policy = _symbol(base) if base != "π" else _mi("π")
        node = f"<mrow>{policy}<mo>(</mo><msub><mi>y</mi><mi>{sub}</mi></msub><mo>)</mo></mrow>"
    elif sub:
        inner = sub[1:-1] if sub.startswith("{") else sub
        script = "".join(_Parser(_tokens(inner, True)).sequence())
        if re.fullmatch(r"[A-Za-z]{2,}", inner):
            script = f"<mi>{inner}</mi>"  # ref, KL: a word, upright
        node = f"<msub>{_symbol(base)}<mrow>{script}</mrow></msub>"
    else:
        node = _symbol(base)
    if m.group("star"):
        node = f"<msup>{node}<mo>*</mo></msup>"
    primes = m.group("prime").replace("'", "′")
    return node + (_mo(primes) if primes else "")


_SKIP = ("pre", "math", "script", "style", "code", "kbd", "samp", "dt")
_TAG = re.compile(r"(<[^>]+>)")
_MATH_IN_CODE = re.compile(
    rf"[{_GREEK_CHARS}′²−‖≤≥^]|[A-Za-z]'\(|\b(?:{'|'.join(GREEK)}|piref)(?:_[A-Za-z0-9]{{1,3}})?\b")
_CODE_NOT_MATH = re.compile(r"[\"`]|--|\.py\b|\b[a-z_]+\.[a-z_]+\b|\w+=\w|\bpython\b|::|/\w+/")


def looks_like_math(code: str) -> bool:
    """Whether a ``<code>`` span holds a formula (``f'(e^t)``, ``β (t_w − t_l)``) rather than
    code (``length="sum"``, ``llm.train``, ``rewards/margins``)."""
    return bool(_MATH_IN_CODE.search(code)) and not _CODE_NOT_MATH.search(code)


def typeset_html(fragment: str) -> str:
    """Typeset the formulas in an HTML fragment's text and in its formula-holding ``<code>``
    spans; ``<pre>``, other code, parameter names and existing MathML are left alone."""
    fragment = re.sub(
        r"<code>([^<]*)</code>",
        lambda m: typeset(html.unescape(m.group(1)), force=True)
        if looks_like_math(html.unescape(m.group(1))) else m.group(0),
        fragment,
    )
    out, skip = [], []
    for piece in _TAG.split(fragment):
        if piece.startswith("<") and piece.endswith(">"):
            name = re.match(r"</?([a-zA-Z0-9]+)", piece)
            tag = name.group(1).lower() if name else ""
            if tag in _SKIP and not piece.endswith("/>"):
                if piece.startswith("</"):
                    if skip and skip[-1] == tag:
                        skip.pop()
                else:
                    skip.append(tag)
            out.append(piece)
        elif skip or not piece.strip():
            out.append(piece)
        else:
            out.append(typeset(html.unescape(piece)))
    return "".join(out)
