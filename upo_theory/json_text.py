"""JSON text a user hands over, read as data with bounds: the core's one JSON reader.

Python's ``json`` module parses nesting by recursion: a file of 100,000 ``[`` raises
``RecursionError``, which is no ``ValueError``, so a reader that handles malformed files would
still end in a traceback (or, with a raised recursion limit, crash the interpreter). Integers
past 4,300 digits are already refused by Python with a ``ValueError``. :func:`parse_json` makes
every such text an ordinary ``ValueError`` naming what is wrong, so each reader of a run folder,
a data file or a problem file handles a hostile file the way it handles a malformed one.

A key given twice in one object (``{"beta": 0.1, "beta": 0.5}``) is a ``ValueError`` too:
``json.loads`` keeps the last silently, so a mistyped file would read as a different one. Only a
reader of third-party JSON, whose other readers keep the last value, passes
``unique_keys=False``.
"""

from __future__ import annotations

import json
from typing import Any


def parse_json(text: str | bytes, *, unique_keys: bool = True) -> Any:
    """``json.loads(text)``; too deep a nesting or a duplicated key is a ``ValueError`` like any
    malformed JSON.

    Parameters
    ----------
    text : str or bytes
        The JSON document.
    unique_keys : bool, optional
        Refuse an object that gives a key twice (the default); ``False`` keeps the last value,
        as ``json.loads`` does, for third-party files that other tools read that way.

    Returns
    -------
    object
        What ``json.loads`` returns.

    Raises
    ------
    ValueError
        For malformed JSON (``json.JSONDecodeError``), nesting deeper than the interpreter's
        recursion limit, an integer too long to convert, or (with ``unique_keys``) a key given
        twice in one object.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_object if unique_keys else None)
    except RecursionError:
        raise ValueError("JSON nested deeper than the reader allows (about 1000 levels)") from None


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object of ``pairs``; a key given twice is a ``ValueError`` naming it."""
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {json.dumps(twice[:80])} is given twice in one JSON object; keep "
                         "one")
    return found
