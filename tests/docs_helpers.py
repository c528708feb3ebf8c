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
