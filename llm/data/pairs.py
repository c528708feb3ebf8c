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
- the offline task (:mod:`llm.data.offline_task`) yields HH rows and goes through :func:`from_hh`.

:func:`load_pairs` reads the rows of any source :mod:`llm.data.readers` opens (a file, a folder of
shards, a ``save_to_disk`` folder or a hub dataset) and returns the pairs with a
:class:`LoadReport`: every source gets the same accounting of bad rows (its line or row number and
the reason). A text field that is not valid Unicode (a lone surrogate such as U+D800, written
``\\ud800`` in a JSON string, which no tokenizer can encode) makes its row bad. A source with no
usable pair is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .readers import DataError, is_local, open_rows  # noqa: F401  (DataError, is_local: re-exported)

ASSISTANT = "\n\nAssistant:"
SHP_MIN_SCORE_RATIO = 2.0


class BadRow(ValueError):
    """One row that cannot become a pair; the message says why."""


class FilteredRow(ValueError):
    """A well-formed row left out on purpose (e.g. an SHP pair with score ratio < 2)."""


@dataclass(frozen=True)
class PreferencePair:
    """One preference pair: ``prompt + chosen`` is preferred to ``prompt + rejected``.

    Parameters
    ----------
    prompt : str
        The prompt x.
    chosen, rejected : str
        The preferred response y_w and the other, y_l.

    Raises
    ------
    BadRow
        For an empty response, or two identical ones.
    """

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
    """What a loader did: rows read, pairs kept, bad rows (line, reason) and filtered rows.

    Parameters
    ----------
    source : str
        What was read.
    rows, pairs : int
        Rows read and pairs kept.
    bad : list of (int, str)
        The bad rows' numbers and reasons.
    filtered : int
        Rows left out on purpose (SHP's score ratio).
    where : callable
        Names a row's position from its number.
    """

    source: str
    rows: int = 0
    pairs: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    filtered: int = 0
    where: Callable[[int], str] = field(default=lambda n: f"line {n}", repr=False)
    """Names a bad row's position: ``line 5``, ``row 5``, ``train-00001.parquet row 3``."""

    def summary(self, shown: int = 5) -> str:
        text = f"{self.source}: {self.rows} rows -> {self.pairs} pairs"
        if self.filtered:
            text += f", {self.filtered} filtered"
        if self.bad:
            lines = ", ".join(f"{self.where(n)}: {why}" for n, why in self.bad[:shown])
            more = f" (+{len(self.bad) - shown} more)" if len(self.bad) > shown else ""
            text += f", {len(self.bad)} bad rows [{lines}{more}]"
        return text


def _text(row: dict[str, Any], name: str) -> str:
    if row.get(name) is None:  # absent, or null in a Parquet or datasets row
        raise BadRow(f"missing field {name!r}")
    value = row[name]
    if not isinstance(value, str):
        raise BadRow(f"field {name!r} is {type(value).__name__}, not a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadRow(f"field {name!r} is not valid Unicode ({error.reason} "
                     f"U+{ord(value[error.start]):04X} at character {error.start})") from None
    return value


def _hh_prompt(transcript: str) -> str:
    cut = transcript.rfind(ASSISTANT)
    if cut < 0:
        raise BadRow(f"no {ASSISTANT!r} turn")
    return transcript[: cut + len(ASSISTANT)]


def from_hh(row: dict[str, Any]) -> PreferencePair:
    """Convert one Anthropic HH row (see the module notes for the decisions on odd rows).

    Parameters
    ----------
    row : dict
        ``chosen`` and ``rejected`` transcripts.

    Raises
    ------
    BadRow
        For a row that gives no usable pair.
    """
    chosen, rejected = _text(row, "chosen"), _text(row, "rejected")
    if chosen == rejected:
        raise BadRow("chosen == rejected")
    for prompt in sorted({_hh_prompt(chosen), _hh_prompt(rejected)}, key=len, reverse=True):
        if chosen.startswith(prompt) and rejected.startswith(prompt):
            return PreferencePair(prompt, chosen[len(prompt):], rejected[len(prompt):])
    raise BadRow("transcripts differ before the final assistant turn")


def from_shp(row: dict[str, Any]) -> PreferencePair:
    """Convert one Stanford SHP row; raise :class:`FilteredRow` when the score ratio is < 2.

    Parameters
    ----------
    row : dict
        ``history``, ``human_ref_A``, ``human_ref_B``, ``labels``, ``score_A``, ``score_B``.

    Raises
    ------
    BadRow
        For a row that gives no usable pair.
    """
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
    """Convert one TRL standard explicit-prompt row ``{"prompt", "chosen", "rejected"}``.

    Parameters
    ----------
    row : dict
        ``prompt``, ``chosen`` and ``rejected`` as strings.

    Raises
    ------
    BadRow
        For a row that gives no usable pair (a conversational one among them).
    """
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
    rows: Iterator[tuple[int, dict[str, Any] | str]], kind: str, source: str,
    where: Callable[[int], str] | None = None,
) -> tuple[list[PreferencePair], LoadReport]:
    """Convert ``(row number, row or parse error)`` items with the converter of ``kind``.

    ``where`` names a row number in messages (default ``line N``).

    Parameters
    ----------
    rows : iterator of (int, dict or str)
        Each row's number, and the row or why it could not be parsed.
    kind : {"hh", "offline", "shp", "jsonl"}
        The converter.
    source : str
        What the rows come from, for the report.
    where : callable, optional
        Names a row from its number.

    Returns
    -------
    pairs : list of PreferencePair
        The usable pairs.
    report : LoadReport
        What was read, kept and left out.

    Raises
    ------
    DataError
        When no row gives a usable pair.
    """
    convert = CONVERTERS[kind]
    report = LoadReport(source) if where is None else LoadReport(source, where=where)
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


def load_pairs(kind: str, location: str, split: str = "train", streaming: bool = False
               ) -> tuple[list[PreferencePair], LoadReport]:
    """Load ``kind`` pairs from a file, a folder or a hub dataset (:func:`.readers.open_rows`).

    ``split`` is ``train`` or ``eval`` (for a hub name without ``:split``, a ``DatasetDict`` or
    a folder of split shards); ``streaming`` reads a hub dataset without caching it first.

    Parameters
    ----------
    kind : {"hh", "offline", "shp", "jsonl"}
        The rows' format.
    location : str
        A file, a folder or a hub dataset's name.
    split : {"train", "eval"}, optional
        Which split.
    streaming : bool, optional
        Read a hub dataset without caching it.

    Returns
    -------
    pairs : list of PreferencePair
        The usable pairs.
    report : LoadReport
        What was read, kept and left out.
    """
    source = open_rows(location, split, HUB_SPLITS.get(kind, ("train", "test")), streaming)
    return convert_rows(source.rows, kind, source.name, source.where)


def split_by_prompt(
    pairs: list[PreferencePair], eval_fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Hold out ``eval_fraction`` of the distinct prompts (at least one), chosen by ``seed``.

    Parameters
    ----------
    pairs : list of PreferencePair
        The pairs.
    eval_fraction : float
        The share of distinct prompts to hold out.
    seed : int
        The seed of the choice.

    Returns
    -------
    train, held_out : list of PreferencePair
        The pairs of the kept prompts and of the held-out ones.
    """
    prompts = sorted({p.prompt for p in pairs})
    if len(prompts) < 2:
        raise DataError("need at least 2 distinct prompts to hold some out; pass --eval-data-path")
    order = np.random.default_rng(seed).permutation(len(prompts))
    n_eval = min(len(prompts) - 1, max(1, round(eval_fraction * len(prompts))))
    held_out = {prompts[i] for i in order[:n_eval]}
    return ([p for p in pairs if p.prompt not in held_out],
            [p for p in pairs if p.prompt in held_out])
