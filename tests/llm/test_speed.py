"""The speed levers keep the objective: micro-batches, length grouping, padding, throughput."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from llm_helpers import tiny as tiny_run

from llm.config import TrainConfig
from llm.data.batching import TokenizedPair, collate, length_groups, preference_batch
from llm.engine.distributed import World
from llm.engine.loop import accumulate_gradients
from llm.engine.metrics import read_metrics
from llm.engine.model import offline_gpt2, set_dropout
from llm.engine.objectives import plan
from llm.engine.scoring import SequenceScorer, forward_work
from llm.engine.session import TrainingSession
from llm.engine.throughput import Throughput
from llm.train import run_training


def tiny(tmp_path: Path, **changes) -> TrainConfig:
    return tiny_run(tmp_path, **{"sft_steps": 2, "pref_steps": 2, "batch_size": 8,
                                 "sft_batch_size": 8, **changes})


@given(st.lists(st.integers(1, 500), min_size=1, max_size=40), st.integers(0, 12))
def test_length_groups_partition_the_batch_longest_first(lengths, size):
    groups = length_groups(lengths, size)
    flat = [k for group in groups for k in group]
    assert sorted(flat) == list(range(len(lengths)))
    if size == 0 or size >= len(lengths):
        assert groups == [list(range(len(lengths)))]
    else:
        assert all(len(group) <= size for group in groups)
        assert [lengths[k] for k in flat] == sorted(lengths, reverse=True)


def test_padding_to_a_multiple_changes_no_log_probability():
    model = offline_gpt2(1, 32, 2, 128, seed=0).eval()
    pairs = [TokenizedPair([5, 6, 7], [8, 9, 50256], [10, 50256]),
             TokenizedPair([11], [12, 13, 14, 15, 50256], [16, 50256])]
    plain = preference_batch(pairs, 50256)
    padded = preference_batch(pairs, 50256, pad_to_multiple=64)
    assert padded.input_ids.shape[1] == 64 and plain.input_ids.shape[1] == 6
    scorer = SequenceScorer(model)
    with torch.no_grad():
        torch.testing.assert_close(scorer.score(padded)[0], scorer.score(plain)[0],
                                   rtol=1e-5, atol=1e-5)
    assert collate([([1], [2])], 0, pad_to_multiple=3).input_ids.shape == (1, 3)


def test_rows_scored_in_length_sorted_chunks_equal_the_whole_batch():
    model = offline_gpt2(1, 32, 2, 128, seed=0)
    set_dropout(model, 0.0)
    pairs = [TokenizedPair(list(range(1, 2 + k)), [*range(40, 43 + 3 * k), 50256],
                           [60 + k, 50256]) for k in range(5)]
    batch = preference_batch(pairs, 50256)
    scorer = SequenceScorer(model)
    results = []
    for chunk in (0, 1, 3):
        model.zero_grad(set_to_none=True)
        sums, counts = scorer.score(batch, chunk)
        (sums * torch.arange(1.0, 11.0)).sum().backward()
        results.append((sums.detach(), counts, [p.grad.clone() for p in model.parameters()]))
    whole = results[0]
    for sums, counts, grads in results[1:]:
        torch.testing.assert_close(sums, whole[0], rtol=1e-5, atol=1e-5)
        assert torch.equal(counts, whole[1])
        for a, b in zip(whole[2], grads, strict=True):  # float32 sums in another order
            assert float((b - a).norm() / a.norm().clamp(min=1e-12)) < 1e-5
    assert forward_work(batch, 0) == (int(batch.attention_mask.sum()), batch.input_ids.numel())
    tokens, positions = forward_work(batch, 3)
    assert tokens <= positions < batch.input_ids.numel()  # chunks cut to their rows' widths


@pytest.mark.parametrize("stage_name", ["sft", "pref"])
def test_micro_batches_accumulate_to_the_whole_batch_gradient(tmp_path, stage_name):
    config = tiny(tmp_path, packing=False)  # padded rows, which forward_rows cuts
    stages = plan(config)
    opened = TrainingSession.open(config, World(0, 1, torch.device("cpu")), stages)
    stage = next(s for s in stages if s.name == stage_name)
    if stage.objective.needs_reference:
        stage = stage.with_reference(opened.reference_logps(stage))
    ids = list(range(8))
    results = []
    for micro, rows in ((0, 0), (1, 0), (3, 0), (0, 2)):
        changed = opened.config.replace(micro_batch_size=micro, forward_rows=rows)
        session = dataclasses.replace(opened, config=changed)
        opened.model.zero_grad(set_to_none=True)
        speed = Throughput(1, None)
        metrics = accumulate_gradients(session, stage, opened.scorer, ids, speed)
        grads = [p.grad.clone() for p in opened.model.parameters()]
        results.append((metrics, grads, speed.report()["padding"]))
    (whole, grads, padding), *others = results
    for metrics, other, other_padding in others:
        assert metrics == pytest.approx(whole, rel=1e-5, abs=1e-6)
        for a, b in zip(grads, other, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
        assert other_padding < padding  # similar lengths together: less padding


def test_a_micro_batched_run_logs_padding_and_speed(tmp_path):
    folder = run_training(tiny(tmp_path, micro_batch_size=2))
    train = [r for r in read_metrics(folder) if r["split"] == "train"]
    assert all(0.0 <= r["padding"] < 1.0 and r["tokens_per_s"] > 0 for r in train)
    assert all("mfu" not in r for r in train)  # no MFU without a CUDA device of known peak


def test_throughput_reports_real_tokens_padding_and_mfu():
    speed = Throughput(params=1000, peak=6e6)
    speed.add(tokens=300, positions=400)
    report = speed.report()
    assert report["padding"] == pytest.approx(0.25)
    assert report["mfu"] == pytest.approx(6 * 1000 * report["tokens_per_s"] / 6e6)
    assert speed.tokens == 0 and speed.positions == 0  # a new window starts
