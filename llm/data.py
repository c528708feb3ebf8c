"""Preference data: every source converted at the boundary to one checked format.

The internal format is :class:`PreferencePair` ``(prompt, chosen, rejected)``, with the prompt
ending where the responses begin. Converters:

- :func:`from_hh`: Anthropic HH rows ``{"chosen", "rejected"}`` (full transcripts). The prompt is
  the transcript up to and including the last ``\\n\\nAssistant:`` that both transcripts share
  (the reference DPO code's split at the last ``\\n\\nAssistant:`` of ``chosen``). Decisions on
  real rows' oddities: one transcript a prefix of the other is kept (the shorter one's prompt is
  used when it is a prefix of both, so a longer transcript keeps its extra turns in its response);
  transcripts that differ before the final assistant turn, an empty response, and identical
  chosen and rejected are bad rows (dropped and counted with their line numbers).
- :func:`from_shp`: Stanford SHP rows; pairs with score ratio < 2 are filtered out (counted, not
  bad), as the DPO paper does; the prompt is ``\\n\\nHuman: {history}\\n\\nAssistant:``.
- :func:`from_trl`: TRL's standard explicit-prompt rows ``{"prompt", "chosen", "rejected"}``.
- the offline task (:mod:`llm.task`) yields HH rows and goes through :func:`from_hh`.

:func:`load_pairs` reads a file (``.jsonl``, ``.json`` lines, ``.gz``, ``.parquet`` with pyarrow)
or a hub dataset name (with the ``datasets`` package and a reachable hub) and returns the pairs
with a :class:`LoadReport`; a source with no usable pair is an error.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from upo_theory import UserError

ASSISTANT = "\n\nAssistant:"
SHP_MIN_SCORE_RATIO = 2.0


class DataError(UserError):
    """A data source that cannot be used (missing, unreadable or without a usable pair)."""


class BadRow(ValueError):
    """One row that cannot become a pair; the message says why."""


class FilteredRow(ValueError):
    """A well-formed row left out on purpose (e.g. an SHP pair with score ratio < 2)."""


@dataclass(frozen=True)
class PreferencePair:
    """One preference pair: ``prompt + chosen`` is preferred to ``prompt + rejected``."""

    prompt: str
    chosen: str
    rejected: str

    def __post_init__(self) -> None:
        if not self.chosen.strip() or not self.rejected.strip():
            raise BadRow("empty response")
        if self.chosen == self.rejected:
            raise BadRow("chosen == rejected")


@dataclass
class LoadReport:
    """What a loader did: rows read, pairs kept, bad rows (line, reason) and filtered rows."""

    source: str
    rows: int = 0
    pairs: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    filtered: int = 0

    def summary(self, shown: int = 5) -> str:
        text = f"{self.source}: {self.rows} rows -> {self.pairs} pairs"
        if self.filtered:
            text += f", {self.filtered} filtered"
        if self.bad:
            lines = ", ".join(f"line {n}: {why}" for n, why in self.bad[:shown])
            more = f" (+{len(self.bad) - shown} more)" if len(self.bad) > shown else ""
            text += f", {len(self.bad)} bad rows [{lines}{more}]"
        return text


def _text(row: dict[str, Any], name: str) -> str:
    if name not in row:
        raise BadRow(f"missing field {name!r}")
    value = row[name]
    if not isinstance(value, str):
        raise BadRow(f"field {name!r} is {type(value).__name__}, not a string")
    return value


def _hh_prompt(transcript: str) -> str:
    cut = transcript.rfind(ASSISTANT)
    if cut < 0:
        raise BadRow(f"no {ASSISTANT!r} turn")
    return transcript[: cut + len(ASSISTANT)]


def from_hh(row: dict[str, Any]) -> PreferencePair:
    """Convert one Anthropic HH row (see the module notes for the decisions on odd rows)."""
    chosen, rejected = _text(row, "chosen"), _text(row, "rejected")
    if chosen == rejected:
        raise BadRow("chosen == rejected")
    for prompt in sorted({_hh_prompt(chosen), _hh_prompt(rejected)}, key=len, reverse=True):
        if chosen.startswith(prompt) and rejected.startswith(prompt):
            return PreferencePair(prompt, chosen[len(prompt):], rejected[len(prompt):])
    raise BadRow("transcripts differ before the final assistant turn")


def from_shp(row: dict[str, Any]) -> PreferencePair:
    """Convert one Stanford SHP row; raise :class:`FilteredRow` when the score ratio is < 2."""
    history = _text(row, "history")
    a, b = _text(row, "human_ref_A"), _text(row, "human_ref_B")
    try:
        label = int(row["labels"])
        score_a, score_b = float(row["score_A"]), float(row["score_B"])
    except KeyError as missing:
        raise BadRow(f"missing field {missing.args[0]!r}") from None
    except (TypeError, ValueError):
        raise BadRow("labels, score_A and score_B must be numbers") from None
    if label not in (0, 1):
        raise BadRow(f"labels={label}; expected 0 or 1")
    low = min(score_a, score_b)
    ratio = max(score_a, score_b) / low if low > 0 else float("inf")
    if ratio < SHP_MIN_SCORE_RATIO:
        raise FilteredRow(f"score ratio {ratio:.2f} < {SHP_MIN_SCORE_RATIO}")
    chosen, rejected = (a, b) if label == 1 else (b, a)
    return PreferencePair(f"\n\nHuman: {history}{ASSISTANT}", " " + chosen, " " + rejected)


def from_trl(row: dict[str, Any]) -> PreferencePair:
    """Convert one TRL standard explicit-prompt row ``{"prompt", "chosen", "rejected"}``."""
    for name in ("prompt", "chosen", "rejected"):
        if name in row and isinstance(row[name], list):
            raise BadRow(f"field {name!r} is conversational (a message list); "
                         "only the standard string format is supported")
    return PreferencePair(_text(row, "prompt"), _text(row, "chosen"), _text(row, "rejected"))


CONVERTERS: dict[str, Callable[[dict[str, Any]], PreferencePair]] = {
    "hh": from_hh, "offline": from_hh, "shp": from_shp, "jsonl": from_trl,
}
HUB_SPLITS = {"hh": ("train", "test"), "shp": ("train", "validation")}


def convert_rows(
    rows: Iterator[tuple[int, dict[str, Any] | str]], kind: str, source: str
) -> tuple[list[PreferencePair], LoadReport]:
    """Convert ``(line number, row or parse error)`` items with the converter of ``kind``.

    Raises
    ------
    DataError
        When no row gives a usable pair.
    """
    convert = CONVERTERS[kind]
    report = LoadReport(source)
    pairs: list[PreferencePair] = []
    for line, row in rows:
        report.rows += 1
        try:
            if isinstance(row, str):
                raise BadRow(row)
            if not isinstance(row, dict):
                raise BadRow(f"a JSON {type(row).__name__}, not an object")
            pairs.append(convert(row))
        except FilteredRow:
            report.filtered += 1
        except BadRow as why:
            report.bad.append((line, str(why)))
    report.pairs = len(pairs)
    if not pairs:
        raise DataError(f"{source} has no usable {kind} pair: {report.summary()}")
    return pairs, report


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield ``(line number, row)``, or ``(line number, error text)`` for a malformed line."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(f"{path} is Parquet; install pyarrow or convert it to JSONL") from None
        for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield number, row
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, f"malformed JSON ({error.msg})"


def _hub_rows(name: str, split: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"{name!r} is not a file; pass a local file, or install `datasets` with hub access"
        ) from None
    yield from enumerate(datasets.load_dataset(name, split=split), start=1)


def is_local(location: str) -> bool:
    """Whether ``location`` names a local file rather than a hub dataset (``owner/name``)."""
    return (Path(location).exists() or location.startswith((".", "/", "~"))
            or location.count("/") != 1
            or location.endswith((".json", ".jsonl", ".gz", ".parquet")))


def load_pairs(kind: str, location: str, split: str = "train") -> tuple[list[PreferencePair],
                                                                         LoadReport]:
    """Load ``kind`` pairs from a local file or a hub dataset name."""
    path = Path(location)
    if path.is_file():
        return convert_rows(read_rows(path), kind, str(path))
    if is_local(location):
        raise DataError(f"data path {location!r} is not a readable file; check the path")
    hub_split = HUB_SPLITS.get(kind, ("train", "test"))[split != "train"]
    return convert_rows(_hub_rows(location, hub_split), kind, f"{location}[{hub_split}]")


def split_by_prompt(
    pairs: list[PreferencePair], eval_fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Hold out ``eval_fraction`` of the distinct prompts (at least one), chosen by ``seed``."""
    prompts = sorted({p.prompt for p in pairs})
    if len(prompts) < 2:
        raise DataError("need at least 2 distinct prompts to hold some out; pass --eval-data-path")
    order = np.random.default_rng(seed).permutation(len(prompts))
    n_eval = min(len(prompts) - 1, max(1, round(eval_fraction * len(prompts))))
    held_out = {prompts[i] for i in order[:n_eval]}
    return ([p for p in pairs if p.prompt not in held_out],
            [p for p in pairs if p.prompt in held_out])
