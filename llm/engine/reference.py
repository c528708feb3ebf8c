"""π_ref's sequence log-probabilities as data: computed or loaded once, before the preference stage.

:func:`load_or_compute_reference` returns a :class:`ReferenceLogps` (as TRL keeps
``ref_chosen_logps`` / ``ref_rejected_logps`` as columns of its dataset) for every training pair
the stage will visit (others hold NaN) and every held-out pair, computed under ``no_grad`` from
π_ref. It is cached in ``<run_dir>/ref_logps.pt`` with its SHA-256, so a resumed run reloads it,
and, with ``--reference-cache``, in a file that runs from the same start on the same data share
(:func:`reference_key` says which). A cache that is damaged (unreadable, wrong shape, checksum
mismatch) is computed again, with a line saying so; a ``--reference-cache`` file that is no
cache of ours (:func:`check_shared_cache`) is refused before the run starts, never overwritten.
The preference objective
(:class:`llm.engine.objectives.PreferenceObjective`) is then a pure function of the policy's
log-probs and this data.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from upo_theory import UserError
from upo_theory.cli import write_atomically

from ..config import TrainConfig
from ..data.batching import TokenizedPair, visited_pairs
from ..data.layout import BatchLayout
from ..data.packing import attention_width
from ..data.training_data import TrainingData
from .distributed import World
from .scoring import score_batches

REFERENCE_CACHE = "ref_logps.pt"
REFERENCE_BATCH = 32
"""Pairs per forward pass when the reference log-probabilities are computed."""
REFERENCE_KEY_FIELDS = TrainConfig.marked("reference_key")
"""What π_ref's log-probs depend on, marked on the fields of :class:`~llm.config.TrainConfig`
(``metadata["reference_key"]``): the pairs (data settings, seed, truncation), the pairs the stage
visits (batch size, steps) and the reference model (``--init``, ``--model``, architecture)."""


class ReferenceCacheError(UserError):
    """A ``--reference-cache`` path that holds a file which is not a reference cache."""


@dataclass(frozen=True)
class ReferenceLogps:
    """π_ref's summed log-probs and token counts per pair, float64 of shape (pairs, 4): columns
    chosen and rejected log-prob, chosen and rejected token count; per split."""

    train: torch.Tensor
    eval: torch.Tensor

    def rows(self, split: str, ids: Sequence[int]) -> torch.Tensor:
        """The rows of pairs ``ids`` of ``split`` (``train`` or ``eval``), shape (len(ids), 4)."""
        return getattr(self, split)[list(ids)]


def load_or_compute_reference(config: TrainConfig, world: World, folder: Path,
                              data: TrainingData, pad_id: int,
                              reference_model: Callable[[], torch.nn.Module],
                              say: Callable[[str], None], layout: BatchLayout
                              ) -> ReferenceLogps:
    """π_ref's log-probs of the pairs the preference stage visits and of the held-out pairs:
    from the run's cache, else the shared ``--reference-cache``, else computed with
    ``reference_model()`` in the run's ``layout`` and then cached in both."""
    path = folder / REFERENCE_CACHE
    rows = len(data.train) + len(data.eval)
    cached = load_reference_cache(path, rows, say)
    shared = config.reference_cache
    key = reference_key(config, world) if shared is not None else None  # hashes --init's files
    if cached is None and shared is not None:
        cached = load_reference_cache(Path(shared), rows, say, key)
        if cached is not None and world.main:
            save_reference_cache(path, cached)  # the run folder holds what it used
    if cached is None:
        model = reference_model()
        needed = visited_pairs(len(data.train), config.batch_size, config.seed,
                               config.pref_steps)
        scored = reference_logps(model, [data.train[i] for i in needed] + data.eval, pad_id,
                                 world, layout=layout)
        cached = torch.full((rows, 4), float("nan"), dtype=torch.float64)
        cached[needed] = scored[: len(needed)]
        cached[len(data.train):] = scored[len(needed):]
        if world.main:
            save_reference_cache(path, cached)
            if shared is not None:
                save_reference_cache(Path(shared), cached, key)
    return ReferenceLogps(cached[: len(data.train)], cached[len(data.train):])


def save_reference_cache(path: Path, logps: torch.Tensor, key: str | None = None) -> None:
    """Write the reference log-probs, their SHA-256 (and what they were computed for, ``key``)
    to ``path`` atomically, its folders made (``--reference-cache`` may name new ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"logps": logps, "sha256": _digest(logps), "key": key}, buffer)
    write_atomically(path, buffer.getvalue())


def load_reference_cache(path: Path, rows: int, say: Callable[[str], None],
                         key: str | None = None) -> torch.Tensor | None:
    """The cached (rows, 4) reference log-probs at ``path``; None when absent, damaged (said)
    or, with ``key``, computed for other settings (said)."""
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, weights_only=True)
        if key is not None and saved.get("key") != key:
            say(f"{path} holds the reference log-probs of other settings; computing them")
            return None
        logps = saved["logps"]
        if logps.dtype != torch.float64 or tuple(logps.shape) != (rows, 4):
            raise ValueError(f"shape {tuple(logps.shape)} {logps.dtype}, not ({rows}, 4) float64")
        if _digest(logps) != saved["sha256"]:
            raise ValueError("its values do not match their SHA-256")
    except READ_ERRORS as error:
        say(f"{path} is damaged ({_why(error)}); computing the reference log-probs again (it is "
            "a cache)")
        return None
    return logps


READ_ERRORS = (OSError, RuntimeError, EOFError, ValueError, KeyError, IndexError, TypeError,
               AttributeError, pickle.UnpicklingError)
"""What reading a file that is no cache of ours (or a damaged one) raises."""


def _why(error: BaseException) -> str:
    """Our words for why a file is no readable cache (torch's own would advise to load it with
    code execution allowed, which a cache never needs)."""
    if isinstance(error, (ValueError, KeyError)) and not isinstance(
            error, pickle.UnpicklingError):
        return str(error).splitlines()[0][:120]
    return "not a file of tensors that loads as data"


def check_shared_cache(path: Path) -> None:
    """Raise :class:`ReferenceCacheError` when ``--reference-cache`` names a file that is not a
    reference cache written by llm.train (a cache of other settings, or a damaged one, is ours
    and is computed again; anything else is a user's file and is never overwritten)."""
    if not os.path.lexists(path):
        return
    try:
        saved = torch.load(path, weights_only=True)
        if not isinstance(saved, dict) or not {"logps", "sha256", "key"} <= set(saved):
            raise ValueError("not a dict of logps, sha256 and key")
    except READ_ERRORS as error:
        raise ReferenceCacheError(
            f"--reference-cache {path} is not a reference cache of llm.train ({_why(error)}); "
            "nothing was written: give another path, or delete the file if it is yours to "
            "lose") from None


def reference_key(config: TrainConfig, world: World) -> str:
    """What π_ref's log-probs depend on: the settings of :data:`REFERENCE_KEY_FIELDS`, the
    reference model's files (the ``--init`` or ``--model`` folder's) and the device type. Runs
    with the same key share a cache."""
    folder = Path(config.init or config.model or ".")
    model_files = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
                   for f in sorted(folder.glob("*")) if f.is_file() and folder != Path(".")}
    return json.dumps({"settings": {name: getattr(config, name) for name in REFERENCE_KEY_FIELDS},
                       "files": model_files, "device": world.device.type}, sort_keys=True)


def _digest(logps: torch.Tensor) -> str:
    return hashlib.sha256(logps.contiguous().numpy().tobytes()).hexdigest()


def reference_logps(model, pairs: list[TokenizedPair], pad_id: int, world: World,
                    batch_size: int = REFERENCE_BATCH,
                    layout: BatchLayout = BatchLayout.PADDED) -> torch.Tensor:
    """Summed log-probs and token counts under the frozen model, shape (n, 4): c, r, n_c, n_r;
    the batches in the run's ``layout``, as the policy's."""
    starts = range(0, len(pairs), batch_size)
    width = attention_width(model)
    batches = (layout.preference_batch(pairs[s: s + batch_size], pad_id, attention=width)
               for s in tqdm(starts, desc="reference log-probs", disable=not world.main,
                             leave=False))
    rows = [torch.stack([*sums.chunk(2), *counts.double().chunk(2)], dim=1)
            for sums, counts in score_batches(model, batches, world.device, world.autocast)]
    return torch.cat(rows) if rows else torch.zeros(0, 4, dtype=torch.float64)
