"""Saved models and checkpoints: atomic, verified, and the previous checkpoint kept as a fallback.

Every saved folder is written by :func:`save_model`: the ``save_pretrained`` model and tokenizer,
the run's ``run_config.json`` (and a checkpoint's ``state.pt``) go into a temporary sibling
folder ``<name>.tmp`` made fresh with its marker (:func:`~llm.engine.atomic.fresh_folder`: a link
or a folder not ours there is refused, never written through), every file is fsynced, and
``manifest.json`` (every file's size and SHA-256, and a checkpoint's stage and step) is written
last; only then is the folder renamed into place. A folder whose manifest is missing or does
not match its files is unfinished or damaged.

A checkpoint (``<run_dir>/checkpoint``) is such a folder plus ``state.pt``: optimizer, scheduler,
RNG states, stage and step. Saving keeps the one before it as ``checkpoint.prev`` until the next
is complete (``checkpoint`` → ``checkpoint.prev``, then ``checkpoint.tmp`` → ``checkpoint``), so a
run killed at any moment, or a checkpoint damaged later (a full disk, a truncated file), leaves an
intact one. With ``--fsdp`` a checkpoint holds the ranks' shards instead of a model folder
(:func:`save_sharded_checkpoint`, :mod:`llm.engine.sharding`), with the same manifest, rename and
fallback. :func:`load_checkpoint` takes the newest intact checkpoint, reading its state as
data only, and says in one line when it falls back from a damaged one, which it keeps aside as
``checkpoint.damaged``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from upo_theory import UserError, parse_json
from upo_theory.cli import fsync_folder, write_atomically

from ..config import STAGE_ORDER
from .atomic import (
    LinkError,
    fresh_folder,
    fsync_tree,
    linked,
    remove_folder,
    write_new,
)
from .distributed import World
from .sharding import SHARD_METADATA, read_shard_metadata, save_shards

CHECKPOINT = "checkpoint"
PREVIOUS = CHECKPOINT + ".prev"
UNFINISHED = CHECKPOINT + ".tmp"
CHECKPOINTS = (CHECKPOINT, UNFINISHED, PREVIOUS)
"""The folders a checkpoint can be in, newest first (on equal steps the first wins)."""
DAMAGED = ".damaged"
MANIFEST = "manifest.json"
RUN_CONFIG = "run_config.json"
STATE = "state.pt"


NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""A write refused for want of room: a full disk, a quota, a file-size limit."""


class SaveError(UserError):
    """A model or checkpoint that could not be written for want of room."""


class CheckpointError(UserError):
    """A checkpoint whose state does not fit the run that resumes it."""


def _no_room(error: BaseException) -> bool:
    """Whether ``error`` is a write refused for want of room (an OSError's errno, or the
    system's words for it in a library's own exception, e.g. safetensors')."""
    if isinstance(error, OSError) and error.errno is not None:
        return error.errno in NO_ROOM
    return any(os.strerror(code) in str(error) for code in NO_ROOM)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error).strip().splitlines()[0][:120]


@dataclass(frozen=True)
class TrainingState:
    """Where training is: the stage and its optimizer step."""

    stage: str
    step: int


def save_model(model, tokenizer, folder: Path, config_json: str,
               state: dict[str, Any] | None = None, keep_previous: bool = False,
               weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Save model, tokenizer, run config (and a ``state``) as ``folder``, atomically.

    ``weights`` are saved instead of the model's own state dict (a sharded model's, gathered
    whole). With ``keep_previous`` the folder it replaces stays as ``<name>.prev``; otherwise it
    goes. A full disk (or a file-size limit) while writing is a :class:`SaveError`: the partial
    ``<name>.tmp`` is removed and the folder it would have replaced is untouched.
    """
    fresh_folder(unfinished(folder))  # never into something already there
    with writing(folder) as temporary:
        model.save_pretrained(temporary, safe_serialization=True, state_dict=weights)
        tokenizer.save_pretrained(temporary)
        finish(temporary, config_json, state)
    return seal(folder, state, keep_previous)


def unfinished(folder: Path) -> Path:
    """The temporary sibling ``<name>.tmp`` a save of ``folder`` is written into (made anew by
    :func:`~llm.engine.atomic.fresh_folder`: a link or a folder not ours there is refused)."""
    return folder.with_name(folder.name + ".tmp")


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[Path]:
    """Write the files of ``folder`` into :func:`unfinished` (yielded); when writing fails the
    partial folder is removed, and a failure for want of room is a :class:`SaveError`."""
    temporary = unfinished(folder)
    try:
        yield temporary
    except Exception as error:  # safetensors and torch report a failed write in their own types
        shutil.rmtree(temporary, ignore_errors=True)
        if not _no_room(error):
            raise
        raise SaveError(f"no room to write {folder} ({_reason(error)}); the copy before it is "
                        "intact: free disk space, then pass --resume") from None


def finish(temporary: Path, config_json: str, state: dict[str, Any] | None) -> None:
    """Add the run config (and ``state``) to a folder being written, and fsync its files."""
    write_new(temporary / RUN_CONFIG, config_json)
    if state is not None:  # through a file object: a full disk is an OSError, not torch's own
        descriptor = os.open(temporary / STATE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            torch.save(state, handle)
    fsync_tree(temporary)


def seal(folder: Path, state: dict[str, Any] | None, keep_previous: bool) -> Path:
    """Write the manifest of the written :func:`unfinished` folder last, then rename it to
    ``folder`` (the folder it replaces kept as ``<name>.prev`` with ``keep_previous``)."""
    temporary = unfinished(folder)
    where = None if state is None else {"stage": state["stage"], "step": state["step"]}
    write_atomically(temporary / MANIFEST, json.dumps(
        {"files": {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
                   for p in sorted(temporary.iterdir()) if p.is_file()},
         "position": where}, indent=1))
    _swap_in(folder, keep_previous)
    return folder


def training_state(optimizer_state: dict[str, Any], scheduler, where: TrainingState
                   ) -> dict[str, Any]:
    """A checkpoint's ``state.pt``: optimizer, scheduler, RNG states, stage and step."""
    return {
        **optimizer_state,
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        "stage": where.stage, "step": where.step,
    }


def save_checkpoint(run_dir: Path, model, tokenizer, optimizer, scheduler,
                    where: TrainingState, config_json: str) -> Path:
    """Write the checkpoint of ``run_dir``, keeping the one before it; return its folder."""
    state = training_state({"optimizer": optimizer.state_dict()}, scheduler, where)
    return save_model(model, tokenizer, run_dir / CHECKPOINT, config_json, state,
                      keep_previous=True)


def save_sharded_checkpoint(run_dir: Path, model, optimizer, scheduler, where: TrainingState,
                            config_json: str, world: World) -> Path:
    """Write the checkpoint of ``run_dir`` of an FSDP-sharded ``model`` (every rank calls it):
    each rank's shard with DCP (:func:`llm.engine.sharding.save_shards`), then, from the main
    process, ``state.pt`` (AdamW's hyper-parameters, scheduler, RNG, stage, step, world size),
    the manifest and the rename, the checkpoint before it kept."""
    folder = run_dir / CHECKPOINT
    if world.main:
        fresh_folder(unfinished(folder))
    world.barrier()
    with writing(folder) as temporary:
        groups = save_shards(model, optimizer, temporary)
        state = training_state({"param_groups": groups, "world_size": world.size}, scheduler,
                               where)
        if world.main:
            finish(temporary, config_json, state)
    if world.main:
        seal(folder, state, keep_previous=True)
    world.barrier()
    return folder


def load_checkpoint(run_dir: Path, say: Callable[[str], None] | None = None,
                    tidy: bool = False, plan: dict[str, int] | None = None
                    ) -> dict[str, Any] | None:
    """The state of the newest intact checkpoint of ``run_dir`` (with ``model_dir``), or None.

    ``state.pt`` is read as data only (``torch.load(weights_only=True)``: tensors, numbers,
    strings and containers): a run folder someone hands over cannot run code, since the
    manifest beside it detects damage, not tampering. A checkpoint whose files fail their
    manifest, or whose state is not plain data, is damaged: it is reported through ``say`` and
    the one before it used. With ``tidy`` (one process only) the folders are put back in order:
    each damaged one is moved to ``<name>.damaged`` (kept, never deleted) and the one used
    becomes ``checkpoint``. With ``plan`` (each stage's planned steps) a checkpoint at a step
    the plan does not have is damaged too; so is a link where a checkpoint folder belongs.
    """
    intact: list[tuple[tuple[int, int], Path]] = []
    damaged: dict[str, str] = {}
    for name in CHECKPOINTS:
        folder = run_dir / name
        if (link := linked(folder)) is not None:
            damaged[name] = link
            continue
        if not folder.is_dir():
            continue
        problem, where = _check(folder, plan)
        if problem is None and where is not None:
            intact.append(((STAGE_ORDER.index(where["stage"]), where["step"]), folder))
        elif name != UNFINISHED:  # an unfinished save is no damage: the kill came first
            damaged[name] = problem or "no stage and step in its manifest"
    chosen, state = None, None
    for position, folder in sorted(intact, key=lambda item: item[0], reverse=True):
        reading, kind = STATE, "plain data"
        try:
            state = torch.load(folder / STATE, weights_only=True)
            if "world_size" in state:  # sharded: DCP's metadata must be plain records too
                reading = SHARD_METADATA
                read_shard_metadata(folder)
            for weights in sorted(folder.glob("*.safetensors")):  # a header the loader trusts
                reading, kind = weights.name, "a readable safetensors file"
                with safe_open(weights, framework="pt") as opened:
                    opened.keys()
        except Exception as error:  # whatever makes it unreadable as data is damage
            damaged[folder.name] = f"{reading} is not {kind} ({type(error).__name__})"
            continue
        if (problem := _state_problem(state, position)) is not None:
            damaged[folder.name] = f"{STATE} {problem}"
            continue
        chosen = folder
        break
    if damaged and say is not None:
        said = "; ".join(f"{run_dir / name} is damaged ({problem})"
                         for name, problem in damaged.items())
        then = f"using {chosen.name}/" if chosen is not None else "no intact checkpoint is left"
        kept = ", ".join(name + DAMAGED for name in damaged)
        say(f"{said}; {then}" + (f"; the damaged copies are kept as {kept}" if tidy else ""))
    if tidy:
        chosen = _put_in_order(run_dir, chosen, damaged)
    if chosen is None:
        return None
    state["model_dir"] = chosen
    return state


def sharded_processes(run_dir: Path) -> int | None:
    """The number of processes whose shards the newest intact checkpoint of ``run_dir`` holds;
    None where it has none or holds the model whole."""
    state = load_checkpoint(run_dir) if run_dir.is_dir() else None
    return state.get("world_size") if state is not None else None


def _state_problem(state: Any, position: tuple[int, int]) -> str | None:
    """What keeps ``state`` (a loaded ``state.pt``) from being a checkpoint's state at the
    manifest's ``position`` (stage index, step), or None."""
    if not isinstance(state, dict):
        return "is not a dict of training state"
    missing = [key for key in ("scheduler", "rng", "stage", "step") if key not in state]
    if "optimizer" not in state and "param_groups" not in state:
        missing.append("optimizer")
    if missing:
        return f"lacks {', '.join(missing)}"
    rng = state["rng"]
    if (not isinstance(state["scheduler"], dict) or not isinstance(rng, dict)
            or not isinstance(rng.get("torch"), torch.Tensor)
            or not isinstance(state.get("optimizer", state.get("param_groups")), (dict, list))):
        return "holds a scheduler, RNG or optimizer state of the wrong shape"
    if state["stage"] not in STAGE_ORDER or (STAGE_ORDER.index(state["stage"]),
                                             state["step"]) != position:
        return (f"says stage {state['stage']!r} step {state['step']!r}, not the manifest's "
                f"{STAGE_ORDER[position[0]]} step {position[1]}")
    return None


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["rng"]["torch"])
    if torch.cuda.is_available() and state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])


def _put_in_order(run_dir: Path, chosen: Path | None, damaged: dict[str, str]) -> Path | None:
    """Move damaged checkpoints aside and make ``chosen`` (if any) the ``checkpoint`` folder."""
    for name in damaged:
        aside = run_dir / (name + DAMAGED)
        remove_folder(aside, only_ours=False)  # an older damaged copy; a link there is refused
        os.replace(run_dir / name, aside)  # a link is moved as a link
    if chosen is None:
        fsync_folder(run_dir)
        return None
    newest = run_dir / CHECKPOINT
    if chosen.name == UNFINISHED:  # a save killed between its two renames: finish it
        _swap_in(newest, keep_previous=True)
    elif chosen.name == PREVIOUS:  # the newest was damaged and is aside now
        os.replace(chosen, newest)
        fsync_folder(run_dir)
    return newest


def _swap_in(folder: Path, keep_previous: bool) -> None:
    """Rename ``<folder>.tmp`` to ``folder``; the folder it replaces becomes ``<folder>.prev``."""
    previous = folder.with_name(folder.name + ".prev")
    if os.path.lexists(folder):
        if linked(folder) is not None or not folder.is_dir():
            raise LinkError(f"{folder} is {linked(folder) or 'not a folder'}, not a folder this "
                            "run wrote; nothing was written through it: move it away, then "
                            "run again (with --resume)")
        remove_folder(previous)
        os.replace(folder, previous)
    os.replace(unfinished(folder), folder)
    fsync_folder(folder.parent)
    if not keep_previous:
        remove_folder(previous)


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = parse_json((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("files"),
                                                                 dict) else None


def _check(folder: Path, plan: dict[str, int] | None = None
           ) -> tuple[str | None, dict[str, Any] | None]:
    """(What is wrong with a saved folder, or None; its stage and step from the manifest).

    Whatever the manifest holds is checked as data: file names that are plain names, sizes and
    digests of the right types, a known stage and, with ``plan``, a step within its steps."""
    manifest = _manifest(folder)
    if manifest is None:
        return f"no readable {MANIFEST}, which is written last", None
    for name, expected in manifest["files"].items():
        if (not isinstance(expected, dict) or type(expected.get("size")) is not int
                or not isinstance(expected.get("sha256"), str) or Path(name).name != name
                or name in ("", ".", "..")):
            return f"its {MANIFEST} has a malformed entry {name[:40]!r}", None
        path = folder / name
        if linked(path) is not None or not path.is_file():
            return f"{name} is missing or a link", None
        if path.stat().st_size != expected["size"]:
            return f"{name} has {path.stat().st_size} bytes, not {expected['size']}", None
        if _sha256(path) != expected["sha256"]:
            return f"{name} does not match its SHA-256", None
    where = manifest.get("position")
    if where is None:
        return None, None
    if (not isinstance(where, dict) or where.get("stage") not in STAGE_ORDER
            or type(where.get("step")) is not int or where["step"] < 0):
        return f"its {MANIFEST} names no known stage and step ({str(where)[:60]})", None
    if plan is not None and where["step"] > plan.get(where["stage"], -1):
        planned = plan.get(where["stage"])
        return (f"it is at {where['stage']} step {where['step']}, which the run's plan does not "
                "have (" + (f"{planned} steps" if planned is not None else "no such stage")
                + ")"), None
    return None, where


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
