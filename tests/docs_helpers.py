"""What the docs tests share: the markup and plain-text formulas no reader-facing prose may hold."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAW = re.compile(r"\\(frac|left|right|mathbb|mathrm|beta|pi|sum)\b|\$|:func:|:class:|:mod:"
                 r"|:meth:|:math:")
"""LaTeX or reST markup left in prose."""
PLAIN = re.compile(r"sum_\{|\w_w\b|\bE_mu\b")
"""A plain-text formula (``sum_{i,j}``, ``pi_w``) in prose: the site's own pages write LaTeX."""
QUOTED = ("api", "use/runs.html")
"""Pages whose prose is the code's own text (docstrings, llm/README.md), quoted as written."""

_CODE_SPAN = re.compile(r"(`+).*?\1")
_INLINE_MATH = re.compile(r"\$[^$]*\$")
ASCII_MATHS = re.compile(r"\^|_|->|\boo\b|\bpi\b|\bbeta\b|\blambda\b|\bPsibar\b|\bsigma\b|!=|>=|<=")
"""The terminal report's plain-text maths (``f'(0+) = -oo``, ``pi_ref``, ``1/(2 beta)``), which
text meant for a page to typeset holds only inside ``$...$`` or a code span."""


def latex_prose_problems(tex: str) -> list[str]:
    """What is wrong with ``tex``, prose with LaTeX maths for a page to typeset: empty,
    unbalanced ``$`` or a display ``$$`` (outside code spans, which show an error message as
    written), or plain-text maths outside ``$...$``."""
    if not tex.strip():
        return ["empty"]
    outside_code = _CODE_SPAN.sub(" ", tex)
    problems = []
    if outside_code.count("$") % 2:
        problems.append("an odd number of $")
    if "$$" in outside_code:
        problems.append("$$")
    plain = ASCII_MATHS.findall(_INLINE_MATH.sub(" ", outside_code))
    if plain:
        problems.append(f"plain-text maths outside $...$: {plain}")
    return problems
