"""Atomic checkpoints: model (safetensors), optimizer, scheduler, RNG states, step, data position.

A checkpoint is a folder ``<run_dir>/checkpoint`` holding ``model/`` (``save_pretrained``),
``state.pt`` (optimizer, scheduler, RNG states, stage, step, data position) and ``config.json``.
It is written to a temporary sibling folder, every file fsynced, then swapped in with
``os.replace``: a run killed at any moment leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint"


@dataclass
class TrainingState:
    """Where training is: the stage, its optimizer step and the samples of data consumed."""

    stage: str
    step: int
    data_position: int


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


def save_model(model, tokenizer, folder: Path, config_json: str) -> None:
    """``save_pretrained`` model and tokenizer plus the run config into ``folder``, atomically."""
    temporary = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary, safe_serialization=True)
    tokenizer.save_pretrained(temporary)
    (temporary / "run_config.json").write_text(config_json)
    _replace(temporary, folder)


def _replace(temporary: Path, folder: Path) -> None:
    _fsync_tree(temporary)
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(temporary, folder)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(run_dir: Path, model, tokenizer, optimizer, scheduler,
                    state: TrainingState, config_json: str) -> Path:
    """Write the checkpoint of ``run_dir`` atomically; return its folder."""
    folder = run_dir / CHECKPOINT
    temporary = run_dir / (CHECKPOINT + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    model.save_pretrained(temporary / "model", safe_serialization=True)
    tokenizer.save_pretrained(temporary / "model")
    torch.save({
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        "stage": state.stage, "step": state.step, "data_position": state.data_position,
    }, temporary / "state.pt")
    (temporary / "config.json").write_text(config_json)
    _replace(temporary, folder)
    return folder


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The saved state of ``run_dir`` (with ``model_dir``), or None when it has no checkpoint."""
    folder = run_dir / CHECKPOINT
    if not (folder / "state.pt").is_file():
        old = run_dir / (CHECKPOINT + ".old")  # killed between the two renames
        if not (old / "state.pt").is_file():
            return None
        folder = old
    state = torch.load(folder / "state.pt", weights_only=False)
    state["model_dir"] = folder / "model"
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["rng"]["torch"])
    if torch.cuda.is_available() and state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
