"""One training run held together: config, world, run folder, model, tokenizer, data and logger.

:meth:`Run.open` does the setup a run needs, in order: the run folder (or the checks that a
``--resume`` may continue it), the model (from the checkpoint when resuming, else from ``--init``,
``--model`` or the offline GPT-2), the data (read, converted, split and tokenised once; the
offline task's held-out rows are kept for its Bayes accuracy) and the metrics logger. The trainer
(:mod:`llm.train`) then only walks the stages.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .batching import TokenizedPair, tokenize_pairs
from .checkpoint import TrainingState, load_checkpoint, save_checkpoint, save_model
from .config import STAGE_ORDER, ConfigError, TrainConfig
from .data import DataError, PreferencePair, from_hh, load_pairs, split_by_prompt
from .distributed import World
from .metrics import MetricsLogger
from .model import load_model, offline_gpt2, offline_gpt2_tokenizer, set_dropout
from .objectives import Stage, plan
from .scoring import SequenceScorer

RESUMABLE_CHANGES = frozenset({"resume", "stop_after", "device", "threads",
                               "truth_eval_prompts", "micro_batch_size", "forward_rows", "compile",
                               "gradient_checkpointing", "deterministic"})
"""Settings a ``--resume`` may change: they change how, not what, the run computes."""


@dataclass
class Data:
    """Tokenised train and held-out pairs, and the offline task's held-out rows (else None)."""

    train: list[TokenizedPair]
    eval: list[TokenizedPair]
    offline_eval_rows: list[dict[str, str]] | None = None


@dataclass
class Run:
    """Everything one run works with; see the module notes for how :meth:`open` builds it."""

    config: TrainConfig
    world: World
    folder: Path
    model: torch.nn.Module
    tokenizer: Any
    data: Data
    stages: list[Stage]
    scorer: SequenceScorer
    logger: MetricsLogger
    resumed: dict[str, Any] | None
    started: float

    @classmethod
    def open(cls, config: TrainConfig, world: World) -> Run:
        """Set up the run of ``config`` on ``world`` (every rank builds the same run)."""
        started = time.perf_counter()
        for name, size in (("sft", config.sft_batch_size), ("pref", config.batch_size)):
            if size % world.size:
                raise ConfigError(f"the {name} batch size {size} must be divisible by the "
                                  f"{world.size} processes")
        folder = prepare_run_dir(config)
        world.barrier()
        if world.main:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text(config.to_json())
        torch.manual_seed(config.seed)
        resumed = load_checkpoint(folder) if config.resume else None
        model, tokenizer = (load_model(str(resumed["model_dir"])) if resumed is not None
                            else initial_model(config))
        stages = plan(config)
        data = load_data(config, tokenizer, world, stages)
        set_dropout(model, config.dropout)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False})
        model.to(world.device)
        scorer = SequenceScorer(model, compile=config.compile)
        logger = MetricsLogger(folder, enabled=world.main)
        run = cls(config, world, folder, model, tokenizer, data, stages, scorer, logger,
                  resumed, started)
        if resumed is not None:
            run.say(f"resuming {resumed['stage']} at step {resumed['step']} from {folder}")
            if world.main:
                logger.truncate_after(resumed["stage"], resumed["step"])
        return run

    def say(self, text: str) -> None:
        """A progress line on stderr, from the main process only."""
        if self.world.main:
            print(text, file=sys.stderr, flush=True)

    def finished_before_resume(self, stage: Stage) -> bool:
        """Whether the checkpoint being resumed lies after ``stage``."""
        return (self.resumed is not None
                and STAGE_ORDER.index(stage.name) < STAGE_ORDER.index(self.resumed["stage"]))

    def resume_state(self, stage: Stage) -> dict[str, Any] | None:
        """The checkpoint state to continue ``stage`` from, if the resumed run stopped in it."""
        if self.resumed is not None and self.resumed["stage"] == stage.name:
            return self.resumed
        return None

    def checkpoint(self, stage: Stage, step: int, optimizer, scheduler) -> None:
        """Write the checkpoint at ``step`` of ``stage`` (main process), then wait for all."""
        if self.world.main:
            save_checkpoint(self.folder, self.model, self.tokenizer, optimizer, scheduler,
                            TrainingState(stage.name, step), self.config.to_json())
        self.world.barrier()

    def save_stage_model(self, stage: Stage) -> None:
        """Save the model as the stage leaves it, where the stage says (``sft/``)."""
        if stage.saves_to is not None and self.world.main:
            save_model(self.model, self.tokenizer, self.folder / stage.saves_to,
                       self.config.to_json())
        self.world.barrier()

    def reference_model(self) -> torch.nn.Module:
        """π_ref of the preference stage, loaded again: the run's SFT model or its start."""
        if self.config.stage == "both":
            return load_model(str(self.folder / "sft"))[0]
        return initial_model(self.config)[0]


def prepare_run_dir(config: TrainConfig) -> Path:
    """The run folder; for ``--resume``, check that the saved config matches this one."""
    run_dir = Path(config.out_dir) / config.resolved_run_name()
    saved = run_dir / "config.json"
    if config.resume:
        if not saved.is_file():
            raise ConfigError(f"--resume: {run_dir} has no config.json; start it without --resume")
        old = json.loads(saved.read_text())
        new = config.to_dict()
        changed = sorted(k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k])
        if changed:
            raise ConfigError(f"--resume with changed settings {changed}; use the saved ones "
                              f"in {saved}")
    elif saved.exists():
        raise ConfigError(f"run folder {run_dir} exists; pass --resume or another --run-name")
    return run_dir


def initial_model(config: TrainConfig):
    """The model a run starts from (``--init``, ``--model`` or the offline GPT-2) and tokenizer."""
    if config.init:
        return load_model(config.init)
    if config.model:
        return load_model(config.model)
    model = offline_gpt2(config.n_layer, config.n_embd, config.n_head,
                         n_positions=max(128, config.max_length), seed=config.seed)
    return model, offline_gpt2_tokenizer()


def load_data(config: TrainConfig, tokenizer, world: World, stages: list[Stage]) -> Data:
    """Read, convert, split and tokenise the pairs of ``config.data``."""
    say = print if world.main else (lambda *a, **k: None)
    train, held, rows_eval = _pairs(config, say)
    if config.holdout == "validation":  # choosing settings must not look at the eval pairs
        train, held = split_by_prompt(train, config.eval_fraction, config.seed)
        held, rows_eval = held[: config.eval_pairs], None
        say(f"holdout: {len(held)} validation pairs from held-out training prompts",
            file=sys.stderr)
    train_tok = _tokenized(train, "train", config, tokenizer, say)
    eval_tok = _tokenized(held, "eval", config, tokenizer, say)
    for stage in stages:
        if len(train_tok) < stage.batch_size:
            raise DataError(f"only {len(train_tok)} training pairs for a {stage.name} batch of "
                            f"{stage.batch_size}; lower {stage.batch_flag} or add data")
    if len(eval_tok) < world.size:
        raise DataError(f"{len(eval_tok)} held-out pairs for {world.size} processes; pass "
                        "--eval-data-path or raise --eval-fraction")
    return Data(train_tok, eval_tok, rows_eval)


def _pairs(config: TrainConfig, say) -> tuple[list[PreferencePair], list[PreferencePair],
                                                list[dict[str, str]] | None]:
    """Train and held-out pairs of ``config.data``, and the offline task's held-out rows."""
    if config.data == "offline":
        from .task import generate_pairs

        rows_train, rows_eval = generate_pairs(
            config.seed, config.offline_train_pairs, config.offline_eval_pairs)
        rows_eval = rows_eval[: config.eval_pairs]
        train = [from_hh(r) for r in rows_train]
        held = [from_hh(r) for r in rows_eval]
        say(f"data: offline task, {len(train)} train / {len(held)} eval pairs", file=sys.stderr)
        return train, held, rows_eval
    train, report = load_pairs(config.data, config.data_path)
    say(f"data: {report.summary()}", file=sys.stderr)
    if config.eval_data_path:
        held, held_report = load_pairs(config.data, config.eval_data_path, split="eval")
        say(f"eval data: {held_report.summary()}", file=sys.stderr)
    else:
        train, held = split_by_prompt(train, config.eval_fraction, config.seed)
    return train, held[: config.eval_pairs], None


def _tokenized(pairs: list[PreferencePair], name: str, config: TrainConfig, tokenizer,
               say) -> list[TokenizedPair]:
    tokenized, report = tokenize_pairs(pairs, tokenizer, config.max_length)
    if report.dropped_empty or report.dropped_identical:
        say(f"{name}: dropped {report.dropped_empty} pairs with an empty response and "
            f"{report.dropped_identical} with identical responses after truncation to "
            f"max_length={config.max_length}", file=sys.stderr)
    return tokenized
