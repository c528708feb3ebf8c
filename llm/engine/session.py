"""One training run held together: config, world, run folder, model, tokenizer, data and logger.

:meth:`TrainingSession.open` does the setup a run needs, in order: the run folder, locked for this
process (:class:`~llm.engine.run_folder.RunLock`), and the checks that a ``--resume`` may continue
it; the model (from the newest intact checkpoint when resuming, else from ``--init``, ``--model``
or the offline GPT-2); the data (:func:`~llm.data.training_data.load_training_data`); then
``config.json``, written last: a folder becomes a run only once its setup succeeded, so a failed
setup (a bad data path, a bad model) leaves nothing behind that blocks the retry. The metrics
logger drops the rows after the restored checkpoint and keeps the rest in memory as the run's
history. The loop (:mod:`llm.engine.loop`) then only walks the stages.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from upo_theory.cli import write_atomically

from ..config import STAGE_ORDER, ConfigError, TrainConfig
from ..data.layout import BatchLayout, choose
from ..data.training_data import BatchNeed, TrainingData, load_training_data
from .checkpoint import TrainingState, save_checkpoint, save_model, save_sharded_checkpoint
from .distributed import World
from .lora import MERGED, fold_adapters, load_adapters, merge_adapters, with_saved_adapters
from .metrics import MetricsLogger
from .model import load_model, offline_gpt2, offline_gpt2_tokenizer, set_dropout
from .objectives import Stage
from .reference import ReferenceLogps, check_shared_cache, load_or_compute_reference
from .run_folder import CONFIG, RunLock, check_resumable, restore, saved_settings
from .scoring import SequenceScorer
from .sharding import full_weights, is_sharded

FINAL = "final"
"""With ``--fsdp``, the trained model, saved whole (its checkpoints hold shards)."""


def _claim(config: TrainConfig, folder: Path) -> RunLock:
    """Take the run folder for this process (:class:`RunLock`) once it may be written: a
    ``--resume`` may continue it (:func:`check_resumable`), a shared π_ref cache is one
    (:func:`check_shared_cache`); the lock is let go when either refuses."""
    lock = RunLock(folder)
    try:
        check_resumable(config, folder, _say)
        if config.reference_cache is not None:
            check_shared_cache(Path(config.reference_cache))
    except BaseException:
        lock.release(abandon=True)
        raise
    return lock


@dataclass
class TrainingSession:
    """Everything one run works with; see the module notes for how :meth:`open` builds it."""

    config: TrainConfig
    world: World
    folder: Path
    model: torch.nn.Module
    tokenizer: Any
    data: TrainingData
    stages: list[Stage]
    scorer: SequenceScorer
    logger: MetricsLogger
    resumed: dict[str, Any] | None
    started: float
    lock: RunLock | None = None

    @property
    def layout(self) -> BatchLayout:
        """How batches are laid out (decided when the run started: :func:`_resolved_layout`)."""
        if self.config.layout == "auto":
            raise ValueError("the session's config holds no decided layout (layout='auto'); "
                             "give it the one TrainingSession.open decided (session.config)")
        return BatchLayout(self.config.layout)

    @classmethod
    def open(cls, config: TrainConfig, world: World, stages: list[Stage]) -> TrainingSession:
        """Set up the run of ``config`` on ``world`` to train ``stages`` (its plan; every rank
        builds the same run)."""
        started = time.perf_counter()
        folder = Path(config.out_dir) / config.resolved_run_name()
        lock = world.on_main(lambda: _claim(config, folder))  # the others stop if it refuses
        try:
            session = cls._set_up(config, world, folder, stages, started)
        except BaseException:
            if lock is not None:
                lock.release(abandon=True)
            raise
        session.lock = lock
        return session

    @classmethod
    def _set_up(cls, config: TrainConfig, world: World, folder: Path, stages: list[Stage],
                started: float) -> TrainingSession:
        say = _say if world.main else _silent
        torch.manual_seed(config.seed)
        plan = {s.name: s.steps for s in stages}
        resumed = restore(folder, world, say, plan) if config.resume else None
        if config.fsdp and resumed is not None and resumed.get("world_size") != world.size:
            raise ConfigError(f"{resumed['model_dir']} holds the shards of "
                              f"{resumed.get('world_size')} processes, not {world.size}; resume "
                              f"with torchrun --nproc_per_node {resumed.get('world_size')}")
        model, tokenizer = _starting_model(config, folder, stages, resumed)
        config = _resolved_layout(config, model, world, folder)  # refused before the data's work
        data = load_training_data(config, tokenizer, world.size, world.main,
                                  [BatchNeed(s.name, s.batch_size, s.batch_flag) for s in stages])
        set_dropout(model, config.dropout)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False})
        model.to(world.device)
        scorer = SequenceScorer(model, compile=config.compile)
        if world.main:  # the folder becomes a run
            write_atomically(folder / CONFIG, config.to_json())
        logger = MetricsLogger(folder, enabled=world.main, say=say)
        if resumed is not None:
            say(f"resuming {resumed['stage']} at step {resumed['step']} from {folder}")
            logger.keep_until((resumed["stage"], resumed["step"]))
        else:
            if config.resume:
                say(f"{folder} has no intact checkpoint; starting the run again from its "
                    "first step")
            logger.keep_until(None)
        return cls(config, world, folder, model, tokenizer, data, stages, scorer, logger, resumed,
                   started)

    def say(self, text: str) -> None:
        """A progress line on stderr, from the main process only."""
        if self.world.main:
            _say(text)

    def close(self) -> None:
        """Close the logger and release the run folder."""
        self.logger.close()
        if self.lock is not None:
            self.lock.release()

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
        """Write the checkpoint at ``step`` of ``stage`` (main process; with ``--fsdp`` every
        rank its shard), then wait for all."""
        if self.config.fsdp:
            save_sharded_checkpoint(self.folder, self.model, optimizer, scheduler,
                                    TrainingState(stage.name, step), self.config.to_json(),
                                    self.world)
        elif self.world.main:
            save_checkpoint(self.folder, self.model, self.tokenizer, optimizer, scheduler,
                            TrainingState(stage.name, step), self.config.to_json())
        self.world.barrier()

    def save_stage_model(self, stage: Stage) -> None:
        """Save the model as the stage leaves it, where the stage says (``sft/``)."""
        if stage.saves_to is not None:
            self._save_whole(self.folder / stage.saves_to)

    def _save_whole(self, folder: Path) -> None:
        """Save the model as ``folder`` (main process; a sharded one gathered whole first, by
        every rank), then wait for all."""
        weights = full_weights(self.model) if is_sharded(self.scorer) else None
        if self.world.main:
            save_model(self.model, self.tokenizer, folder, self.config.to_json(),
                       weights=weights)
        self.world.barrier()

    def unshard(self) -> None:
        """With ``--fsdp``, after the last stage: save the trained model whole as
        ``<run>/final`` (``save_pretrained``), and continue on the main process with that
        unsharded copy (the summary's truth evaluation runs there alone)."""
        if not is_sharded(self.scorer):
            return
        self._save_whole(self.folder / FINAL)
        if self.world.main:
            self.model = load_model(str(self.folder / FINAL))[0].to(self.world.device)
            self.scorer = SequenceScorer(self.model)

    def fold_adapters(self, stage: Stage) -> None:
        """With LoRA, when a stage follows ``stage``: merge its adapters into the weights and
        add fresh ones, so that the next stage's π_ref is the model with adapters disabled."""
        if self.config.lora_r and stage is not self.stages[-1]:
            self.model = fold_adapters(self.model, self.config).to(self.world.device)
            self.scorer = SequenceScorer(self.model, compile=self.config.compile)

    def export_merged(self) -> None:
        """With ``--lora-merge``, save the final model with its adapters merged in as
        ``<run>/merged`` (main process; the run's model is merged in place, so this comes last).
        """
        if self.config.lora_merge and self.world.main:
            save_model(merge_adapters(self.model), self.tokenizer, self.folder / MERGED,
                       self.config.to_json())
        self.world.barrier()

    def reference_model(self) -> torch.nn.Module:
        """π_ref of the preference stage, loaded again: the run's SFT model or its start (with
        LoRA: the start with the SFT adapters merged in)."""
        if self.config.lora_r and self.config.stage == "both":
            return merge_adapters(load_adapters(initial_model(self.config)[0],
                                                self.folder / "sft", trainable=False))
        if self.config.stage == "both":
            return load_model(str(self.folder / "sft"))[0]
        return initial_model(self.config)[0]

    def reference_logps(self, stage: Stage) -> ReferenceLogps:
        """π_ref's log-probs of the pairs ``stage`` visits and of the held-out pairs, loaded or
        computed once, before the stage. π_ref is the model as it is now, when the stage starts,
        or, when the run resumes within the stage (its model has moved on), π_ref loaded again."""
        within = self.resume_state(stage) is not None
        policy = self.scorer if is_sharded(self.scorer) else self.model  # sharded: its forward
        if self.config.lora_r:  # π_ref is this model with its adapters disabled
            with self.model.disable_adapter():
                return load_or_compute_reference(
                    self.config, self.world, self.folder, self.data,
                    self.tokenizer.pad_token_id, lambda: self.model, self.say, self.layout)
        return load_or_compute_reference(
            self.config, self.world, self.folder, self.data, self.tokenizer.pad_token_id,
            lambda: self.reference_model().to(self.world.device) if within else policy,
            self.say, self.layout)


def _resolved_layout(config: TrainConfig, model, world: World, folder: Path) -> TrainConfig:
    """``config`` with its batch layout decided (``--layout`` left ``auto``): a resumed run keeps
    the layout it saved (``layout``, or a run folder's from before it, ``packing``), whatever
    device or ``--forward-rows`` it resumes with (its cached π_ref log-probs and its rounding
    are that layout's); a new run takes :func:`llm.data.layout.choose`. The run's
    ``config.json`` then records the choice as ``layout`` (``packing``, its alias, as given)."""
    requested = {None: config.layout, True: "packed", False: "padded"}[config.packing]
    if requested == "auto" and config.resume:
        requested = saved_layout(saved_settings(folder, _silent))
    layout = choose(requested, model, world.device, config.forward_rows)
    return config.replace(layout=layout.value)


def saved_layout(settings: dict[str, Any]) -> str:
    """The layout a run folder's saved settings name: ``layout``, else (a folder from before it)
    ``packing`` as its alias, else ``auto``."""
    layout = settings.get("layout")
    if layout in {item.value for item in BatchLayout}:
        return layout
    packing = settings.get("packing")
    return {True: "packed", False: "padded"}.get(packing, "auto") if isinstance(
        packing, bool) else "auto"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _silent(text: str) -> None:
    """Ranks other than the main one stay quiet."""


def _starting_model(config: TrainConfig, folder: Path, stages: list[Stage],
                    resumed: dict[str, Any] | None):
    """The model and tokenizer a run starts or resumes from. With LoRA: the start with the
    saved adapters of the stages before the resumed one merged in, then the checkpoint's
    adapters (or fresh ones)."""
    if not config.lora_r:  # with --fsdp the checkpoint's shards are loaded once it is sharded
        return (load_model(str(resumed["model_dir"])) if resumed is not None and not config.fsdp
                else initial_model(config))
    start, tokenizer = initial_model(config)
    earlier, checkpoint = [], None
    if resumed is not None:
        at = STAGE_ORDER.index(resumed["stage"])
        earlier = [folder / s.saves_to for s in stages
                   if s.saves_to is not None and STAGE_ORDER.index(s.name) < at]
        checkpoint = resumed["model_dir"]
    return with_saved_adapters(start, config, earlier, checkpoint), tokenizer


def initial_model(config: TrainConfig):
    """The model a run starts from (``--init``, ``--model`` or the offline GPT-2) and tokenizer."""
    if config.init:
        return load_model(config.init)
    if config.model:
        return load_model(config.model)
    model = offline_gpt2(config.n_layer, config.n_embd, config.n_head,
                         n_positions=max(128, config.max_length), seed=config.seed)
    return model, offline_gpt2_tokenizer()
