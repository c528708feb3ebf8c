"""``python -m llm.train``: supervised fine-tuning, then preference training with the loss family.

The run's story, top to bottom (:func:`run`): set the run up (:meth:`llm.run.Run.open`: folder,
model, tokenizer, data, logger, or the checkpoint to resume), train each stage of its plan
(:func:`llm.objectives.plan`; :func:`train_stage` is the same loop for every stage), then write
the summary, the curves and, for the offline task, the evaluation against the true reward
(:func:`finish`).

Stage ``sft`` maximises the log-likelihood of the chosen responses (prompt tokens masked) and
saves the SFT model in ``<run_dir>/sft``. Stage ``pref`` trains the policy from it with the run's
:class:`upo_theory.LossSpec`; its frozen starting point is π_ref, whose sequence log-probabilities
are computed once before the stage and cached in ``<run_dir>/ref_logps.pt``. ``--init`` starts
from a saved model folder, so one SFT run can serve many preference runs.

Outputs in ``<out_dir>/<run_name>``: ``config.json``, ``metrics.jsonl``/``metrics.csv``
(:mod:`llm.metrics`), ``checkpoint/`` (:mod:`llm.checkpoint`), ``sft/``, ``summary.json`` (final
evaluation), ``curves.png`` and, for the offline task, ``truth.json``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from upo_theory import run_cli

from .batching import Batch, batch_indices, length_groups
from .checkpoint import restore_rng
from .config import PROG, TrainConfig, build_parser, parse_args  # noqa: F401  (build_parser: the CLI of python -m llm.train)
from .distributed import close_world, init_world
from .files import write_atomically
from .metrics import read_metrics
from .objectives import Stage, plan
from .run import Run
from .scoring import forward_work
from .throughput import Throughput, peak_flops

COMPILED_WIDTH = 64
"""With ``--compile``, batch widths are padded to multiples of this (few shapes to compile)."""


class TrainingDivergedError(RuntimeError):
    """The loss or gradient became NaN or infinite; the message names the step."""


class Stopped(Exception):
    """The ``stop_after`` debug hook fired (a simulated kill after a checkpoint)."""


# ----------------------------------------------------------------------------- the run

def run(config: TrainConfig) -> Path:
    """Train the stages of ``config``; return the run folder."""
    transformers.utils.logging.disable_progress_bar()  # our bars are enough
    world = init_world(config.device, {s.batch_flag: s.batch_size for s in plan(config)},
                       config.deterministic)
    if config.threads > 0 and world.device.type == "cpu":
        torch.set_num_threads(config.threads)
    try:
        session = Run.open(config, world)
        try:
            for stage in session.stages:
                if not session.finished_before_resume(stage):
                    train_stage(session, stage)
                    session.save_stage_model(stage)
            if world.main:
                finish(session)  # still holding the run folder's lock
            world.barrier()
        except Stopped:
            session.say(f"stopped after step {config.stop_after} (stop_after); resume with "
                        "--resume")
        finally:
            session.close()
        return session.folder
    finally:
        close_world(world)


# ----------------------------------------------------------------------------- a stage

def train_stage(run: Run, stage: Stage) -> None:
    """Train ``stage`` from its start (or the resumed checkpoint) to its last step."""
    config, world, model = run.config, run.world, run.model
    stage.objective.prepare(run)
    trained = DistributedDataParallel(run.scorer) if world.distributed else run.scorer
    optimizer, scheduler, step = optimizer_at_start(run, stage)
    if step == 0 and stage.objective.evaluates_start:  # the curves start from π_ref itself
        run.logger.log({"step": 0, "stage": stage.name, "split": "eval",
                        **evaluate(run, stage)})
    bar = tqdm(total=stage.steps, initial=step, desc=stage.name, disable=not world.main,
               dynamic_ncols=True)
    speed = Throughput(sum(p.numel() for p in model.parameters()), peak_flops(world.device))
    model.train()
    while step < stage.steps:
        ids = world.shard(batch_indices(len(run.data.train), stage.batch_size, config.seed, step))
        optimizer.zero_grad(set_to_none=True)
        metrics = accumulate_gradients(run, stage, trained, ids, speed)
        clip = config.grad_clip if config.grad_clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        if not (np.isfinite(metrics["loss"]) and np.isfinite(grad_norm)):  # same on every rank
            run.checkpoint(stage, step, optimizer, scheduler)  # weights of the last good step
            raise TrainingDivergedError(
                f"{stage.name} loss {metrics['loss']}, gradient norm {grad_norm} at step "
                f"{step + 1}; the last good state (step {step}) is checkpointed in "
                f"{run.folder / 'checkpoint'}")
        learning_rate = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{metrics['loss']:.4f}")
        last = step == stage.steps
        if step % config.log_every == 0 or last:
            run.logger.log({"step": step, "stage": stage.name, "split": "train", **metrics,
                            "grad_norm": grad_norm, "learning_rate": learning_rate,
                            **speed.report()})
        if step % config.eval_every == 0 or last:
            run.logger.log({"step": step, "stage": stage.name, "split": "eval",
                            **evaluate(run, stage)})
        stopping = config.stop_after is not None and stage.first_step + step >= config.stop_after
        if step % config.save_every == 0 or last or stopping:
            run.checkpoint(stage, step, optimizer, scheduler)
        if stopping:
            bar.close()
            raise Stopped
    bar.close()


def optimizer_at_start(run: Run, stage: Stage) -> tuple[torch.optim.Optimizer, Any, int]:
    """AdamW with linear warm-up for ``stage``, and the step it starts at (restored on resume).

    On CUDA the fused AdamW kernel updates every parameter in one launch.
    """
    optimizer = torch.optim.AdamW(run.model.parameters(), lr=stage.lr,
                                  weight_decay=run.config.weight_decay,
                                  fused=run.world.device.type == "cuda")
    warmup = max(1, run.config.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    resumed = run.resume_state(stage)
    if resumed is None:
        return optimizer, scheduler, 0
    optimizer.load_state_dict(resumed["optimizer"])
    scheduler.load_state_dict(resumed["scheduler"])
    restore_rng(resumed)
    return optimizer, scheduler, resumed["step"]


def micro_batches(run: Run, stage: Stage, ids: list[int], split: str, size: int
                  ) -> list[tuple[list[int], Batch]]:
    """The pairs ``ids`` of ``split`` as padded batches of at most ``size`` pairs of similar
    lengths (``size`` 0: one batch in the given order), on the run's device."""
    pairs = getattr(run.data, split)
    pad = COMPILED_WIDTH if run.config.compile else 1
    groups = length_groups([pairs[i].length for i in ids], size)
    return [([ids[k] for k in group],
             stage.objective.batch([pairs[ids[k]] for k in group], run.tokenizer.pad_token_id,
                                   pad).to(run.world.device))
            for group in groups]


def accumulate_gradients(run: Run, stage: Stage, scorer, ids: list[int], speed: Throughput
                         ) -> dict[str, float]:
    """Gradient of the global batch's mean loss from this rank's pairs ``ids``, in micro-batches.

    Each micro-batch's loss sum is divided by the weight (pairs or tokens) of the whole global
    batch, so the accumulated gradient is the global batch's, whatever the micro-batch size;
    DDP synchronises only after the last one. Returns the metrics averaged over every rank.
    """
    world = run.world
    batches = micro_batches(run, stage, ids, "train", run.config.micro_batch_size)
    total = world.sum(torch.tensor(sum(stage.objective.weight(b) for _, b in batches),
                                   dtype=torch.float64, device=world.device))
    sums: dict[str, torch.Tensor] = {}
    for k, (group, batch) in enumerate(batches):
        last = k == len(batches) - 1
        with scorer.no_sync() if world.distributed and not last else contextlib.nullcontext():
            with world.autocast():
                logps, counts = scorer(batch.input_ids, batch.targets, batch.response_mask,
                                       run.config.forward_rows)
            scored = stage.objective(logps, counts, group, "train")
            (scored.loss / total.float() * world.size).backward()  # DDP averages over ranks
        for name, value in scored.sums.items():
            sums[name] = sums.get(name, 0.0) + value.double()
    work = [forward_work(b, run.config.forward_rows) for _, b in batches]
    counted = world.sum(torch.tensor(work, device=world.device).sum(dim=0))
    speed.add(int(counted[0]), int(counted[1]))
    reduced = world.sum(torch.stack(list(sums.values())))
    return {name: (reduced[i] / total).item() for i, name in enumerate(sums)}


@torch.no_grad()
def evaluate(run: Run, stage: Stage) -> dict[str, float]:
    """The stage's metrics on the held-out pairs, each rank scoring a strided share."""
    world, model = run.world, run.model
    model.eval()
    mine = list(range(world.rank, len(run.data.eval), world.size))
    size = run.config.micro_batch_size or 2 * run.config.batch_size
    sums: dict[str, torch.Tensor] = {}
    weight = 0.0
    for group, batch in micro_batches(run, stage, mine, "eval", size):
        with world.autocast():
            logps, counts = run.scorer.score(batch, run.config.forward_rows)
        for name, value in stage.objective(logps, counts, group, "eval").sums.items():
            sums[name] = sums.get(name, 0.0) + value.double()
        weight += stage.objective.weight(batch)
    names = sorted(sums)
    reduced = world.sum(torch.stack([*(sums[n] for n in names),
                                     torch.tensor(weight, dtype=torch.float64,
                                                  device=world.device)]))
    model.train()
    return {n: (reduced[i] / reduced[-1]).item() for i, n in enumerate(names)}


# ----------------------------------------------------------------------------- the end

def finish(run: Run) -> None:
    """``summary.json``, ``curves.png`` and, for the offline task, ``truth.json``."""
    config = run.config
    rows = read_metrics(run.folder)
    final_eval = next((r for r in reversed(rows) if r["split"] == "eval"), {})
    summary = {"run": run.folder.name, "loss": config.spec.name, "beta": config.beta,
               "final_eval": final_eval}
    if "pref" in {r["stage"] for r in rows}:
        from .plot import plot_runs

        plot_runs([run.folder], run.folder / "curves.png")
        if run.data.offline_eval_rows is not None and config.truth_eval_prompts > 0:
            summary["truth"] = truth_evaluation(run)
    if run.data.offline_eval_rows is not None:
        from .task import best_accuracy, realised_accuracy

        summary["best_eval_accuracy"] = best_accuracy(run.data.offline_eval_rows)
        summary["true_reward_eval_accuracy"] = realised_accuracy(run.data.offline_eval_rows)
    summary["seconds"] = round(time.perf_counter() - run.started, 1)
    # the experiment takes summary.json as "this run finished": never a torn one
    write_atomically(run.folder / "summary.json", json.dumps(summary, indent=2))
    print(f"final eval: {json.dumps(final_eval)}", flush=True)
    if "best_eval_accuracy" in summary and "rewards/accuracies" in final_eval:
        print(f"eval accuracy {final_eval['rewards/accuracies']:.3f}; best "
              f"achievable (Bayes, r* itself) {summary['best_eval_accuracy']:.3f}, r* on these "
              f"labels {summary['true_reward_eval_accuracy']:.3f}", flush=True)
    print(f"run folder: {run.folder}", flush=True)


def truth_evaluation(run: Run) -> dict[str, float]:
    """The trained policy against π_ref under the offline task's true reward; ``truth.json``."""
    from .truth import evaluate_with_truth

    config = run.config
    reference = run.reference_model().to(run.world.device)
    truth = evaluate_with_truth(
        run.model, reference, run.tokenizer, divergence=config.truth_divergence,
        seed=config.seed, n_prompts=config.truth_eval_prompts,
        max_new_tokens=config.truth_max_new_tokens, device=run.world.device)
    (run.folder / "truth.json").write_text(json.dumps(truth, indent=2))
    print("truth: " + json.dumps(truth), flush=True)
    return truth


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        return run_cli(PROG, lambda: run(config) and 0)
    except TrainingDivergedError as error:
        print(f"{PROG}: training diverged: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
