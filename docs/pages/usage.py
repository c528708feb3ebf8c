"""The generated parts of the "Use it" pages: sections quoted from the READMEs, the data formats
with real rows of the test fixtures, and the table of divergences for choosing f.

Nothing here is a second copy of a reference kept elsewhere: README sections are quoted when the
site is built, the sample rows come from ``tests/fixtures`` and are converted by ``llm.data``.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from ..myst import code, code_block, math, note, readme_section, table, text
from ..project import DATA_MODULE, derive, registered
from .theory import admissibility, link

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LLM_README = ROOT / "llm" / "README.md"
FIXTURES = ROOT / "tests" / "fixtures"
README_SECTIONS: tuple[str, ...] = ("Quick start", "A tour of the entry points")
TRL_SECTION = "Inside TRL"
RUN_FOLDER_SECTION = "A run folder (`<out_dir>/<run_name>`)"

Log = Callable[[str], None]


def quote(path: Path, title: str, log: Log, shift: int = 1) -> str:
    """The section ``title`` of the Markdown file ``path`` (its headings moved down ``shift``
    levels), or a warning that it is missing."""
    found = readme_section(path.read_text(encoding="utf-8") if path.is_file() else "", title)
    if found is None:
        log(f"{path.name}: no section {title!r}")
        return note(f"{code(path.relative_to(ROOT))} has no section “{text(title)}”.", "warning")
    return re.sub(r"^(#+)", lambda m: m.group(1) + "#" * shift, found, flags=re.M) + "\n"


def readme_quotes(log: Log) -> str:
    """The README's quick start and tour of the entry points, as ``##`` sections."""
    return "".join(f"## {title}\n\n{quote(README, title, log)}" for title in README_SECTIONS)


def trl_section(log: Log) -> str:
    """``llm/README.md``'s "Inside TRL" section."""
    return quote(LLM_README, TRL_SECTION, log)


def run_folder_section(log: Log) -> str:
    """``llm/README.md``'s section on what a run folder holds, its headings one level below the
    page's section that includes it (``###``)."""
    return nest(quote(LLM_README, RUN_FOLDER_SECTION, log), 3)


def nest(markdown: str, level: int) -> str:
    """``markdown`` with its headings moved so that the highest of them is at ``level``."""
    found = [len(m) for m in re.findall(r"^(#+) ", markdown, flags=re.M)]
    if not found:
        return markdown
    shift = level - min(found)
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + shift) + " ", markdown,
                  flags=re.M)


_FORMATS = (
    ("hh", "hh.jsonl", "from_hh", "Anthropic HH",
     "One JSON object per line with two full transcripts, `chosen` and `rejected`. The prompt "
     "is the text up to the last `\\n\\nAssistant:` that both share; the rest of each is its "
     "response."),
    ("shp", "shp.json", "from_shp", "Stanford SHP",
     "SHP's rows as published: a post's `history`, two answers `human_ref_A` / `human_ref_B`, "
     "`labels` (1 when A is preferred) and the scores; pairs whose score ratio is below 2 are "
     "filtered out, as in the DPO paper."),
    ("jsonl", "trl.jsonl", "from_trl", "TRL's explicit-prompt format",
     "TRL's standard preference rows `{\"prompt\", \"chosen\", \"rejected\"}`, the responses "
     "without the prompt."),
)


def _rows(path: Path, count: int, convert: Callable | None) -> list[tuple[dict, object]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            pair = convert(row) if convert else None
        except Exception:  # a fixture's bad rows (kept there on purpose) are not samples
            continue
        if isinstance(row, dict):
            out.append((row, pair))
        if len(out) == count:
            break
    return out


def data_formats(log: Log) -> str:
    """Each data format: its description, two fixture rows and what ``llm.data`` makes of them."""
    try:
        data = importlib.import_module(DATA_MODULE)
    except Exception as err:  # reported, not fatal
        log(f"data formats: {DATA_MODULE} not importable ({type(err).__name__}: {err})")
        data = None
    parts = []
    for kind, name, converter, title, about in _FORMATS:
        path = FIXTURES / name
        parts.append(f"## {title} (`--data {kind}`)\n\n{about}\n\n")
        if not path.is_file():
            parts.append(note(f"The sample file `tests/fixtures/{name}` is not in this "
                              "checkout.", "warning"))
            continue
        rows = _rows(path, 2, getattr(data, converter, None) if data else None)
        parts.append(f"Two rows of `tests/fixtures/{name}` (one JSON object per line in the "
                     "file, spread out here):\n\n")
        parts.append(code_block("\n".join(json.dumps(r, ensure_ascii=False, indent=2)
                                          for r, _ in rows), "json"))
        pairs = [[code(repr(p.prompt)), code(repr(p.chosen)), code(repr(p.rejected))]
                 for _, p in rows if p is not None]
        if pairs:
            parts.append(f"What {{py:func}}`{DATA_MODULE}.{converter}` makes of them "
                         f"({{py:class}}`~{DATA_MODULE}.PreferencePair`, "
                         "the one format the trainer uses):\n\n"
                         + table(["prompt", "chosen", "rejected"], pairs))
        parts.append(code_block(f"python -m llm.train --data {kind} --data-path "
                                f"tests/fixtures/{name}", "sh"))
    return "".join(parts)


def divergence_choices() -> str:
    """Every registered divergence with its verdict and what that means for training."""
    rows = []
    for div in registered():
        d = derive(div)
        if not d.differentiable:
            use = "not usable: $f'$ does not exist at $u = 1$"
        elif not d.admissible:
            use = ("allowed, outside Theorem 3.1: the optimum can put zero mass on responses "
                   r"($\inf f'$ is finite)")
        elif d.sup_f1.is_finite:
            use = r"admissible; its reward $\beta f'$ is bounded above, by $\beta \sup f'$"
        else:
            use = "admissible"
        rows.append([link(div), code(div.name), admissibility(d), math(d.sup_f1), use])
    return table(["divergence", "`--f`", "Theorem 3.1", r"$\sup f'$", "use"], rows)


def options_table(forms: tuple[str, ...], psis: tuple[str, ...]) -> str:
    """The arguments of ``preference_loss`` that choose the family member."""
    names = ", ".join(f"{{doc}}`{d.name} </divergences/{d.name}>`" for d in registered())
    return table(["argument", "values", "meaning"], [
        ["`psi`", ", ".join(code(p) for p in psis),
         r"identity: the squared loss $(s - 1/(2\beta))^2$ (IPO eq. 10, IUPO eq. 24); logit: "
         r"$-\log\sigma(\beta s)$ (DPO eq. 4, f-DPO eq. 5)"],
        ["`f`", names + ", or an expression in `u`",
         "the divergence generator; see {doc}`choosing f and form </use/choosing>`"],
        ["`form`", ", ".join(code(f) for f in forms),
         r"the pair statistic $s$: `per_response` is $k(t_w) - k(t_l)$ with $k(t) = f'(e^t)$ "
         "(eq. 17); `paper` is eq. 23"],
        ["`beta`", r"$\beta > 0$", "the regularisation strength (the paper: 0.1, 0.2, 0.5)"],
    ])

