"""The data-location grammar: whether ``--data-path`` names a local file or folder or a hub
dataset, and the endings of data files.

A location is local when it exists, starts with ``.``, ``/`` or ``~``, ends like a data file
(:data:`SHARD_SUFFIXES`) or is no hub name (:data:`HUB_NAME`, ``owner/name[/data_dir][:split]``);
the readers (:mod:`llm.data.readers`) open it so, and :func:`check_locations` refuses a local one
that is missing before any work starts.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config import ConfigError, TrainConfig

SHARD_SUFFIXES = (".parquet", ".jsonl", ".json", ".gz")
"""Endings of data files (one file, or the shards of a folder)."""
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(/[\w.-]+)*(:[^/]+)?")
"""A hub dataset's name: ``owner/name[/data_dir][:split]``."""


def is_local(location: str) -> bool:
    """Whether ``location`` names a local file or folder rather than a hub dataset
    (``owner/name[/data_dir][:split]``); the data readers and :func:`check_locations` ask.

    Parameters
    ----------
    location : str
        A path or a hub dataset's name.
    """
    return (Path(location).expanduser().exists() or location.startswith((".", "/", "~"))
            or location.endswith(SHARD_SUFFIXES) or HUB_NAME.fullmatch(location) is None)


def check_locations(config: TrainConfig) -> None:
    """Refuse a ``--data-path`` or ``--eval-data-path`` that names a local file or folder that
    is not there (a hub name is looked up when the data is read).

    Parameters
    ----------
    config : TrainConfig
        The run's configuration.

    Raises
    ------
    ConfigError
        For a local path that does not exist.
    """
    for name in ("data_path", "eval_data_path"):
        location = getattr(config, name)
        if location and is_local(location) and not Path(location).expanduser().exists():
            raise ConfigError(f"{name}={location!r} is not a file or folder; check the path")
