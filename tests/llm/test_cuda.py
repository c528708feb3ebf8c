"""The trainer on a CUDA GPU: exact resume, micro-batches, gradient checkpointing, compile.

Marked ``cuda``: skipped where no GPU is present (CI); ``bash bench/gpu_check.sh`` runs them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from llm_helpers import tiny as tiny_run
from safetensors.torch import load_file

from llm.config import TrainConfig
from llm.engine.distributed import init_world
from llm.engine.loop import accumulate_gradients
from llm.engine.metrics import read_metrics
from llm.engine.objectives import plan
from llm.engine.session import TrainingSession
from llm.engine.throughput import Throughput
from llm.train import run_training

pytestmark = pytest.mark.cuda


def tiny(tmp_path: Path, **changes) -> TrainConfig:
    return tiny_run(tmp_path, **{"n_layer": 2, "n_embd": 64, "pref_steps": 4,
                                 "device": "cuda", **changes})


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "checkpoint" / "model.safetensors")


def timeless(folder: Path) -> list[dict]:
    skip = {"tokens_per_s", "mfu"}
    return [{k: v for k, v in row.items() if k not in skip} for row in read_metrics(folder)]


@pytest.mark.parametrize("stop_after", [2, 5])  # killed in the SFT stage / in the pref stage
def test_killed_then_resumed_cuda_run_ends_bitwise_equal(tmp_path, stop_after):
    whole = run_training(tiny(tmp_path / "whole"))
    config = tiny(tmp_path / "killed", stop_after=stop_after)
    folder = run_training(config)
    run_training(config.replace(stop_after=None, resume=True))
    for name, tensor in weights(whole).items():
        assert torch.equal(weights(folder)[name], tensor), name
    assert timeless(folder) == timeless(whole)


def test_micro_batches_and_checkpointing_keep_the_cuda_gradient(tmp_path):
    config = tiny(tmp_path, batch_size=8, packing=False)  # padded rows, which forward_rows cuts
    stages = plan(config)
    opened = TrainingSession.open(config, init_world("cuda", deterministic=True), stages)
    stage = stages[-1].with_reference(opened.reference_logps(stages[-1]))
    opened.model.train()  # checkpointing acts in training mode only
    grads = []
    for micro, checkpointing in ((0, False), (2, False), (0, True)):  # then forward_rows 4
        if checkpointing:
            opened.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False})
        changed = config.replace(micro_batch_size=micro, forward_rows=4 if checkpointing else 0)
        current = dataclasses.replace(opened, config=changed)
        opened.model.zero_grad(set_to_none=True)
        accumulate_gradients(current, stage, opened.scorer, list(range(8)), Throughput(1, None))
        grads.append([p.grad.float().clone() for p in opened.model.parameters()])
    for other in grads[1:]:  # bf16 autocast: the same gradient to bf16 rounding, tensor by tensor
        for a, b in zip(grads[0], other, strict=True):
            assert float((b - a).norm() / a.norm().clamp(min=1e-12)) < 1e-2


def test_a_compiled_run_trains_and_logs_mfu(tmp_path):
    folder = run_training(tiny(tmp_path, compile=True, sft_steps=2, pref_steps=2))
    train = [r for r in read_metrics(folder) if r["split"] == "train"]
    assert all(r["loss"] == r["loss"] for r in train)  # finite, not NaN
    if "H100" in torch.cuda.get_device_name() or "H200" in torch.cuda.get_device_name():
        assert all(0.0 < r["mfu"] < 1.0 for r in train)
