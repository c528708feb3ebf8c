"""Rows of preference data from wherever a user holds them, numbered as the user would find them.

:func:`open_rows` turns a data location into a :class:`RowSource`: an iterator of
``(number, row)`` items, where ``row`` is a dict or, for a line that is not a JSON object, the
text of the problem (the converters in :mod:`llm.data.pairs` count it as a bad row). A location is

- a hub dataset ``owner/name[/data_dir][:split]`` (``Anthropic/hh-rlhf``,
  ``Anthropic/hh-rlhf/helpful-base:test``, ``stanfordnlp/SHP/askscience``), loaded with
  ``datasets.load_dataset`` (``split`` may be any split expression, e.g. ``train[:10%]``);
- a ``save_to_disk`` folder (a ``Dataset`` or a ``DatasetDict``, whose split is then chosen);
- a folder of shards (``*.parquet``, ``*.jsonl``, ``*.json``, ``*.gz``, searched recursively;
  the shards whose path names the split, like ``data/train-00000-of-00002.parquet`` or
  ``helpful-base/test.jsonl.gz``, when some do);
- one file: Parquet, JSON Lines or a JSON array, gzip-compressed or not.

What a file holds is read from its content, not its suffix: gzip by its magic bytes, Parquet by
``PAR1``, text as UTF-8 with or without a byte-order mark. A file that cannot be decoded (binary
data, another encoding, a truncated gzip stream, a damaged Parquet file), an unreachable hub and a
missing optional package are :class:`DataError`: one line naming the file, the line and the fix.
Parquet, ``save_to_disk`` folders and the hub need the ``data`` extra (``datasets``, ``pyarrow``).
"""

from __future__ import annotations

import bisect
import gzip
import json
import logging
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upo_theory import UserError, parse_json

from .locations import SHARD_SUFFIXES, is_local

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"
"""``owner/name[/data_dir][:split]``."""
SPLIT_NAMES = {"train": ("train",), "eval": ("test", "validation", "valid", "eval")}
"""The split names a local folder or ``DatasetDict`` is searched for, per requested split."""
INSTALL_DATA = "pip install -e '.[data]'"

Row = tuple[int, "dict[str, Any] | str"]


class DataError(UserError):
    """A data source that cannot be used (missing, unreadable or without a usable pair)."""


@dataclass
class RowSource:
    """The numbered rows of one source; ``files`` maps row numbers back to shards.

    Parameters
    ----------
    name : str
        The source, for messages.
    rows : iterator of (int, row)
        The numbered rows.
    unit : str, optional
        What a row is called in messages (``line``, ``row``).
    files : list of (int, str), optional
        The number of each shard's first row, and the shard.
    """

    name: str
    rows: Iterator[Row]
    unit: str = "line"
    files: list[tuple[int, str]] = field(default_factory=list)
    """(number of the shard's first row, shard) for sources of several files."""

    def where(self, number: int) -> str:
        """``line 5``, or ``train-00001.parquet row 3`` for a row of a sharded source."""
        if len(self.files) < 2:
            return f"{self.unit} {number}"
        index = bisect.bisect_right([start for start, _ in self.files], number) - 1
        start, name = self.files[index]
        return f"{name} {self.unit} {number - start + 1}"


def open_rows(location: str, split: str = "train", hub_splits: tuple[str, str] = ("train",
                                                                                    "test"),
              streaming: bool = False) -> RowSource:
    """The rows at ``location`` (see the module notes); ``split`` is ``train`` or ``eval``.

    ``hub_splits`` names the hub's (train, eval) splits for this kind of data; ``streaming``
    reads a hub dataset without writing it to the local cache first.

    Parameters
    ----------
    location : str
        A file, a folder or a hub dataset's name.
    split : {"train", "eval"}, optional
        Which split.
    hub_splits : tuple of str, optional
        The hub's names of the (train, eval) splits.
    streaming : bool, optional
        Read a hub dataset without caching it.

    Returns
    -------
    RowSource
        The rows.
    """
    path = Path(location).expanduser()
    if path.is_dir():
        return _folder_rows(path, split)
    if path.is_file():
        return _file_rows(path)
    if is_local(location):
        raise DataError(f"data path {location!r} is not a readable file or folder; check the path")
    name, _, chosen = location.partition(":")
    return _hub_rows(name, chosen or hub_splits[split != "train"], streaming)


# ----------------------------------------------------------------------------- files

def _file_rows(path: Path) -> RowSource:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == PARQUET_MAGIC:
        return RowSource(str(path), _parquet_rows(path), unit="row")
    if path.suffix == ".parquet":
        raise DataError(f"{path} is not a Parquet file (it does not start with PAR1); "
                        "pass a Parquet, JSON Lines or JSON file")
    return RowSource(str(path), _text_rows(path, compressed=head[:2] == GZIP_MAGIC))


def _text_rows(path: Path, compressed: bool) -> Iterator[Row]:
    """JSON Lines (or one JSON array) as UTF-8, with or without a BOM, gzip or not."""
    number = 0
    try:
        with (gzip.open if compressed else open)(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                text = _decoded(path, number, raw[len(BOM):] if number == 1 and
                                raw.startswith(BOM) else raw)
                if number == 1 and text.lstrip().startswith("["):
                    yield from _json_array(path, text + _decoded(path, 2, handle.read()))
                    return
                if text.strip():
                    yield number, _parsed(text)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: truncated or damaged gzip data after line {number} ({error}); "
                        "download or compress the file again") from None


def _decoded(path: Path, number: int, raw: bytes) -> str:
    if b"\x00" in raw:
        raise DataError(f"{path} line {number}: binary data (a NUL byte), not JSON text; pass a "
                        ".jsonl, .json, .jsonl.gz or .parquet file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} line {number}: not UTF-8 (byte 0x{raw[error.start]:02x} at "
                        f"column {error.start + 1}); convert the file to UTF-8, e.g. "
                        "`iconv -f latin1 -t utf-8`") from None


def _parsed(text: str) -> dict[str, Any] | str:
    try:  # third-party rows: a repeated key keeps the last value, as `datasets` reads it
        return parse_json(text, unique_keys=False)
    except json.JSONDecodeError as error:
        return f"malformed JSON ({error.msg})"
    except ValueError as error:  # nested too deep, or a number too long to convert
        return f"unreadable JSON ({str(error)[:80]})"


def _json_array(path: Path, text: str) -> Iterator[Row]:
    try:
        rows = parse_json(text, unique_keys=False)
    except json.JSONDecodeError as error:
        raise DataError(f"{path} line {error.lineno}: malformed JSON array ({error.msg}); fix "
                        "it or write one JSON object per line") from None
    except ValueError as error:
        raise DataError(f"{path}: unreadable JSON ({str(error)[:80]}); fix it or write one JSON "
                        "object per line") from None
    if not isinstance(rows, list):
        raise DataError(f"{path} holds a JSON {type(rows).__name__}; write one object per line")
    yield from enumerate(rows, start=1)


def _parquet_rows(path: Path) -> Iterator[Row]:
    pq = _need("pyarrow.parquet", f"{path} is Parquet")
    import pyarrow

    number = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except (pyarrow.ArrowException, OSError) as error:
        raise DataError(f"{path}: damaged Parquet file after row {number} "
                        f"({str(error).splitlines()[0]}); write or download it again") from None


# ----------------------------------------------------------------------------- folders

def _folder_rows(path: Path, split: str) -> RowSource:
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        return _saved_rows(path, split)
    shards = _shards(path, split)
    source = RowSource(str(path), iter(()), unit="row" if all(
        s.suffix == ".parquet" for s in shards) else "line")
    source.rows = _chained(path, shards, source.files)
    return source


def _shards(path: Path, split: str) -> list[Path]:
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SHARD_SUFFIXES)
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not found:
        raise DataError(f"{path} holds no data files ({', '.join(SHARD_SUFFIXES)}) and is not a "
                        "save_to_disk folder; check the path")
    names = SPLIT_NAMES[split]
    chosen = [p for p in found if any(part.startswith(names) for part in
                                      p.relative_to(path).parts)]
    return chosen or found


def _chained(root: Path, shards: list[Path], files: list[tuple[int, str]]) -> Iterator[Row]:
    """The shards' rows in one numbering; ``files`` records where each shard starts."""
    offset = 0
    for shard in shards:
        files.append((offset + 1, str(shard.relative_to(root))))
        last = 0
        for last, row in _file_rows(shard).rows:
            yield offset + last, row
        offset += last


def _saved_rows(path: Path, split: str) -> RowSource:
    datasets = _need("datasets", f"{path} is a save_to_disk folder")
    try:
        saved = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: damaged save_to_disk folder ({str(error).splitlines()[0]}); "
                        "save the dataset again") from None
    if isinstance(saved, datasets.DatasetDict):
        names = [n for n in SPLIT_NAMES[split] if n in saved]
        if not names:
            raise DataError(f"{path} has the splits {sorted(saved)}, none of {SPLIT_NAMES[split]};"
                            f" pass the split's own folder ({path}/<split>)")
        return RowSource(f"{path}[{names[0]}]", _numbered(saved[names[0]]), unit="row")
    return RowSource(str(path), _numbered(saved), unit="row")


def _numbered(rows: Iterable[dict[str, Any]]) -> Iterator[Row]:
    yield from enumerate(rows, start=1)


# ----------------------------------------------------------------------------- the hub

def _hub_rows(name: str, split: str, streaming: bool) -> RowSource:
    datasets = _need("datasets", f"{name!r} is not a local path, so it is read from the hub,")
    repo, data_dir = name, None
    if name.count("/") > 1:
        owner, dataset, data_dir = name.split("/", 2)
        repo = f"{owner}/{dataset}"
    with _hub_errors(name, split):
        rows = datasets.load_dataset(repo, data_dir=data_dir, split=split, streaming=streaming)
    return RowSource(f"{name}[{split}]", _hub_numbered(rows, name, split), unit="row")


def _hub_numbered(rows: Iterable[dict[str, Any]], name: str, split: str) -> Iterator[Row]:
    """The rows of a hub dataset; a streamed one can fail while it is read, with the same line."""
    with _hub_errors(name, split):
        yield from enumerate(rows, start=1)


@contextmanager
def _hub_errors(name: str, split: str) -> Iterator[None]:
    """Hub failures as one line of ours; the hub client's retry warnings are silenced."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    except (ConnectionError, OSError) as error:
        raise DataError(
            f"cannot load {name!r} from the hub ({str(error).splitlines()[0]}); connect to the "
            "hub (unset HF_HUB_OFFLINE) or pass a local file or folder") from None
    except ValueError as error:  # an unknown split or data_dir
        raise DataError(f"cannot load {name!r} split {split!r} from the hub "
                        f"({str(error).splitlines()[0]}); check the name and split") from None
    finally:
        logger.setLevel(level)


def _need(module: str, why: str):
    """Import ``module`` of the ``data`` extra, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(f"{why} and needs the data extra ({module.split('.')[0]} is not "
                        f"installed): {INSTALL_DATA}, or convert the data to JSON Lines") from None
