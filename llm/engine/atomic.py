"""Files of a run written so that a kill at any moment leaves the old content or the new, never
a mix, and so that no write ever goes through a link someone planted in a run folder.

A file is written by :func:`upo_theory.cli.write_atomically` (the one writer of every command's
files): into a temporary sibling it creates itself, then renamed over the target, which replaces
a link's name, never the file the link leads to. Appends open
the file without following a link and refuse one with another name (:func:`append`). A folder a
library writes (``save_pretrained``, a checkpoint) is made fresh by :func:`fresh_folder` (``mkdir``
fails on anything already there, a link included) and carries :data:`SAVE_MARKER`, so a stale one
is removed only when it is ours (:func:`remove_folder`). A link where the run's own file belongs
is a :class:`LinkError`: one line, nothing written through it.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from upo_theory import UserError
from upo_theory.cli import fsync_folder

SAVE_MARKER = ".upo-save"
"""The empty file that makes a folder one this project writes (a model, a checkpoint)."""


class LinkError(UserError):
    """A link (symbolic, or a file with another name) or a stranger where a run's own file or
    folder belongs: it is never written through."""


def linked(path: Path) -> str | None:
    """What makes ``path`` not a file or folder of its own: a symbolic link, or a file with more
    than one name (a hard link); None when it is its own or absent."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"a symbolic link to {os.readlink(path)}"
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        return f"a hard link (a file with {info.st_nlink} names)"
    return None


def refuse_link(path: Path) -> None:
    """Raise :class:`LinkError` when ``path`` is a link (see :func:`linked`)."""
    if (what := linked(path)) is not None:
        raise LinkError(f"{path} is {what}, not a file of this run; nothing was written through "
                        "it: remove it, then run again (with --resume for a run)")


def write_new(path: Path, data: str | bytes) -> None:
    """Write ``data`` as the new file ``path`` (``O_EXCL``: nothing there may be overwritten,
    nor a link followed)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def append(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` (made if absent), never through a link (:class:`LinkError`)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError:
        refuse_link(path)  # a symbolic link: O_NOFOLLOW refused it
        raise
    with os.fdopen(descriptor, "a", newline="") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            raise LinkError(f"{path} is a hard link (a file with {info.st_nlink} names) or no "
                            "plain file, not a file of this run; nothing was written through "
                            "it: remove it, then run again with --resume")
        handle.write(text)


def ours(folder: Path) -> bool:
    """Whether ``folder`` is a real folder (no link) that this project wrote or was writing."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return False
    except FileNotFoundError:
        return False
    return any(stat.S_ISREG(_lmode(folder / name)) for name in (SAVE_MARKER, "manifest.json"))


def _lmode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def remove_folder(folder: Path, only_ours: bool = True) -> None:
    """Remove the folder ``folder`` (nothing when absent); a link there, or with ``only_ours`` a
    folder that is not :func:`ours`, is a :class:`LinkError` and is left as it is. The links
    inside a removed folder are removed, never followed."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        what = linked(folder) or "not a folder"
        raise LinkError(f"{folder} is {what}, not a folder this run wrote; nothing was removed "
                        "or written through it: move it away, then run again (with --resume "
                        "for a run)")
    if only_ours and not ours(folder):
        raise LinkError(f"{folder} is a folder this run did not write (no {SAVE_MARKER}); nothing "
                        "was removed: move it away, then run again (with --resume for a run)")
    shutil.rmtree(folder)


def fresh_folder(folder: Path) -> Path:
    """Make ``folder`` anew, empty but for :data:`SAVE_MARKER` (a stale one of ours removed
    first, see :func:`remove_folder`); return it."""
    remove_folder(folder)
    os.mkdir(folder)
    write_new(folder / SAVE_MARKER, b"")
    return folder


def fsync_tree(folder: Path) -> None:
    """fsync every file below ``folder``, then the folder itself."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_folder(folder)
