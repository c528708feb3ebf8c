"""One training run held together: config, world, run folder, model, tokenizer, data and logger.

:meth:`Run.open` does the setup a run needs, in order: the run folder, locked for this process
(:class:`RunLock`), and the checks that a ``--resume`` may continue it; the model (from the
newest intact checkpoint when resuming, else from ``--init``, ``--model`` or the offline GPT-2);
the data (read, converted, split and tokenised once; the offline task's held-out rows are kept
for its Bayes accuracy); then ``config.json``, written last: a folder becomes a run only once its
setup succeeded, so a failed setup (a bad data path, a bad model) leaves nothing behind that
blocks the retry. The metrics logger drops the rows after the restored checkpoint. The trainer
(:mod:`llm.train`) then only walks the stages.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from upo_theory import UserError

from .batching import TokenizedPair, tokenize_pairs
from .checkpoint import (
    CHECKPOINT,
    PREVIOUS,
    RUN_CONFIG,
    UNFINISHED,
    TrainingState,
    load_checkpoint,
    save_checkpoint,
    save_model,
)
from .config import STAGE_ORDER, ConfigError, TrainConfig
from .data import DataError, PreferencePair, from_hh, load_pairs, split_by_prompt
from .distributed import World
from .files import write_atomically
from .metrics import MetricsLogger
from .model import load_model, offline_gpt2, offline_gpt2_tokenizer, set_dropout
from .objectives import Stage, plan
from .scoring import SequenceScorer

RESUMABLE_CHANGES = frozenset({"resume", "stop_after", "device", "threads",
                               "truth_eval_prompts", "out_dir", "run_name", "micro_batch_size",
                               "forward_rows", "compile", "gradient_checkpointing",
                               "deterministic", "reference_cache"})
"""Settings a ``--resume`` may change: they change how, not what, the run computes (a run folder
may also be moved or renamed and resumed where it is)."""
CONFIG = "config.json"
LOCK = ".lock"


class RunFolderError(UserError):
    """A run folder that cannot be used now: not writable, or in use by another process."""


class RunLock:
    """This process's exclusive use of a run folder: ``fcntl.flock`` on ``<run>/.lock``.

    The kernel releases the lock when the process ends, however it ends (a kill included); a
    second process on the same run folder gets :class:`RunFolderError` at once.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.created = not folder.exists()
        self.handle = self._acquire()

    def _acquire(self) -> IO[str]:
        path = self.folder / LOCK
        for _ in range(3):  # the folder can vanish under us: another process's failed setup
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise self._unwritable(error) from None
            try:
                handle = open(path, "a+")
            except FileNotFoundError:
                continue
            except OSError as error:
                raise self._unwritable(error) from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise RunFolderError(f"run folder {self.folder} is in use by another process "
                                     f"(pid {holder}); wait for it to end or pass another "
                                     "--run-name") from None
            if _same_file(handle, path):  # not a lock file unlinked while we waited
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                return handle
            handle.close()
        raise RunFolderError(f"run folder {self.folder} keeps disappearing; is another process "
                             "removing it?")

    def _unwritable(self, error: OSError) -> RunFolderError:
        return RunFolderError(f"cannot write the run folder {self.folder} ({error.strerror}); "
                              "give a writable --out-dir")

    def release(self, abandon: bool = False) -> None:
        """Remove the lock file and unlock; with ``abandon``, also remove the folder if this
        process made it and it holds nothing else (a setup that failed leaves no trace).

        The file goes while it is still locked: a process waiting on it finds, once it holds
        it, that the name no longer leads to it, and starts over (:meth:`_acquire`).
        """
        (self.folder / LOCK).unlink(missing_ok=True)
        if abandon and self.created:
            try:
                self.folder.rmdir()
            except OSError:
                pass
        self.handle.close()


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


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
    lock: RunLock | None = None

    @classmethod
    def open(cls, config: TrainConfig, world: World) -> Run:
        """Set up the run of ``config`` on ``world`` (every rank builds the same run)."""
        started = time.perf_counter()
        folder = Path(config.out_dir) / config.resolved_run_name()
        lock = RunLock(folder) if world.main else None
        try:
            run = cls._set_up(config, world, folder, started)
        except BaseException:
            if lock is not None:
                lock.release(abandon=True)
            raise
        run.lock = lock
        return run

    @classmethod
    def _set_up(cls, config: TrainConfig, world: World, folder: Path, started: float) -> Run:
        say = _say if world.main else _silent
        if world.main:  # the others wait: the main process writes config.json at the end
            check_resumable(config, folder, say)
        world.barrier()
        torch.manual_seed(config.seed)
        resumed = restore(folder, world, say) if config.resume else None
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


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _silent(text: str) -> None:
    """Ranks other than the main one stay quiet."""


def check_resumable(config: TrainConfig, folder: Path, say: Callable[[str], None]) -> None:
    """Refuse a new run over an existing one, and a ``--resume`` with changed settings."""
    saved = folder / CONFIG
    if not config.resume:
        if saved.exists():
            raise ConfigError(f"run folder {folder} exists; pass --resume or another --run-name")
        return
    if not saved.is_file():
        raise ConfigError(f"--resume: {folder} has no {CONFIG}; start it without --resume")
    old = saved_settings(folder, say)
    new = config.to_dict()
    defaults = TrainConfig.defaults()  # a setting newer than the saved run had its default
    changed = sorted(k for k in new
                     if k not in RESUMABLE_CHANGES and old.get(k, defaults[k]) != new[k])
    if old and changed:
        raise ConfigError(f"--resume with changed settings {changed}; use the saved ones "
                          f"in {saved}")


def saved_settings(folder: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The run's saved settings: ``config.json``, or when it is damaged a checkpoint's copy.

    Empty when neither can be read (nothing to compare: this command's settings are taken).
    """
    try:
        return _settings(folder / CONFIG)
    except (OSError, ValueError) as error:
        problem = f"{folder / CONFIG} is damaged ({error})"
    for name in (CHECKPOINT, UNFINISHED, PREVIOUS):
        try:
            settings = _settings(folder / name / RUN_CONFIG)
        except (OSError, ValueError):
            continue
        say(f"{problem}; comparing with the copy in {name}/{RUN_CONFIG} and writing it anew")
        return settings
    say(f"{problem} and no checkpoint holds a copy; taking this command's settings")
    return {}


def _settings(path: Path) -> dict[str, Any]:
    settings = json.loads(path.read_text())
    if not isinstance(settings, dict):
        raise ValueError("not a JSON object of settings")
    return settings


def restore(folder: Path, world: World, say: Callable[[str], None]) -> dict[str, Any] | None:
    """The newest intact checkpoint of ``folder``; the main process first puts the folder in
    order (a damaged checkpoint aside), then the others read it."""
    state = load_checkpoint(folder, say, tidy=True) if world.main else None
    world.barrier()
    return state if world.main else load_checkpoint(folder)


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
