"""One whole training run, the stages and then the summary: the story ``python -m llm.train``
and each run of ``python -m llm.experiment`` tell, told here once.

:func:`run_training` plans the stages once (:func:`llm.engine.objectives.plan`), sets the run up
(:meth:`llm.engine.session.TrainingSession.open`: folder, model, tokenizer, data, logger, or the
checkpoint to resume), trains each stage with one loop (:func:`llm.engine.loop.train_stage`; the
preference stage is given π_ref's log-probs, :mod:`llm.engine.reference`), then writes the
summary, the curves and, for the offline task, the evaluation against the true reward
(:func:`llm.evaluation.summary.write_summary`, from what the run holds in memory).

Stage ``sft`` maximises the log-likelihood of the chosen responses (prompt tokens masked) and
saves the SFT model in ``<run_dir>/sft``. Stage ``pref`` trains the policy from it with the run's
:class:`upo_theory.LossSpec`; its frozen starting point is π_ref, whose sequence log-probabilities
are computed once before the stage and cached in ``<run_dir>/ref_logps.pt``. ``--init`` starts
from a saved model folder, so one SFT run can serve many preference runs.

Outputs in ``<out_dir>/<run_name>``: ``config.json``, ``metrics.jsonl``/``metrics.csv``
(:mod:`llm.engine.metrics`), ``checkpoint/`` (:mod:`llm.engine.checkpoint`), ``sft/``,
``summary.json`` (final evaluation), ``curves.png`` and, for the offline task, ``truth.json``.

Before any of it, :func:`check_before_work` refuses what the config cannot know by itself: an
offline model too large for memory, a missing local data location, a folder that is no saved
model, LoRA without peft; each refusal names the field and the fix, as the config's own do.

This floor sits above the measurement of one run (:mod:`llm.evaluation`) and below the commands,
so ``llm.train`` and the experiment (:mod:`llm.experiments`) both call it and neither reaches
up to the other.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import transformers

from upo_theory import UserError

from .config import TrainConfig
from .data.locations import check_locations
from .data.offline_task import check_task
from .engine.checkpoint import sharded_processes
from .engine.distributed import close_world, init_world
from .engine.loop import Stopped, train_stage
from .engine.lora import check_peft
from .engine.model import check_fits, check_saved_models
from .engine.objectives import plan
from .engine.session import TrainingSession
from .evaluation.summary import write_summary
from .evaluation.truth_probe import TruthProbe


def check_before_work(config: TrainConfig) -> None:
    """Refuse, before any work, a ``config`` that the machine, the files or the installed
    packages cannot serve (:class:`~llm.config.ConfigError`, the field and the fix named)."""
    check_fits(config)
    check_locations(config)
    check_saved_models(config)
    check_peft(config)
    if config.data == "offline":
        check_task(config.seed, config.offline_train_pairs, config.offline_eval_pairs,
                   ("seed", "offline_train_pairs", "offline_eval_pairs"))


def check_processes(config: TrainConfig) -> None:
    """An ``--fsdp --resume`` of a sharded run in one process is refused naming the number of
    processes its checkpoint's shards need (before :func:`init_world` refuses it for any N)."""
    if not (config.fsdp and config.resume) or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return
    processes = sharded_processes(Path(config.out_dir) / config.resolved_run_name())
    if processes:
        raise UserError(f"this run's checkpoint holds the shards of {processes} processes: "
                        f"resume it with torchrun --nproc_per_node {processes} -m llm.train "
                        "... --fsdp --resume")


RESUME = ("run the same command with --resume to continue the run from its last checkpoint (or "
          "from its start, if it saved none)")
"""What a stopped run's one line advises (``llm.train``, ``llm.launch``)."""


def run_training(config: TrainConfig) -> Path:
    """Train the stages of ``config``, then write its summary; return the run folder."""
    check_before_work(config)
    transformers.utils.logging.disable_progress_bar()  # our bars are enough
    stages = plan(config)
    check_processes(config)
    world = init_world(config.device, {s.batch_flag: s.batch_size for s in stages},
                       config.deterministic, config.fsdp)
    if config.threads > 0 and world.device.type == "cpu":
        torch.set_num_threads(config.threads)
    try:
        session = TrainingSession.open(config, world, stages)
        truth = TruthProbe(session)
        try:
            for stage in stages:
                if session.finished_before_resume(stage):
                    continue
                reference = (session.reference_logps(stage) if stage.objective.needs_reference
                             else None)
                probe = (config.truth_every, truth) if (
                    stage.name == "pref" and config.truth_every > 0
                    and session.data.offline_eval_rows is not None
                    and config.truth_eval_prompts > 0) else None
                train_stage(session, stage, reference, probe)
                session.save_stage_model(stage)
                session.fold_adapters(stage)  # LoRA: the next stage's pi_ref is this model
            session.unshard()  # --fsdp: final/, and the summary's model whole
            if world.main:
                write_summary(session, truth)  # still holding the run folder's lock
            world.barrier()
            session.export_merged()
        except Stopped:
            session.say(f"stopped after step {config.stop_after} (stop_after); resume with "
                        "--resume")
        finally:
            session.close()
        return session.folder
    finally:
        close_world(world)
