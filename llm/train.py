"""``python -m llm.train``: supervised fine-tuning, then preference training with the loss family.

Stage 1 (``sft``) maximises the log-likelihood of the chosen responses (prompt tokens masked);
the SFT model is saved in ``<run_dir>/sft``. Stage 2 (``pref``) trains the policy from it with
:func:`llm.losses.preference_loss`; its frozen starting point is π_ref, whose sequence
log-probabilities are computed once per example under ``no_grad`` before the stage (for the pairs
the stage visits and the held-out pairs) and cached in ``<run_dir>/ref_logps.pt``: no reference
forward per training step. ``--init`` starts from a
saved model folder, so one SFT run can serve many preference runs.

Outputs in ``<out_dir>/<run_name>``: ``config.json``, ``metrics.jsonl``/``metrics.csv``
(:mod:`llm.metrics`), ``checkpoint/`` (:mod:`llm.checkpoint`), ``sft/``, ``summary.json`` (final
evaluation), ``curves.png`` and, for the offline task, ``truth.json``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .batching import TokenizedPair, preference_batch, sft_batch, tokenize_pairs
from .checkpoint import (
    TrainingState,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
    save_model,
)
from .config import ConfigError, TrainConfig, build_parser, parse_args  # noqa: F401  (build_parser: the CLI of python -m llm.train)
from .data import DataError, PreferencePair, from_hh, load_pairs, split_by_prompt
from .distributed import World, close_world, init_world
from .losses import preference_loss
from .metrics import MetricsLogger
from .model import ModelError, load_model, offline_gpt2, offline_gpt2_tokenizer, set_dropout
from .scoring import SequenceScorer, sequence_logps

STAGE_ORDER = {"sft": 0, "pref": 1}
RESUMABLE_CHANGES = frozenset({"resume", "stop_after", "device", "threads",
                               "truth_eval_prompts"})


class TrainingDivergedError(RuntimeError):
    """The loss or gradient became NaN or infinite; the message names the step."""


@dataclass
class Data:
    """Tokenised train and held-out pairs."""

    train: list[TokenizedPair]
    eval: list[TokenizedPair]


# ----------------------------------------------------------------------------- setup

def _say(world: World, text: str) -> None:
    if world.main:
        print(text, file=sys.stderr, flush=True)


def load_data(config: TrainConfig, tokenizer, world: World) -> Data:
    """Read, convert, split and tokenise the pairs of ``config.data``."""
    if config.data == "offline":
        from .task import generate_pairs

        rows_train, rows_eval = generate_pairs(
            config.seed, config.offline_train_pairs, config.offline_eval_pairs)
        train = [from_hh(r) for r in rows_train]
        held: list[PreferencePair] = [from_hh(r) for r in rows_eval]
        _say(world, f"data: offline task, {len(train)} train / {len(held)} eval pairs")
    else:
        train, report = load_pairs(config.data, config.data_path)
        _say(world, f"data: {report.summary()}")
        if config.eval_data_path:
            held, held_report = load_pairs(config.data, config.eval_data_path, split="eval")
            _say(world, f"eval data: {held_report.summary()}")
        else:
            train, held = split_by_prompt(train, config.eval_fraction, config.seed)
    held = held[: config.eval_pairs]
    train_tok, train_report = tokenize_pairs(train, tokenizer, config.max_length)
    eval_tok, eval_report = tokenize_pairs(held, tokenizer, config.max_length)
    for name, report in (("train", train_report), ("eval", eval_report)):
        if report.dropped_empty or report.dropped_identical:
            _say(world, f"{name}: dropped {report.dropped_empty} pairs with an empty response and "
                        f"{report.dropped_identical} with identical responses after truncation "
                        f"to max_length={config.max_length}")
    for stage in config.stages:
        if len(train_tok) < config.stage_batch_size(stage):
            flag = "--sft-batch-size" if stage == "sft" else "--batch-size"
            raise DataError(f"only {len(train_tok)} training pairs for a {stage} batch of "
                            f"{config.stage_batch_size(stage)}; lower {flag} or add data")
    if len(eval_tok) < world.size:
        raise DataError(f"{len(eval_tok)} held-out pairs for {world.size} processes; pass "
                        "--eval-data-path or raise --eval-fraction")
    return Data(train_tok, eval_tok)


def initial_model(config: TrainConfig):
    """The model a run starts from (``--init``, ``--model`` or the offline GPT-2) and tokenizer."""
    if config.init:
        return load_model(config.init)
    if config.model:
        return load_model(config.model)
    model = offline_gpt2(config.n_layer, config.n_embd, config.n_head,
                         n_positions=max(128, config.max_length), seed=config.seed)
    return model, offline_gpt2_tokenizer()


def prepare_run_dir(config: TrainConfig) -> Path:
    """Create the run folder, or check that a resumed run's saved config matches this one."""
    run_dir = Path(config.out_dir) / config.resolved_run_name()
    saved = run_dir / "config.json"
    if config.resume:
        if not saved.is_file():
            raise ConfigError(f"--resume: {run_dir} has no config.json; start it without --resume")
        old = json.loads(saved.read_text())
        new = json.loads(config.to_json())
        changed = sorted(k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k])
        if changed:
            raise ConfigError(f"--resume with changed settings {changed}; use the saved ones "
                              f"in {saved}")
    elif saved.exists():
        raise ConfigError(f"run folder {run_dir} exists; pass --resume or another --run-name")
    return run_dir


def batch_indices(n: int, batch_size: int, seed: int, position: int) -> list[int]:
    """Global batch number ``position`` of a seeded, per-epoch reshuffled order (drop last)."""
    per_epoch = n // batch_size
    epoch, slot = divmod(position, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[slot * batch_size: (slot + 1) * batch_size].tolist()


def _autocast(world: World):
    if world.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------- reference cache

@torch.no_grad()
def reference_logps(model, pairs: list[TokenizedPair], pad_id: int, world: World,
                    batch_size: int = 32) -> torch.Tensor:
    """Summed log-probs and token counts under the frozen model, shape (n, 4): c, r, n_c, n_r."""
    scorer = SequenceScorer(model)
    was_training = model.training
    model.eval()
    out = torch.zeros(len(pairs), 4, dtype=torch.float64)
    starts = range(0, len(pairs), batch_size)
    for start in tqdm(starts, desc="reference log-probs", disable=not world.main, leave=False):
        chunk = pairs[start: start + batch_size]
        with _autocast(world):
            sums, counts = scorer.score(preference_batch(chunk, pad_id).to(world.device))
        out[start: start + len(chunk)] = torch.stack(
            [*sums.double().cpu().chunk(2), *counts.double().cpu().chunk(2)], dim=1)
    model.train(was_training)
    return out


def visited(n: int, config: TrainConfig) -> list[int]:
    """The training pairs that ``pref_steps`` batches visit (all of them after one epoch)."""
    steps_per_epoch = n // config.batch_size
    if config.pref_steps >= steps_per_epoch:
        return list(range(n))
    return sorted({i for s in range(config.pref_steps)
                   for i in batch_indices(n, config.batch_size, config.seed, s)})


# ----------------------------------------------------------------------------- one step

def sft_loss(scorer, pairs: list[TokenizedPair], pad_id: int, world: World
             ) -> tuple[torch.Tensor, dict[str, float], int]:
    """Token-mean NLL of the chosen responses over the global batch (DDP-consistent)."""
    batch = sft_batch(pairs, pad_id).to(world.device)
    with _autocast(world):
        sums, counts = scorer(batch.input_ids, batch.attention_mask, batch.targets,
                              batch.response_mask)
    totals = world.sum(torch.stack([-sums.sum().detach(), counts.sum().float()]).to(world.device))
    loss = -sums.sum() / totals[1] * world.size  # DDP averages gradients over ranks
    tokens = int(world.sum(batch.attention_mask.sum()).item())
    return loss, {"loss": (totals[0] / totals[1]).item()}, tokens


def pref_loss(scorer, pairs: list[TokenizedPair], ref: torch.Tensor, config: TrainConfig,
              pad_id: int, world: World) -> tuple[torch.Tensor, dict[str, float], int]:
    """Mean preference loss of this rank's pairs, with the all-reduced standard metrics."""
    batch = preference_batch(pairs, pad_id).to(world.device)
    with _autocast(world):
        sums, counts = scorer(batch.input_ids, batch.attention_mask, batch.targets,
                              batch.response_mask)
    policy_c, policy_r = sequence_logps(sums, counts, config.length).chunk(2)
    ref = ref.to(device=world.device, dtype=sums.dtype)
    ref_c = sequence_logps(ref[:, 0], ref[:, 2], config.length)
    ref_r = sequence_logps(ref[:, 1], ref[:, 3], config.length)
    spec = config.spec
    losses, statistic = preference_loss(policy_c, policy_r, ref_c, ref_r, beta=config.beta,
                                        psi=spec.psi, f=spec.divergence, form=spec.form)
    metrics = pref_metrics(losses, statistic, policy_c, policy_r, ref_c, ref_r, config.beta,
                           world)
    tokens = int(world.sum(batch.attention_mask.sum()).item())
    return losses.mean(), metrics, tokens


def pref_metrics(losses, statistic, policy_c, policy_r, ref_c, ref_r, beta: float,
                 world: World) -> dict[str, float]:
    """The standard metrics, averaged over the pairs of all ranks."""
    t_w, t_l = (policy_c - ref_c).detach(), (policy_r - ref_r).detach()
    columns = torch.stack([
        losses.detach(), (t_w > t_l).to(t_w.dtype), statistic.detach(), beta * t_w, beta * t_l,
        policy_c.detach(), policy_r.detach(), torch.ones_like(t_w)])
    totals = world.sum(columns.sum(dim=1).double())
    names = ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen",
             "rewards/rejected", "logps/chosen", "logps/rejected")
    return {name: (totals[i] / totals[-1]).item() for i, name in enumerate(names)}


@torch.no_grad()
def evaluate(stage: str, model, data: Data, ref_eval: torch.Tensor | None,
             config: TrainConfig, pad_id: int, world: World) -> dict[str, float]:
    """Metrics on the held-out pairs, each rank scoring a strided share."""
    scorer = SequenceScorer(model)
    model.eval()
    mine = list(range(world.rank, len(data.eval), world.size))
    size = 2 * config.batch_size
    weighted: dict[str, float] = {}
    total = 0.0
    for start in range(0, len(mine), size):
        ids = mine[start: start + size]
        pairs = [data.eval[i] for i in ids]
        if stage == "sft":
            batch = sft_batch(pairs, pad_id).to(world.device)
            with _autocast(world):
                sums, counts = scorer.score(batch)
            part = {"loss": (-sums.sum()).item()}
            weight = float(counts.sum())
        else:
            assert ref_eval is not None
            _, part, _ = pref_loss(scorer, pairs, ref_eval[ids], config, pad_id, _local(world))
            weight = float(len(ids))
            part = {k: v * weight for k, v in part.items()}
        for name, value in part.items():
            weighted[name] = weighted.get(name, 0.0) + value
        total += weight
    names = sorted(weighted)
    sums_tensor = world.sum(torch.tensor([weighted.get(n, 0.0) for n in names] + [total],
                                         dtype=torch.float64, device=world.device))
    model.train()
    return {n: (sums_tensor[i] / sums_tensor[-1]).item() for i, n in enumerate(names)}


def _local(world: World) -> World:
    """The same device as a one-process world (per-rank eval sums are reduced by the caller)."""
    return World(0, 1, world.device)


# ----------------------------------------------------------------------------- a stage

def train_stage(stage: str, model, tokenizer, data: Data, ref: torch.Tensor | None,
                config: TrainConfig, world: World, run_dir: Path, logger: MetricsLogger,
                resume_state: dict | None, global_done: int) -> int:
    """Train one stage to its last step; return the global step count after it."""
    steps = config.sft_steps if stage == "sft" else config.pref_steps
    lr = config.sft_lr if stage == "sft" else config.lr
    batch_size = config.stage_batch_size(stage)
    pad_id = tokenizer.pad_token_id
    scorer = SequenceScorer(model)
    trained = DistributedDataParallel(scorer) if world.distributed else scorer
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    warmup = max(1, config.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup))
    step = 0
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        restore_rng(resume_state)
        step = resume_state["step"]
    ref_train = ref_eval = None
    if ref is not None:
        ref_train, ref_eval = ref[: len(data.train)], ref[len(data.train):]
    config_json = config.to_json()

    def checkpoint(at: int) -> None:
        if world.main:
            save_checkpoint(
                run_dir, model, tokenizer, optimizer, scheduler,
                TrainingState(stage, at, at * batch_size), config_json)
        world.barrier()

    if step == 0 and stage == "pref":  # the curves start from the reference itself
        logger.log({"step": 0, "stage": stage, "split": "eval",
                    **evaluate(stage, model, data, ref_eval, config, pad_id, world)})
    bar = tqdm(total=steps, initial=step, desc=stage, disable=not world.main, dynamic_ncols=True)
    window_tokens, window_start = 0, time.perf_counter()
    model.train()
    while step < steps:
        ids = world.shard(batch_indices(len(data.train), batch_size, config.seed, step))
        pairs = [data.train[i] for i in ids]
        if stage == "sft":
            loss, metrics, tokens = sft_loss(trained, pairs, pad_id, world)
        else:
            loss, metrics, tokens = pref_loss(trained, pairs, ref_train[ids], config, pad_id,
                                              world)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = config.grad_clip if config.grad_clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        if not (np.isfinite(metrics["loss"]) and np.isfinite(grad_norm)):  # same on every rank
            checkpoint(step)  # the weights are still those after the last good step
            raise TrainingDivergedError(
                f"{stage} loss {metrics['loss']}, gradient norm {grad_norm} at step {step + 1}; "
                f"the last good state (step {step}) is checkpointed in {run_dir / 'checkpoint'}")
        learning_rate = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        step += 1
        window_tokens += tokens
        bar.update(1)
        bar.set_postfix(loss=f"{metrics['loss']:.4f}")
        if step % config.log_every == 0 or step == steps:
            elapsed = time.perf_counter() - window_start
            logger.log({"step": step, "stage": stage, "split": "train", **metrics,
                        "grad_norm": grad_norm, "learning_rate": learning_rate,
                        "tokens_per_s": window_tokens / max(elapsed, 1e-9)})
            window_tokens, window_start = 0, time.perf_counter()
        if step % config.eval_every == 0 or step == steps:
            logger.log({"step": step, "stage": stage, "split": "eval",
                        **evaluate(stage, model, data, ref_eval, config, pad_id, world)})
        if step % config.save_every == 0 or step == steps:
            checkpoint(step)
        if config.stop_after is not None and global_done + step >= config.stop_after:
            if step % config.save_every != 0 and step != steps:
                checkpoint(step)
            bar.close()
            raise _Stopped
    bar.close()
    return global_done + steps


class _Stopped(Exception):
    """The ``stop_after`` debug hook fired (a simulated kill after a checkpoint)."""


# ----------------------------------------------------------------------------- the run

def run(config: TrainConfig) -> Path:
    """Run the stages of ``config``; return the run folder."""
    transformers.utils.logging.disable_progress_bar()  # our bars are enough
    world = init_world(config.device)
    if config.threads > 0 and world.device.type == "cpu":
        torch.set_num_threads(config.threads)
    try:
        return _run(config, world)
    finally:
        close_world(world)


def _run(config: TrainConfig, world: World) -> Path:
    for stage in config.stages:
        if config.stage_batch_size(stage) % world.size:
            raise ConfigError(f"the {stage} batch size {config.stage_batch_size(stage)} must be "
                              f"divisible by the {world.size} processes")
    run_dir = prepare_run_dir(config)
    world.barrier()
    if world.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(config.to_json())
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    state = load_checkpoint(run_dir) if config.resume else None
    model, tokenizer = initial_model(config)
    data = load_data(config, tokenizer, world)
    if state is not None:
        model, _ = load_model(str(state["model_dir"]))
        _say(world, f"resuming {state['stage']} at step {state['step']} from {run_dir}")
    set_dropout(model, config.dropout)
    model.to(world.device)
    logger = MetricsLogger(run_dir, enabled=world.main)
    if state is not None and world.main:
        logger.truncate_after(state["stage"], state["step"])
    stages = {"sft": ["sft"], "pref": ["pref"], "both": ["sft", "pref"]}[config.stage]
    done = 0
    try:
        for stage in stages:
            resume_state = None
            if state is not None:
                if STAGE_ORDER[stage] < STAGE_ORDER[state["stage"]]:
                    done += config.sft_steps
                    continue
                if stage == state["stage"]:
                    resume_state = state
            ref = None
            if stage == "pref":
                ref = _reference_cache(model, data, config, tokenizer.pad_token_id, world,
                                       run_dir)
            done = train_stage(stage, model, tokenizer, data, ref, config, world, run_dir,
                               logger, resume_state, done)
            if stage == "sft" and world.main:
                save_model(model, tokenizer, run_dir / "sft", config.to_json())
            world.barrier()
    except _Stopped:
        _say(world, f"stopped after step {config.stop_after} (stop_after); resume with --resume")
        logger.close()
        return run_dir
    logger.close()
    if world.main:
        _finish(config, run_dir, model, tokenizer, data, world, started)
    world.barrier()
    return run_dir


def _reference_cache(model, data: Data, config: TrainConfig, pad_id: int, world: World,
                     run_dir: Path) -> torch.Tensor:
    """Reference log-probs of train then eval pairs, shape (n_train + n_eval, 4).

    Computed once, before the stage, for every pair the stage visits (train pairs it never
    reaches hold NaN), and saved in the run folder so that a resumed run reloads them.
    """
    path = run_dir / "ref_logps.pt"
    if path.is_file():
        return torch.load(path)
    needed = visited(len(data.train), config)
    pairs = [data.train[i] for i in needed] + data.eval
    scored = reference_logps(model, pairs, pad_id, world)
    ref = torch.full((len(data.train) + len(data.eval), 4), float("nan"), dtype=torch.float64)
    ref[needed] = scored[: len(needed)]
    ref[len(data.train):] = scored[len(needed):]
    if world.main:
        temporary = path.with_suffix(".tmp")
        torch.save(ref, temporary)
        temporary.replace(path)
    return ref


def _finish(config: TrainConfig, run_dir: Path, model, tokenizer, data: Data, world: World,
            started: float) -> None:
    """Summary, curves and (offline task) the evaluation against the true reward."""
    from .metrics import read_metrics

    rows = read_metrics(run_dir)
    final_eval = next((r for r in reversed(rows) if r["split"] == "eval"), {})
    summary = {"run": run_dir.name, "loss": config.spec.name, "beta": config.beta,
               "final_eval": final_eval, "seconds": round(time.perf_counter() - started, 1)}
    if "pref" in {r["stage"] for r in rows}:
        from .plot import plot_runs

        plot_runs([run_dir], run_dir / "curves.png")
        if config.data == "offline" and config.truth_eval_prompts > 0:
            from .truth import evaluate_with_truth

            reference_dir = run_dir / "sft" if config.stage == "both" else None
            reference, _ = (load_model(str(reference_dir)) if reference_dir
                            else initial_model(config))
            reference.to(world.device).eval()
            model.eval()
            extra = {"alpha": config.alpha} if config.alpha is not None else {}
            truth = evaluate_with_truth(
                model, reference, tokenizer, divergence=config.divergence_expression,
                seed=config.seed, n_prompts=config.truth_eval_prompts,
                max_new_tokens=config.truth_max_new_tokens, device=world.device, **extra)
            (run_dir / "truth.json").write_text(json.dumps(truth, indent=2))
            summary["truth"] = truth
            print("truth: " + json.dumps(truth), flush=True)
    if config.data == "offline":
        from .task import best_accuracy, generate_pairs, realised_accuracy

        _, rows_eval = generate_pairs(
            config.seed, config.offline_train_pairs, config.offline_eval_pairs)
        rows_eval = rows_eval[: config.eval_pairs]
        summary["best_eval_accuracy"] = best_accuracy(rows_eval)
        summary["true_reward_eval_accuracy"] = realised_accuracy(rows_eval)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"final eval: {json.dumps(final_eval)}", flush=True)
    if "best_eval_accuracy" in summary and "rewards/accuracies" in final_eval:
        print(f"eval accuracy {final_eval['rewards/accuracies']:.3f}; best "
              f"achievable (Bayes, r* itself) {summary['best_eval_accuracy']:.3f}, r* on these "
              f"labels {summary['true_reward_eval_accuracy']:.3f}", flush=True)
    print(f"run folder: {run_dir}", flush=True)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        run(config)
    except (ConfigError, DataError, ModelError) as error:
        print(f"python -m llm.train: error: {error}", file=sys.stderr)
        return 2
    except TrainingDivergedError as error:
        print(f"python -m llm.train: training diverged: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
