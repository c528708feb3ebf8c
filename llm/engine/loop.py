"""The training loop: one stage from its start (or the resumed checkpoint) to its last step.

:func:`train_stage` is the same loop for every stage (:func:`llm.engine.objectives.plan`): the
layout (:func:`layout`: FSDP2, DDP or one process), the seeded batch order, gradient accumulation
over micro-batches (:func:`accumulate_gradients`), clipping, AdamW with linear warm-up
(:func:`optimizer_at_start`), logging, held-out evaluation (:func:`evaluate`) and checkpoints.
It only trains: the summary is a separate step (:mod:`llm.evaluation.summary`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ..data.batching import batch_indices, length_groups
from ..data.layout import AnyBatch
from ..data.packing import attention_width
from .checkpoint import CheckpointError, restore_rng
from .objectives import Stage
from .reference import ReferenceLogps
from .scoring import forward_work
from .session import TrainingSession
from .sharding import as_float, gradient_sync, load_sharded_state, shard
from .throughput import Throughput, peak_flops

COMPILED_WIDTH = 64
"""With ``--compile``, batch widths are padded to multiples of this (few shapes to compile)."""


class TrainingDivergedError(RuntimeError):
    """The loss or gradient became NaN or infinite; the message names the step."""


class Stopped(Exception):
    """The ``stop_after`` debug hook fired (a simulated kill after a checkpoint)."""


Probe = Callable[[int], dict[str, float]]
"""An evaluation the caller adds at chosen steps (the truth evaluation over training,
:mod:`llm.evaluation.truth_probe`): given the step, the metrics it logs with ``split`` "truth".
It must leave every random state as it found it, so a resumed run stays exact."""


def train_stage(session: TrainingSession, stage: Stage,
                reference: ReferenceLogps | None = None,
                probe: tuple[int, Probe] | None = None) -> None:
    """Train ``stage`` from its start (or the resumed checkpoint) to its last step; a stage whose
    objective needs π_ref is given its log-probs, ``reference``; ``probe`` (every, call) logs
    ``call(step)`` every ``every`` steps (on the main process, which writes the metrics)."""
    config, world, model = session.config, session.world, session.model
    stage = stage.with_reference(reference)
    trained = layout(session)
    optimizer, scheduler, step = optimizer_at_start(session, stage)
    if step == 0 and stage.objective.evaluates_start:  # the curves start from π_ref itself
        session.logger.log({"step": 0, "stage": stage.name, "split": "eval",
                            **evaluate(session, stage)})
    with tqdm(total=stage.steps, initial=step, desc=stage.name, disable=not world.main,
              dynamic_ncols=True) as bar:  # closed before an error's line is printed
        speed = Throughput(sum(p.numel() for p in model.parameters()), peak_flops(world.device))
        model.train()
        while step < stage.steps:
            ids = world.shard(batch_indices(len(session.data.train), stage.batch_size, config.seed,
                                            step))
            optimizer.zero_grad(set_to_none=True)
            metrics = accumulate_gradients(session, stage, trained, ids, speed)
            clip = config.grad_clip if config.grad_clip > 0 else float("inf")
            grad_norm = as_float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
            if not (np.isfinite(metrics["loss"]) and np.isfinite(grad_norm)):  # same on every rank
                raise TrainingDivergedError(
                    f"{stage.name} loss {metrics['loss']}, gradient norm {grad_norm} at step "
                    f"{step + 1}; {keep_last_good(session, stage, step, optimizer, scheduler)}")
            learning_rate = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            last = step == stage.steps
            if step % config.log_every == 0 or last:
                session.logger.log({"step": step, "stage": stage.name, "split": "train",
                                    **metrics, "grad_norm": grad_norm,
                                    "learning_rate": learning_rate, **speed.report()})
            if step % config.eval_every == 0 or last:
                session.logger.log({"step": step, "stage": stage.name, "split": "eval",
                                    **evaluate(session, stage)})
            if probe is not None and step % probe[0] == 0 and world.main:
                session.logger.log({"step": step, "stage": stage.name, "split": "truth",
                                    **probe[1](step)})
            stopping = (config.stop_after is not None
                        and stage.first_step + step >= config.stop_after)
            if step % config.save_every == 0 or last or stopping:
                session.checkpoint(stage, step, optimizer, scheduler)
            if stopping:
                raise Stopped


def layout(session: TrainingSession) -> torch.nn.Module:
    """The scorer as it trains: sharded with FSDP2 (``--fsdp``; in place, so evaluation and the
    checkpoints see it too), wrapped in DistributedDataParallel under ``torchrun``, else as is."""
    if session.config.fsdp:
        return shard(session.scorer, session.world)
    if session.world.distributed:
        return DistributedDataParallel(session.scorer)
    return session.scorer


def keep_last_good(session: TrainingSession, stage: Stage, step: int, optimizer, scheduler
                   ) -> str:
    """Checkpoint the weights of the last good step before a diverged one; where they are. At a
    stage's first step they are the stage's start, already saved (and AdamW has no state yet,
    which a sharded checkpoint could not restore)."""
    if step == 0:
        return (f"the last good state is the {stage.name} stage's start; a --resume starts the "
                "stage again")
    session.checkpoint(stage, step, optimizer, scheduler)
    return f"the last good state (step {step}) is checkpointed in {session.folder / 'checkpoint'}"


def optimizer_at_start(session: TrainingSession, stage: Stage
                       ) -> tuple[torch.optim.Optimizer, Any, int]:
    """AdamW with linear warm-up for ``stage``, and the step it starts at (restored on resume).

    On CUDA the fused AdamW kernel updates every parameter in one launch.
    """
    optimizer = torch.optim.AdamW(session.model.parameters(), lr=stage.lr,
                                  weight_decay=session.config.weight_decay,
                                  fused=session.world.device.type == "cuda")
    warmup = max(1, session.config.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    resumed = session.resume_state(stage)
    if resumed is None:
        return optimizer, scheduler, 0
    try:
        if session.config.fsdp:  # the model's and AdamW's shards
            load_sharded_state(session.model, optimizer, resumed["model_dir"],
                               resumed["param_groups"])
        else:
            optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        restore_rng(resumed)
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as error:
        folder = resumed["model_dir"]
        raise CheckpointError(f"{folder}/state.pt does not fit this run's model and optimizer "
                              f"({type(error).__name__}: {str(error)[:100]}); move {folder} "
                              "aside, then pass --resume again") from None
    return optimizer, scheduler, resumed["step"]


def micro_batches(session: TrainingSession, stage: Stage, ids: list[int], split: str, size: int
                  ) -> list[tuple[list[int], AnyBatch]]:
    """The pairs ``ids`` of ``split`` as batches in the run's layout (``session.layout``) of at
    most ``size`` pairs of similar lengths (``size`` 0: one batch in the given order), on the
    run's device."""
    pairs = getattr(session.data, split)
    pad = COMPILED_WIDTH if session.config.compile else 1
    width = attention_width(session.model)
    groups = length_groups([pairs[i].length for i in ids], size)
    return [([ids[k] for k in group],
             stage.objective.batch([pairs[ids[k]] for k in group], session.tokenizer.pad_token_id,
                                   session.layout, pad, width).to(session.world.device))
            for group in groups]


def accumulate_gradients(session: TrainingSession, stage: Stage, scorer, ids: list[int],
                         speed: Throughput) -> dict[str, float]:
    """Gradient of the global batch's mean loss from this rank's pairs ``ids``, in micro-batches.

    Each micro-batch's loss sum is divided by the weight (pairs or tokens) of the whole global
    batch, so the accumulated gradient is the global batch's, whatever the micro-batch size;
    DDP and FSDP2 synchronise only after the last one. Returns the metrics averaged over every rank.
    """
    world = session.world
    batches = micro_batches(session, stage, ids, "train", session.config.micro_batch_size)
    total = world.sum(torch.tensor(sum(stage.objective.weight(b) for _, b in batches),
                                   dtype=torch.float64, device=world.device))
    sums: dict[str, torch.Tensor] = {}
    for k, (group, batch) in enumerate(batches):
        last = k == len(batches) - 1
        with gradient_sync(scorer, world, last):
            with world.autocast():
                logps, counts = scorer(batch, session.config.forward_rows)
            scored = stage.objective(logps, counts, group, "train")
            (scored.loss / total.float() * world.size).backward()  # DDP averages over ranks
        for name, value in scored.sums.items():
            sums[name] = sums.get(name, 0.0) + value.double()
    work = [forward_work(b, session.config.forward_rows) for _, b in batches]
    counted = world.sum(torch.tensor(work, device=world.device).sum(dim=0))
    speed.add(int(counted[0]), int(counted[1]))
    reduced = world.sum(torch.stack(list(sums.values())))
    return {name: (reduced[i] / total).item() for i, name in enumerate(sums)}


@torch.no_grad()
def evaluate(session: TrainingSession, stage: Stage) -> dict[str, float]:
    """The stage's metrics on the held-out pairs, each rank scoring a strided share. With
    ``--fsdp`` every rank runs as many forwards as the busiest (repeating its last batch,
    unscored), since each sharded forward is a collective."""
    world, model = session.world, session.model
    model.eval()
    mine = list(range(world.rank, len(session.data.eval), world.size))
    size = session.config.micro_batch_size or 2 * session.config.batch_size
    batches = micro_batches(session, stage, mine, "eval", size)
    rounds = world.most(len(batches)) if session.config.fsdp else len(batches)
    sums: dict[str, torch.Tensor] = {}
    weight = 0.0
    for k in range(rounds):
        group, batch = batches[min(k, len(batches) - 1)]
        with world.autocast():
            logps, counts = session.scorer.score(batch, session.config.forward_rows)
        if k >= len(batches):
            continue
        for name, value in stage.objective(logps, counts, group, "eval").sums.items():
            sums[name] = sums.get(name, 0.0) + value.double()
        weight += stage.objective.weight(batch)
    names = sorted(sums)
    reduced = world.sum(torch.stack([*(sums[n] for n in names),
                                     torch.tensor(weight, dtype=torch.float64,
                                                  device=world.device)]))
    model.train()
    return {n: (reduced[i] / reduced[-1]).item() for i, n in enumerate(names)}
