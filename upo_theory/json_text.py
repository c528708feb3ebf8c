"""JSON text a user hands over, read as data with bounds: the core's one JSON reader.

Python's ``json`` module parses nesting by recursion: a file of 100,000 ``[`` raises
``RecursionError``, which is no ``ValueError``, so a reader that handles malformed files would
still end in a traceback (or, with a raised recursion limit, crash the interpreter). Integers
past 4,300 digits are already refused by Python with a ``ValueError``. :func:`parse_json` makes
every such text an ordinary ``ValueError`` naming what is wrong, so each reader of a run folder,
a data file or a problem file handles a hostile file the way it handles a malformed one.
"""

from __future__ import annotations

import json
from typing import Any


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``; too deep a nesting is a ``ValueError`` like any malformed JSON.

    Parameters
    ----------
    text : str or bytes
        The JSON document.

    Returns
    -------
    object
        What ``json.loads`` returns.

    Raises
    ------
    ValueError
        For malformed JSON (``json.JSONDecodeError``), nesting deeper than the interpreter's
        recursion limit, or an integer too long to convert.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested deeper than the reader allows (about 1000 levels)") from None
