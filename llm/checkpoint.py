"""Atomic saved models and checkpoints: model (safetensors), tokenizer, run config, training state.

Every saved folder is written by :func:`save_model`: ``save_pretrained`` model and tokenizer and
the run's ``run_config.json`` go into a temporary sibling folder, every file is fsynced, and the
folder is swapped in with ``os.replace``, so a run killed at any moment leaves either the
previous folder or the new one. A checkpoint (``<run_dir>/checkpoint``) is such a model folder
plus ``state.pt``: optimizer, scheduler, RNG states, stage and step.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint"
RUN_CONFIG = "run_config.json"
STATE = "state.pt"


@dataclass(frozen=True)
class TrainingState:
    """Where training is: the stage and its optimizer step."""

    stage: str
    step: int


def save_model(model, tokenizer, folder: Path, config_json: str,
               state: dict[str, Any] | None = None) -> Path:
    """``save_pretrained`` model and tokenizer, the run config (and a ``state``) atomically."""
    temporary = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary, safe_serialization=True)
    tokenizer.save_pretrained(temporary)
    (temporary / RUN_CONFIG).write_text(config_json)
    if state is not None:
        torch.save(state, temporary / STATE)
    _fsync_tree(temporary)
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(temporary, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def save_checkpoint(run_dir: Path, model, tokenizer, optimizer, scheduler,
                    where: TrainingState, config_json: str) -> Path:
    """Write the checkpoint of ``run_dir`` atomically; return its folder."""
    state = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        "stage": where.stage, "step": where.step,
    }
    return save_model(model, tokenizer, run_dir / CHECKPOINT, config_json, state)


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The saved state of ``run_dir`` (with ``model_dir``), or None when it has no checkpoint."""
    folder = run_dir / CHECKPOINT
    if not (folder / STATE).is_file():
        old = run_dir / (CHECKPOINT + ".old")  # killed between the two renames
        if not (old / STATE).is_file():
            return None
        folder = old
    state = torch.load(folder / STATE, weights_only=False)
    state["model_dir"] = folder
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["rng"]["torch"])
    if torch.cuda.is_available() and state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
