"""A file replaced atomically and never written through a link: the one way every command of the
project writes a file a user may already have (a run's files, a figure).

The data goes into a temporary sibling this process creates itself (``O_EXCL``, a random name,
``O_NOFOLLOW``), is fsynced, then renamed over the target: ``os.replace`` is atomic, and over a
symbolic or a hard link it replaces the name, never the file the link leads to.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path
from typing import Any


def write_atomically(path: Path, data: str | bytes) -> None:
    """Replace ``path`` by ``data`` atomically (text is written as UTF-8, newlines kept); a link
    at ``path`` is replaced, the file it leads to left as it was."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the renames and new names in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_figure(figure: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write a matplotlib ``figure`` to ``path`` (its folder made) with :func:`write_atomically`,
    in the format its suffix names (no suffix: PNG); returns the path.

    Raises
    ------
    OSError
        When the folder cannot be made or the file cannot be written; the caller words it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    figure.savefig(image, dpi=dpi, format=path.suffix.lstrip(".").lower() or "png")
    write_atomically(path, image.getvalue())
    return path
