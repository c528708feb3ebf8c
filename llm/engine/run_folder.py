"""A run folder (``<out_dir>/<run_name>``) that one process owns, and whether a run may go on in it.

A run folder is recognised by its own marker, ``.upo-run``, written when llm.train makes the
folder (a folder from before the marker is recognised by a ``config.json`` of llm.train's
settings, and marked). A folder that exists without it and holds anything is not a run: it is
refused before anything is written in it, so no ``--run-name`` or ``--out-dir`` can make the
trainer overwrite or delete files a user owns. :class:`RunLock` takes the folder for this process
(``fcntl.flock`` on ``<run>/.lock``, opened without following a link);
:func:`refuse_links` refuses a run folder where a link stands in for one of the run's files (a
symbolic link, or a file with another name: writing it would write a user's file);
:func:`check_resumable` refuses a new run over an existing one and a ``--resume`` whose settings
changed what the run computes (the fields marked ``resumable`` in :class:`~llm.config.TrainConfig`
may change); :func:`restore` finds the newest intact checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from upo_theory import UserError, parse_json
from upo_theory.cli import check_writable, write_atomically

from ..config import ConfigError, TrainConfig
from .atomic import LinkError, refuse_link
from .checkpoint import CHECKPOINTS, DAMAGED, RUN_CONFIG, load_checkpoint
from .distributed import World

RESUMABLE_CHANGES = frozenset(TrainConfig.marked("resumable"))
AUTO = frozenset(TrainConfig.marked("auto"))
"""Fields whose None the run resolves and saves (a --resume leaving them None keeps the saved)."""
"""Settings a ``--resume`` may change: they change how, not what, the run computes (a run folder
may also be moved or renamed and resumed where it is). Marked on the fields of
:class:`~llm.config.TrainConfig` (``metadata["resumable"]``)."""
CONFIG = "config.json"
LOCK = ".lock"
MARKER = ".upo-run"
"""The file that makes a folder a run folder (it holds the version of the layout)."""
OWN_FILES = (CONFIG, LOCK, MARKER, "metrics.jsonl", "metrics.csv", "summary.json", "truth.json",
             "curves.png", "ref_logps.pt", "tensorboard")
"""Names in a run folder that the run writes (besides its saved folders, :data:`OWN_FOLDERS`)."""
OWN_FOLDERS = ("checkpoint", "sft", "final", "merged")
"""Saved folders of a run; each also as ``.tmp``, ``.prev`` and ``.damaged`` (and checkpoint's
``.prev.damaged``, ``.tmp.damaged``)."""


class RunFolderError(UserError):
    """A run folder that cannot be used now: not writable, or in use by another process."""


class RunLock:
    """This process's exclusive use of a run folder: ``fcntl.flock`` on ``<run>/.lock``.

    The kernel releases the lock when the process ends, however it ends (a kill included); a
    second process on the same run folder gets :class:`RunFolderError` at once.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.created = not folder.exists()
        if not self.created:
            refuse_foreign(folder)
        self.handle = self._acquire()

    def _acquire(self) -> IO[str]:
        path = self.folder / LOCK
        for _ in range(3):  # the folder can vanish under us: another process's failed setup
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise self._unwritable(error) from None
            try:  # never through a link: the file is truncated to hold our pid
                descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            except FileNotFoundError:
                continue
            except OSError as error:
                refuse_link(path)
                raise self._unwritable(error) from None
            info = os.fstat(descriptor)  # before fdopen: a FIFO cannot be opened as a file
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                os.close(descriptor)
                refuse_link(path)
                raise LinkError(f"{path} is not a plain file of its own; nothing was written "
                                "through it: remove it, then run again")
            handle = os.fdopen(descriptor, "r+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise RunFolderError(f"run folder {self.folder} is in use by another process "
                                     f"(pid {holder}); wait for it to end or pass another "
                                     "--run-name") from None
            if _same_file(handle, path):  # not a lock file unlinked while we waited
                write_atomically(self.folder / MARKER, "1\n")
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                return handle
            handle.close()
        raise RunFolderError(f"run folder {self.folder} keeps disappearing; is another process "
                             "removing it?")

    def _unwritable(self, error: OSError) -> RunFolderError:
        return RunFolderError(f"cannot write the run folder {self.folder} ({error.strerror}); "
                              "give a writable --out-dir")

    def release(self, abandon: bool = False) -> None:
        """Remove the lock file and unlock; with ``abandon``, also remove the folder if this
        process made it and it holds nothing else (a setup that failed leaves no trace).

        The file goes while it is still locked: a process waiting on it finds, once it holds
        it, that the name no longer leads to it, and starts over (:meth:`_acquire`).
        """
        if abandon and self.created:
            (self.folder / MARKER).unlink(missing_ok=True)
        (self.folder / LOCK).unlink(missing_ok=True)
        if abandon and self.created:
            try:
                self.folder.rmdir()
            except OSError:
                pass
        self.handle.close()


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def refuse_foreign(folder: Path) -> None:
    """Refuse a folder that is not a run folder and holds anything: it is a user's, not ours."""
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is not a folder; pass another --run-name or --out-dir")
    if os.path.lexists(folder / MARKER) or _is_legacy_run(folder):
        refuse_links(folder)
        return
    held = sorted(p.name for p in folder.iterdir() if p.name != LOCK)
    if held:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise RunFolderError(f"{folder} is not a run folder (it holds {shown} and no {MARKER}); "
                             "nothing was written: pass another --run-name or --out-dir")


def _mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def refuse_links(folder: Path) -> None:
    """Raise :class:`~llm.engine.atomic.LinkError` (one line) when a name the run writes in
    ``folder`` is a link: a symbolic link, or a file with another name (a hard link)."""
    suffixes = ("", ".tmp", ".prev", DAMAGED, ".tmp" + DAMAGED, ".prev" + DAMAGED)
    for name in (*OWN_FILES, *(f + end for f in OWN_FOLDERS for end in suffixes)):
        refuse_link(folder / name)
    if os.path.lexists(folder / MARKER) and not stat.S_ISREG(_mode(folder / MARKER)):
        raise LinkError(f"{folder / MARKER} is not a file; it is this run's marker: remove it")


def _is_legacy_run(folder: Path) -> bool:
    """A run folder made before the marker: its ``config.json`` holds llm.train's settings."""
    try:
        settings = _settings(folder / CONFIG, typed=False)  # a mistyped value is still ours
    except (OSError, ValueError):
        return False
    return {"loss", "seed", "run_name"} <= set(settings) <= set(TrainConfig.defaults())


def finished(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run: its ``summary.json``, written last and
    atomically (:mod:`llm.evaluation.summary`), is there."""
    return (folder / "summary.json").is_file()


def has_run(folder: Path) -> bool:
    """Whether ``folder`` holds settings or a checkpoint: then only ``--resume`` goes on."""
    return (folder / CONFIG).exists() or any((folder / name).exists() for name in CHECKPOINTS)


def check_resumable(config: TrainConfig, folder: Path, say: Callable[[str], None]) -> None:
    """Refuse a new run over an existing one, and a ``--resume`` with changed settings."""
    saved = folder / CONFIG
    if not config.resume:
        if has_run(folder):
            raise ConfigError(f"run folder {folder} holds a run; pass --resume to continue it, "
                              "or another --run-name")
        return
    if not has_run(folder):
        raise ConfigError(f"--resume: {folder} holds no run (no {CONFIG}, no checkpoint); start "
                          "it without --resume")
    old = saved_settings(folder, say)
    changed = changed_settings(old, config.to_dict())
    if old and changed:
        raise ConfigError(f"--resume with changed settings {changed}; use the saved ones "
                          f"in {saved}")


def changed_settings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The settings in which ``new`` (a :class:`TrainConfig`'s dict) computes another run than
    the saved ``old``: all but :data:`RESUMABLE_CHANGES`, a setting newer than the saved run
    taken at its default, and an :data:`AUTO` one left to resolve as it was saved."""
    defaults = TrainConfig.defaults()
    return sorted(k for k in new
                  if k not in RESUMABLE_CHANGES and old.get(k, defaults[k]) != new[k]
                  and not (k in AUTO and new[k] in (None, "auto")))


def saved_settings(folder: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The run's saved settings: ``config.json``, or when it is damaged a checkpoint's copy.

    Empty when neither can be read (nothing to compare: this command's settings are taken).
    """
    try:
        return _settings(folder / CONFIG)
    except FileNotFoundError:
        problem = f"{folder / CONFIG} is missing"
    except (OSError, ValueError) as error:
        problem = f"{folder / CONFIG} is damaged ({error})"
    for name in CHECKPOINTS:
        try:
            settings = _settings(folder / name / RUN_CONFIG)
        except (OSError, ValueError):
            continue
        say(f"{problem}; comparing with the copy in {name}/{RUN_CONFIG} and writing it anew")
        return settings
    say(f"{problem} and no checkpoint holds a copy; taking this command's settings")
    return {}


def _settings(path: Path, typed: bool = True) -> dict[str, Any]:
    """The settings saved at ``path``; a file that is no JSON object of them, or (``typed``)
    holds a value of the wrong type (``"beta": "0.1"``, which would read as a changed setting),
    is damaged (a ``ValueError``)."""
    settings = parse_json(path.read_text())
    if not isinstance(settings, dict):
        raise ValueError("not a JSON object of settings")
    problem = TrainConfig.saved_type_problem(settings) if typed else None
    if problem:
        raise ValueError(problem)
    return settings


def restore(folder: Path, world: World, say: Callable[[str], None],
            plan: dict[str, int] | None = None) -> dict[str, Any] | None:
    """The newest intact checkpoint of ``folder`` (one at a step that ``plan``, each stage's
    planned steps, does not have is damaged); the main process first puts the folder in order
    (a damaged checkpoint aside), then the others read it."""
    state = load_checkpoint(folder, say, tidy=True, plan=plan) if world.main else None
    world.barrier()
    return state if world.main else load_checkpoint(folder, plan=plan)


def claim_folder(folder: Path, marker: str, option: str, known: tuple[str, ...] = ()) -> None:
    """Make ``folder`` one that a command writes, marked by the empty file ``marker``; refuse it
    (:class:`RunFolderError`, nothing written) when it holds anything else: a folder without the
    marker is taken only when empty, or when all it holds are run folders of llm.train and
    names matching the patterns ``known`` (the command's outputs, from before the marker)."""
    check_writable(folder, option, folder=True)  # a link to a folder is the user's choice
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{option} {folder} is a file, not a folder; nothing was written: "
                             "give another " + option)
    mark = folder / marker
    if folder.is_dir() and not (mark.is_file() and not mark.is_symlink()):
        foreign = sorted(p.name for p in folder.iterdir()
                         if not (p.is_dir() and not p.is_symlink() and (p / MARKER).is_file())
                         and not any(p.match(pattern) for pattern in known))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise RunFolderError(f"{option} {folder} holds {shown} and no {marker}, so it is not "
                                 "this command's folder; nothing was written: give another "
                                 f"{option}, or empty that folder")
    folder.mkdir(parents=True, exist_ok=True)
    if not mark.is_file():
        write_atomically(mark, "")
