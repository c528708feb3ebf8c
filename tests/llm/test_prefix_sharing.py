"""Prefix-shared batches score exactly what padded ones score, and a leaky mask cannot hide.

In float64 on the CPU the prefix layout's per-sequence log-probabilities, the preference loss and
every parameter gradient equal the padded layout's within 1e-10, for GPT-2, Llama, Qwen2 and
GPT-NeoX, SDPA and eager attention, for drawn prompt and response lengths, length-1 responses,
one-token prompts, rows filled exactly and very different chosen and rejected lengths. Llama's
and Qwen2's RMSNorm computes in float32 whatever its input (transformers 5), which rounds the sum
of the prompt's two gradient paths differently from the two paths apart (4e-8 relative), so
their norms are evaluated in float64 here (:func:`float64_norms`): the layout is what is tested.
A mask that lets a rejected token see the chosen response is caught; a killed and resumed prefix
run ends bit for bit where an uninterrupted one ends; the layout is one value, chosen once.
"""

from __future__ import annotations

import json
import types

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from layout_helpers import EOS, TOLERANCE, make_pairs, scored, tiny_model
from llm_helpers import assert_same_as, model_argv, saved_causal_lm, tiny
from llm_helpers import resumable as resumable_tiny

from llm.config import ConfigError, TrainConfig
from llm.data import prefix_sharing
from llm.data.batching import preference_batch
from llm.data.layout import PREFIX_MODEL_TYPES, BatchLayout, choose
from llm.data.prefix_sharing import CHOSEN, PROMPT, REJECTED, allowed, prefix_preference_batch
from llm.engine.checkpoint import load_checkpoint
from llm.engine.distributed import World
from llm.engine.reference import reference_logps
from llm.engine.scoring import SequenceScorer, forward_work
from llm.engine.session import saved_layout
from llm.train import main, parse_args, run_training

lengths = st.tuples(st.integers(1, 9), st.integers(1, 7), st.integers(1, 7))


def float64_norms(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every RMSNorm computed in its input's dtype (module notes)."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * (hidden * scale)

    for module in model.modules():
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = types.MethodType(forward, module)
    return model


EXACT_ATTENTION = [(family, "sdpa") for family in PREFIX_MODEL_TYPES] + [("gpt2", "eager")]
"""(architecture, attention) pairs tested exact; the eager attention of Llama, Qwen2 and GPT-NeoX
takes its softmax in float32 (transformers 5), so it is tested to float32 rounding instead."""


def model_of(family: str, attention: str) -> torch.nn.Module:
    model = float64_norms(tiny_model(family))
    model.config._attn_implementation = attention
    return model


@pytest.fixture(scope="module", params=EXACT_ATTENTION, ids=lambda p: "-".join(p))
def model(request) -> torch.nn.Module:
    from llm.data.layout import takes_prefix_mask

    model = model_of(*request.param)
    if not takes_prefix_mask(model):  # refused for it, as --layout prefix refuses it
        pytest.skip("this transformers' eager GPT-2 slices a causal buffer: no prefix layout")
    return model


def differences(model, pairs, pad_to_multiple: int = 1) -> dict[str, float]:
    """Largest absolute differences of the prefix layout from the padded one: sequence
    log-probs, loss, gradients; asserts the token counts are the same."""
    padded = preference_batch(pairs, EOS)
    prefix = prefix_preference_batch(pairs, EOS, pad_to_multiple)
    (sums, loss, grads), (p_sums, p_loss, p_grads) = scored(model, padded), scored(model, prefix)
    assert torch.equal(SequenceScorer(model)(prefix)[1], padded.response_tokens)
    return {"logps": float((p_sums - sums).abs().max()), "loss": float((p_loss - loss).abs()),
            "grads": max(float((b - a).abs().max()) for a, b in zip(grads, p_grads,
                                                                    strict=True))}


def assert_same_scores(model, pairs, pad_to_multiple: int = 1) -> None:
    found = differences(model, pairs, pad_to_multiple)
    assert max(found.values()) <= TOLERANCE, found


@settings(max_examples=12, deadline=None)
@given(st.lists(lengths, min_size=1, max_size=5), st.sampled_from([1, 8]))
def test_prefix_scores_losses_and_gradients_equal_the_padded_ones(model, shape, multiple):
    assert_same_scores(model, make_pairs(shape), multiple)


@pytest.mark.parametrize("shape", [
    [(1, 1, 1), (1, 1, 2)],  # one-token prompts and length-1 responses
    [(4, 1, 5), (3, 4, 1), (2, 2, 2)],  # length-1 responses among longer ones
    [(2, 3, 4), (3, 3, 3)],  # two units of 9: rows filled exactly
    [(3, 1, 20), (2, 18, 1), (1, 25, 2)],  # very different chosen and rejected lengths
])
def test_edge_layouts_score_as_padded(model, shape):
    assert_same_scores(model, make_pairs(shape))


@pytest.mark.parametrize("family", [f for f in PREFIX_MODEL_TYPES if f != "gpt2"])
def test_eager_attention_in_float32_softmax_scores_as_padded_to_its_rounding(family):
    pairs = make_pairs([(4, 1, 5), (3, 4, 1), (1, 6, 2), (5, 3, 3)])
    found = differences(model_of(family, "eager"), pairs)
    assert found["logps"] <= 1e-6 and found["loss"] <= 1e-6 and found["grads"] <= 1e-5, found


def test_pi_refs_log_probs_are_scored_in_the_runs_layout():
    model, world = model_of("llama", "sdpa"), World(0, 1, torch.device("cpu"))
    pairs = make_pairs([(4, 1, 5), (3, 4, 1), (1, 6, 2), (5, 3, 3), (2, 2, 7)])
    padded = reference_logps(model, pairs, EOS, world, batch_size=2)
    for layout in (BatchLayout.PREFIX, BatchLayout.PACKED):
        scored_ = reference_logps(model, pairs, EOS, world, batch_size=2, layout=layout)
        torch.testing.assert_close(scored_, padded, rtol=0, atol=TOLERANCE)


def test_a_pair_that_fills_its_rows_exactly():
    batch = prefix_preference_batch(make_pairs([(2, 3, 4), (3, 3, 3)]), EOS)
    assert bool(batch.attention_mask.all()) and batch.input_ids.shape[1] in (9, 18)
    assert forward_work(batch, 0) == (18, 18)


def test_the_layout_of_one_pair():
    """Prompt once, chosen, then rejected with positions continuing from the prompt; the
    prompt's last column predicts both first tokens; the rejected sees no chosen token."""
    pairs = make_pairs([(3, 2, 3)])
    batch = prefix_preference_batch(pairs, EOS, pad_to_multiple=10)
    pair = pairs[0]
    assert batch.input_ids[0, :8].tolist() == pair.prompt + pair.chosen + pair.rejected
    assert batch.position_ids[0].tolist() == [0, 1, 2, 3, 4, 3, 4, 5, 0, 0]
    assert batch.part[0, :8].tolist() == [PROMPT] * 3 + [CHOSEN] * 2 + [REJECTED] * 3
    assert batch.scored.tolist() == [2, 3, 5, 6]  # the prompt's last column once
    assert batch.scored[batch.token_row].tolist() == [2, 3, 2, 5, 6]
    assert batch.token_target.tolist() == pair.chosen + pair.rejected
    assert batch.response_slot.tolist() == [0, 1, 3, 4, 5]  # chosen s=0, rejected s=1, L=3
    mask = allowed(batch.unit, batch.part)[0].int()
    assert mask[:8, :8].tolist() == [
        [1, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0],  # chosen: the prompt and earlier chosen tokens
        [1, 1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0, 1, 0, 0],  # rejected: the prompt and earlier rejected tokens only
        [1, 1, 1, 0, 0, 1, 1, 0],
        [1, 1, 1, 0, 0, 1, 1, 1],
    ]
    assert torch.equal(mask[8:], torch.eye(10, dtype=torch.int)[8:])  # padding sees itself


def test_the_flex_attention_mask_is_the_same_pattern():
    """FlexAttention (CUDA's block-sparse path) gets :func:`allowed` as a ``mask_mod``; run
    token by token it gives the same pattern (the kernel itself needs a GPU to be timed)."""
    flex = pytest.importorskip("torch.nn.attention.flex_attention")
    batch = prefix_preference_batch(make_pairs([(3, 2, 3), (1, 1, 4), (2, 5, 1)]), EOS,
                                    pad_to_multiple=8)
    rows, width = batch.unit.shape
    dense = flex.create_mask(prefix_sharing.mask_mod(batch.unit, batch.part), rows, None, width,
                             width, device="cpu")
    assert torch.equal(dense[:, 0], allowed(batch.unit, batch.part))
    assert prefix_sharing.flex_block_mask(batch).shape[-2:] == (width, width)


def test_a_rejected_response_that_sees_the_chosen_one_is_caught(monkeypatch):
    """The checker fails on a mask that leaks: rejected tokens attending to the chosen response
    (the same unit, causal, parts ignored)."""
    model = tiny_model("gpt2")
    pairs = make_pairs([(4, 3, 5), (2, 6, 2), (3, 1, 4)])
    assert_same_scores(model, pairs)

    def leaky(unit, part):
        width = unit.shape[1]
        causal = torch.ones(width, width, dtype=torch.bool).tril()
        return (unit[:, :, None] == unit[:, None, :]) & causal

    monkeypatch.setattr(prefix_sharing, "allowed", leaky)
    found = differences(model, pairs)
    assert found["logps"] > 1e-3 and found["grads"] > 1e-3
    with pytest.raises(AssertionError):
        assert_same_scores(model, pairs)


def test_the_layout_is_one_value_chosen_once():
    gpt2, cpu, cuda = tiny_model("gpt2"), torch.device("cpu"), torch.device("cuda")
    assert choose("auto", gpt2, cpu) is BatchLayout.PREFIX
    assert choose("auto", gpt2, cuda) is BatchLayout.PADDED  # unmeasured on CUDA
    assert choose("prefix", gpt2, cuda) is BatchLayout.PREFIX
    flash = types.SimpleNamespace(config=types.SimpleNamespace(
        model_type="llama", _attn_implementation="flash_attention_2"))
    assert choose("auto", flash, cpu) is BatchLayout.PACKED  # its attention takes no 4-D mask
    other = types.SimpleNamespace(config=types.SimpleNamespace(model_type="bloom",
                                                               _attn_implementation="sdpa"))
    for model, instead in ((flash, "packed"), (other, "padded")):
        with pytest.raises(ConfigError, match=f"use --layout {instead}"):
            choose("prefix", model, cpu)
    pairs = make_pairs([(2, 2, 3)])
    assert isinstance(BatchLayout.PREFIX.sft_batch(pairs, EOS),
                      type(BatchLayout.PACKED.sft_batch(pairs, EOS)))  # SFT packs


def test_the_options_and_their_old_aliases():
    assert parse_args([]).layout == "auto" and parse_args([]).packing is None
    assert parse_args(["--layout", "prefix"]).layout == "prefix"
    assert parse_args(["--packing"]).packing is True
    with pytest.raises(ConfigError, match="disagree"):
        TrainConfig(packing=True, layout="prefix")
    assert TrainConfig(packing=False, layout="padded").layout == "padded"
    assert saved_layout({"packing": True}) == "packed"  # a run folder from before --layout
    assert saved_layout({"packing": False, "layout": None}) == "padded"
    assert saved_layout({"layout": "prefix", "packing": None}) == "prefix"
    assert saved_layout({}) == "auto"


def test_an_architecture_without_the_mask_is_refused_in_one_line(tmp_path, capsys):
    folder = saved_causal_lm(tmp_path / "mistral", "mistral")
    capsys.readouterr()  # what saving the model printed
    assert main(model_argv(folder, tmp_path / "runs", "run", "--layout", "prefix")) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m llm.train: ") and err.count("\n") == 1, err
    assert "--layout prefix" in err and "'mistral'" in err and "use --layout padded" in err


def test_a_prefix_run_saves_its_layout_and_an_old_packed_folder_resumes_packed(tmp_path):
    folder = run_training(tiny(tmp_path, run_name="run", pref_steps=2, stop_after=4))
    saved = json.loads((folder / "config.json").read_text())
    assert saved["layout"] == "prefix" and saved["packing"] is None
    old = {k: v for k, v in saved.items() if k != "layout"} | {"packing": True}
    (folder / "config.json").write_text(json.dumps(old))  # as a run from before --layout
    run_training(tiny(tmp_path, run_name="run", pref_steps=2, resume=True))
    assert json.loads((folder / "config.json").read_text())["layout"] == "packed"


@pytest.mark.slow
def test_a_killed_prefix_run_resumes_bit_for_bit(tmp_path):
    changes = {"layout": "prefix", "micro_batch_size": 2}
    whole = run_training(resumable_tiny(tmp_path / "whole", **changes))
    stopped = run_training(resumable_tiny(tmp_path / "run", stop_after=5, **changes))
    assert load_checkpoint(stopped)["step"] == 2
    resumed = run_training(resumable_tiny(tmp_path / "run", resume=True, **changes))
    assert_same_as(resumed, whole)
