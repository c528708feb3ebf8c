"""What each stage optimises: a stage is a value (steps, batch size, learning rate, objective).

An objective turns the summed response log-probabilities of a (micro-)batch into the sum of its
losses and the sums of its metrics; its weight (response tokens for SFT, pairs for the preference
stage) normalises both. The trainer divides by the weight of the whole global batch, so that
micro-batches accumulate to exactly the global batch's mean, and it averages metrics over batches
and processes without knowing which stage it runs:

- :class:`SupervisedObjective`: token-mean negative log-likelihood of the chosen responses;
- :class:`PreferenceObjective`: the loss family's member (:class:`upo_theory.LossSpec`) against
  π_ref, whose sequence log-probabilities are computed once per pair under ``no_grad`` before the
  stage (:meth:`PreferenceObjective.prepare`) and cached in ``<run_dir>/ref_logps.pt`` with
  their SHA-256: no reference forward per training step, and a resumed run reloads them. A cache
  that is damaged (unreadable, wrong shape, checksum mismatch) is computed again, with a line
  saying so, from π_ref itself (:meth:`llm.run.Run.reference_model` when the run resumes within
  the stage, since its model has moved on).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from upo_theory import LossSpec

from .batching import Batch, TokenizedPair, preference_batch, sft_batch, visited_pairs
from .config import TrainConfig
from .distributed import World
from .files import write_atomically
from .losses import pair_losses
from .scoring import score_batches, sequence_logps

if TYPE_CHECKING:
    from .run import Run

REFERENCE_CACHE = "ref_logps.pt"
REFERENCE_BATCH = 32
"""Pairs per forward pass when the reference log-probabilities are computed."""


@dataclass
class Scored:
    """One batch through an objective: the sum of its losses and the sums of its metrics."""

    loss: torch.Tensor
    sums: dict[str, torch.Tensor]


class SupervisedObjective:
    """Token-mean NLL of the chosen responses over the global batch (prompt tokens masked)."""

    evaluates_start = False
    """Whether the stage's curves start with an evaluation at step 0."""

    def batch(self, pairs: Sequence[TokenizedPair], pad_id: int, pad_to_multiple: int = 1
              ) -> Batch:
        return sft_batch(list(pairs), pad_id, pad_to_multiple)

    def weight(self, batch: Batch) -> float:
        """What the loss is a mean over: the batch's response tokens."""
        return float(batch.response_mask.sum())

    def prepare(self, run: Run) -> None:
        """Nothing to compute before SFT."""

    def __call__(self, sums: torch.Tensor, counts: torch.Tensor, ids: Sequence[int],
                 split: str) -> Scored:
        nll = -sums.sum()
        return Scored(nll, {"loss": nll.detach()})


@dataclass
class PreferenceObjective:
    """The preference loss of ``spec`` at ``beta``, against the cached reference log-probs."""

    spec: LossSpec
    beta: float
    length: str
    pref_steps: int
    batch_size: int
    seed: int
    reference: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    evaluates_start = True

    @classmethod
    def of(cls, config: TrainConfig) -> PreferenceObjective:
        return cls(config.spec, config.beta, config.length, config.pref_steps, config.batch_size,
                   config.seed)

    def batch(self, pairs: Sequence[TokenizedPair], pad_id: int, pad_to_multiple: int = 1
              ) -> Batch:
        return preference_batch(list(pairs), pad_id, pad_to_multiple)

    def weight(self, batch: Batch) -> float:
        """What the loss is a mean over: the batch's pairs (half its rows)."""
        return batch.input_ids.shape[0] / 2

    def prepare(self, run: Run) -> None:
        """π_ref's log-probs of the pairs the stage visits and of the held-out pairs, cached.

        π_ref is the run's model as it is now, when the stage starts. Train pairs the stage
        never reaches hold NaN; the cache is reloaded from the run folder when present.
        """
        data, world = run.data, run.world
        path = run.folder / REFERENCE_CACHE
        rows = len(data.train) + len(data.eval)
        cached = load_reference_cache(path, rows, run.say)
        shared = run.config.reference_cache
        key = reference_key(run) if shared is not None else None  # hashes --init's files
        if cached is None and shared is not None:
            cached = load_reference_cache(Path(shared), rows, run.say, key)
            if cached is not None and world.main:
                save_reference_cache(path, cached)  # the run folder holds what it used
        if cached is None:
            resumed_within = run.resumed is not None and run.resumed["stage"] == "pref"
            model = (run.reference_model().to(world.device) if resumed_within else run.model)
            needed = visited_pairs(len(data.train), self.batch_size, self.seed, self.pref_steps)
            scored = reference_logps(model, [data.train[i] for i in needed] + data.eval,
                                     run.tokenizer.pad_token_id, world)
            cached = torch.full((len(data.train) + len(data.eval), 4), float("nan"),
                                dtype=torch.float64)
            cached[needed] = scored[: len(needed)]
            cached[len(data.train):] = scored[len(needed):]
            if world.main:
                save_reference_cache(path, cached)
                if shared is not None:
                    save_reference_cache(Path(shared), cached, key)
        self.reference = {"train": cached[: len(data.train)], "eval": cached[len(data.train):]}

    def __call__(self, sums: torch.Tensor, counts: torch.Tensor, ids: Sequence[int],
                 split: str) -> Scored:
        policy_c, policy_r = sequence_logps(sums, counts, self.length).chunk(2)
        ref = self.reference[split][list(ids)].to(sums.device)  # float64, as pair_losses works
        ref_c = sequence_logps(ref[:, 0], ref[:, 2], self.length)
        ref_r = sequence_logps(ref[:, 1], ref[:, 3], self.length)
        losses, statistic = pair_losses(self.spec, policy_c, policy_r, ref_c, ref_r, self.beta)
        t_w, t_l = (policy_c - ref_c).detach(), (policy_r - ref_r).detach()
        chosen, rejected = self.beta * t_w, self.beta * t_l
        columns = {
            "loss": losses.detach(), "rewards/accuracies": (t_w > t_l).to(t_w.dtype),
            "rewards/chosen": chosen, "rewards/rejected": rejected,
            "rewards/margins": chosen - rejected, "statistic": statistic.detach(),
            "logps/chosen": policy_c.detach(), "logps/rejected": policy_r.detach(),
        }
        return Scored(losses.sum(), {name: column.sum() for name, column in columns.items()})


def save_reference_cache(path: Path, logps: torch.Tensor, key: str | None = None) -> None:
    """Write the reference log-probs, their SHA-256 (and what they were computed for, ``key``)
    to ``path`` atomically."""
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
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, pickle.UnpicklingError) as error:
        say(f"{path} is damaged ({str(error).splitlines()[0]}); computing the reference "
            "log-probs again (it is a cache)")
        return None
    return logps


def reference_key(run: Run) -> str:
    """What π_ref's log-probs depend on: the reference model's weights and tokenizer (the
    ``--init`` folder's files), the pairs (data settings, seed, truncation), the pairs the stage
    visits (batch size, steps) and the device type. Runs with the same key share a cache."""
    config = run.config
    fields = ("data", "data_path", "eval_data_path", "eval_fraction", "holdout",
              "offline_train_pairs", "offline_eval_pairs", "eval_pairs", "seed", "max_length",
              "batch_size", "pref_steps", "stage", "init", "model", "n_layer", "n_embd",
              "n_head")
    folder = Path(config.init or config.model or ".")
    files = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*"))
             if f.is_file() and folder != Path(".")}
    return json.dumps({"settings": {name: getattr(config, name) for name in fields},
                       "files": files, "device": run.world.device.type}, sort_keys=True)


def _digest(logps: torch.Tensor) -> str:
    return hashlib.sha256(logps.contiguous().numpy().tobytes()).hexdigest()


def reference_logps(model, pairs: list[TokenizedPair], pad_id: int, world: World,
                    batch_size: int = REFERENCE_BATCH) -> torch.Tensor:
    """Summed log-probs and token counts under the frozen model, shape (n, 4): c, r, n_c, n_r."""
    starts = range(0, len(pairs), batch_size)
    batches = (preference_batch(pairs[s: s + batch_size], pad_id) for s in
               tqdm(starts, desc="reference log-probs", disable=not world.main, leave=False))
    rows = [torch.stack([*sums.chunk(2), *counts.double().chunk(2)], dim=1)
            for sums, counts in score_batches(model, batches, world.device, world.autocast)]
    return torch.cat(rows) if rows else torch.zeros(0, 4, dtype=torch.float64)


@dataclass(frozen=True)
class Stage:
    """One stage of a run: its name, length, batch size, learning rate and objective."""

    name: str
    steps: int
    batch_size: int
    lr: float
    objective: SupervisedObjective | PreferenceObjective
    first_step: int
    """Global steps of the run's stages before this one (``stop_after`` counts globally)."""
    batch_flag: str
    """The option that sets ``batch_size``, for messages."""
    saves_to: str | None = None
    """Folder (in the run folder) where the model is saved when the stage ends."""


def plan(config: TrainConfig) -> list[Stage]:
    """The stages ``config`` trains, in order."""
    stages = {
        "sft": Stage("sft", config.sft_steps, config.sft_batch_size, config.sft_lr,
                     SupervisedObjective(), 0, "--sft-batch-size", saves_to="sft"),
        "pref": Stage("pref", config.pref_steps, config.batch_size, config.lr,
                      PreferenceObjective.of(config),
                      config.sft_steps if config.stage == "both" else 0, "--batch-size"),
    }
    names = ("sft", "pref") if config.stage == "both" else (config.stage,)
    return [stages[name] for name in names]
