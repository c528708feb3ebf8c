"""Padding-free batches score exactly what padded ones score, and an offset bug cannot hide.

In float64 on the CPU the packed layout's per-sequence log-probabilities, the preference loss and
every parameter gradient equal the padded layout's within 1e-10, for GPT-2 and Llama, for drawn
length mixes, length-1 responses, rows filled exactly and a row boundary one token off; a layout
whose scored positions sit one column late (the bug that made a public DPO packing's first loss
6 ln 2) is caught; a killed and resumed packed run ends bitwise where an uninterrupted one ends.
"""

from __future__ import annotations

import dataclasses
import math
import types

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from layout_helpers import EOS, TOLERANCE, make_pairs, scored, tiny_model
from llm_helpers import assert_same_as
from llm_helpers import resumable as resumable_tiny
from llm_helpers import tiny as tiny_run

from llm.config import ConfigError, TrainConfig
from llm.data.batching import TokenizedPair, collate, preference_batch
from llm.data.layout import BatchLayout, choose
from llm.data.packing import PACKED_MODEL_TYPES, pack, pack_rows, packed_preference_batch
from llm.engine.checkpoint import load_checkpoint
from llm.engine.distributed import World
from llm.engine.loop import accumulate_gradients
from llm.engine.objectives import PreferenceObjective, plan
from llm.engine.reference import ReferenceLogps
from llm.engine.scoring import SequenceScorer, forward_work
from llm.engine.session import TrainingSession
from llm.engine.throughput import Throughput
from llm.train import run_training

lengths = st.tuples(st.integers(1, 9), st.integers(1, 7), st.integers(1, 7))
EXACT = [(2, 6, 3), (9, 4, 5), (4, 3, 3)]
"""(prompt, chosen, rejected) lengths whose sequences pack into rows filled exactly."""
ONE_OFF = [(8, 7, 5), (7, 5, 7), (1, 4, 2), (7, 4, 6)]
"""Lengths that pack into full rows and one a token short: a boundary one token off."""


@pytest.fixture(scope="module", params=PACKED_MODEL_TYPES)
def model(request) -> torch.nn.Module:
    return tiny_model(request.param)


def test_the_default_packs_the_tested_architectures_only():
    gpt2, cpu, cuda = tiny_model("gpt2"), torch.device("cpu"), torch.device("cuda")
    assert choose("auto", gpt2, cpu) is not BatchLayout.PADDED
    assert choose("auto", gpt2, cpu, forward_rows=4) is BatchLayout.PADDED
    assert choose("auto", gpt2, cuda) is BatchLayout.PADDED  # unmeasured on CUDA
    assert choose("packed", gpt2, cuda) is BatchLayout.PACKED
    assert choose("padded", gpt2, cpu) is BatchLayout.PADDED
    other = types.SimpleNamespace(config=types.SimpleNamespace(model_type="bloom"))
    assert choose("auto", other, cpu) is BatchLayout.PADDED
    assert choose("packed", other, cpu) is BatchLayout.PACKED


def assert_same_scores(model, pairs: list[TokenizedPair], pad_to_multiple: int = 1) -> None:
    padded = preference_batch(pairs, EOS)
    packed = packed_preference_batch(pairs, EOS, pad_to_multiple)
    (sums, loss, grads), (p_sums, p_loss, p_grads) = scored(model, padded), scored(model, packed)
    assert torch.equal(SequenceScorer(model)(packed)[1], padded.response_tokens)
    torch.testing.assert_close(p_sums, sums, rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(p_loss, loss, rtol=0, atol=TOLERANCE)
    for a, b in zip(grads, p_grads, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=TOLERANCE)


@settings(max_examples=12)
@given(st.lists(lengths, min_size=1, max_size=5), st.sampled_from([1, 8]))
def test_packed_scores_losses_and_gradients_equal_the_padded_ones(model, shape, multiple):
    assert_same_scores(model, make_pairs(shape), multiple)


@pytest.mark.parametrize("shape", [
    [(1, 1, 1), (1, 1, 2)],  # one-token prompts and length-1 responses
    [(4, 1, 5), (3, 4, 1), (2, 2, 2)],  # response lengths 1 among longer ones
    EXACT,  # two rows of 27, both filled exactly
    ONE_OFF,  # three rows of 29, one a token short of full
])
def test_edge_layouts_score_as_padded(model, shape):
    assert_same_scores(model, make_pairs(shape))


def test_rows_filled_exactly_and_one_token_off():
    for shape, fills in ((EXACT, [27, 27]), (ONE_OFF, [28, 29, 29])):
        packed = packed_preference_batch(make_pairs(shape), EOS)
        assert sorted(packed.attention_mask.sum(dim=1).tolist()) == fills
        assert packed.input_ids.shape[1] == max(fills)


@given(st.lists(st.integers(1, 300), min_size=1, max_size=60), st.sampled_from([1, 8, 64]))
def test_pack_rows_places_every_sequence_once_within_the_width(lengths_, multiple):
    rows, width = pack_rows(lengths_, multiple)
    assert sorted(k for row in rows for k in row) == list(range(len(lengths_)))
    assert width % multiple == 0 and width >= max(lengths_)
    assert all(sum(lengths_[k] for k in row) <= width for row in rows)


def test_position_ids_restart_at_each_sequence_and_padding_is_counted():
    batch = pack([([1, 2], [3, EOS]), ([4], [EOS])], EOS, pad_to_multiple=8)
    assert batch.input_ids.shape == (1, 8)
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 0, 1, 0, 0]]
    assert batch.response_mask.tolist() == [[False, True, True, False, True, False, False,
                                             False]]
    assert batch.targets[0, :5].tolist() == [2, 3, EOS, 4, EOS]
    assert forward_work(batch, 0) == (6, 8)


def test_an_offset_one_column_late_is_caught(model):
    """The known packing bug: each sequence scored from one position too far right. At the
    start π = π_ref, so DPO's first loss must be ln 2; the shifted layout misses it."""
    pairs = make_pairs([(4, 3, 5), (2, 6, 2), (3, 1, 4)])
    padded, packed = preference_batch(pairs, EOS), packed_preference_batch(pairs, EOS)
    shifted = dataclasses.replace(packed, response_mask=packed.response_mask.roll(1, dims=1))
    scorer = SequenceScorer(model)
    with torch.no_grad():
        reference, counts = scorer(padded)
        good, bad = scorer(packed)[0], scorer(shifted)[0]
        late = scorer(dataclasses.replace(packed, targets=packed.targets.roll(-1, dims=1)))[0]
    assert (good - reference).abs().max() < TOLERANCE
    assert (bad - reference).abs().max() > 1e-3 and (late - reference).abs().max() > 1e-3
    objective = PreferenceObjective.of(TrainConfig(loss="dpo")).with_reference(ReferenceLogps(
        torch.stack([*reference.chunk(2), *counts.double().chunk(2)], dim=1), reference[:0]))
    for policy, first_loss_is_ln2 in ((good, True), (bad, False)):
        loss = objective(policy, counts, [0, 1, 2], "train").loss / 3
        assert (abs(float(loss) - math.log(2)) < TOLERANCE) == first_loss_is_ln2


def test_packing_layout_for_sft_rows_equals_collate(model):
    rows = [([1, 2, 3], [4, EOS]), ([5], [EOS]), ([6, 7], [8, 9, 10, EOS])]
    with torch.no_grad():
        padded = SequenceScorer(model)(collate(rows, EOS))
        packed = SequenceScorer(model)(pack(rows, EOS))
    torch.testing.assert_close(packed[0], padded[0], rtol=0, atol=TOLERANCE)
    assert torch.equal(packed[1], padded[1])


def test_forward_rows_needs_no_packing():
    with pytest.raises(ConfigError, match="--layout padded"):
        TrainConfig(forward_rows=4, packing=True)
    with pytest.raises(ConfigError, match="--layout padded"):
        TrainConfig(forward_rows=4, layout="prefix")
    assert TrainConfig(forward_rows=4).layout == "auto"  # the default then pads
    assert TrainConfig(forward_rows=4).forward_rows == 4
    for name in ("packing", "layout"):
        assert name not in TrainConfig.marked("resumable")
        assert name in TrainConfig.marked("reference_key")


def test_packed_micro_batches_accumulate_to_the_padded_gradient(tmp_path):
    config = tiny_run(tmp_path, sft_steps=2, pref_steps=2, batch_size=8, sft_batch_size=8)
    stages = plan(config)
    opened = TrainingSession.open(config, World(0, 1, torch.device("cpu")), stages)
    stage = stages[-1].with_reference(opened.reference_logps(stages[-1]))
    results = []
    for layout, micro in (("padded", 0), ("packed", 0), ("packed", 3), ("prefix", 0),
                          ("prefix", 3)):
        session = dataclasses.replace(opened, config=opened.config.replace(
            layout=layout, micro_batch_size=micro))
        opened.model.zero_grad(set_to_none=True)
        speed = Throughput(1, None)
        metrics = accumulate_gradients(session, stage, opened.scorer, list(range(8)), speed)
        results.append((metrics, [p.grad.clone() for p in opened.model.parameters()],
                        speed.report()["padding"]))
    (padded, grads, padding), *packed = results
    ties = "rewards/accuracies"  # t_w > t_l at pi = pi_ref: a tie that rounding breaks either way
    for metrics, other, other_padding in packed:  # float32: the same to rounding
        assert {k: v for k, v in metrics.items() if k != ties} == pytest.approx(
            {k: v for k, v in padded.items() if k != ties}, rel=1e-5, abs=1e-5)
        for a, b in zip(grads, other, strict=True):  # per tensor, in norm: float32 rounding
            # moves single elements (transformers 5.0's kernels by 2e-5), a wrong weighting all
            assert float((b - a).norm()) <= 1e-4 * float(a.norm()) + 1e-7
        assert other_padding < padding


@pytest.mark.slow
def test_a_killed_packed_run_resumes_bit_for_bit(tmp_path):
    changes = {"packing": True, "micro_batch_size": 2}
    whole = run_training(resumable_tiny(tmp_path / "whole", **changes))
    stopped = run_training(resumable_tiny(tmp_path / "run", stop_after=5, **changes))
    assert load_checkpoint(stopped)["step"] == 2
    resumed = run_training(resumable_tiny(tmp_path / "run", resume=True, **changes))
    assert_same_as(resumed, whole)


def test_a_run_saves_its_layout_and_a_resume_keeps_it(tmp_path):
    """The default layout is decided when the run starts and saved in config.json; a --resume
    that leaves --layout to the default continues in the saved layout."""
    import json

    from llm_helpers import tiny

    from llm.train import run_training

    config = tiny(tmp_path, run_name="run", pref_steps=2, stop_after=4)
    assert config.layout == "auto"
    folder = run_training(config)
    assert json.loads((folder / "config.json").read_text())["layout"] == "prefix"
    run_training(config.replace(resume=True, stop_after=None))
    assert (folder / "summary.json").is_file()
    assert json.loads((folder / "config.json").read_text())["layout"] == "prefix"
