"""llm.data.batching and llm.engine.scoring: truncation, response positions, response-only
log-probs."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.data.batching import TokenizedPair, preference_batch, sft_batch, tokenize_pairs, truncate
from llm.data.pairs import PreferencePair
from llm.engine.model import offline_gpt2, offline_gpt2_tokenizer
from llm.engine.scoring import SequenceScorer, sequence_logps

ids = st.lists(st.integers(0, 50000), min_size=1, max_size=60)


@pytest.fixture(scope="module")
def tokenizer():
    return offline_gpt2_tokenizer()


@pytest.fixture(scope="module")
def tiny_model():
    return offline_gpt2(n_layer=1, n_embd=32, n_head=2, n_positions=128, seed=0).eval()


@given(ids, ids, ids, st.integers(8, 80))
def test_truncation_keeps_prompt_end_and_response_starts_within_max_length(p, c, r, max_length):
    prompt, (chosen, rejected) = truncate(p, [c, r], max_length)
    if len(p) + max(len(c), len(r)) <= max_length:
        assert (prompt, chosen, rejected) == (p, c, r)
    else:
        assert len(prompt) == min(len(p), max_length // 2)
        assert len(prompt) + max(len(chosen), len(rejected)) <= max_length
    assert p[len(p) - len(prompt):] == prompt
    assert c[: len(chosen)] == chosen and r[: len(rejected)] == rejected


def test_gpt2_tokenizer_has_gpt2_ids(tokenizer):
    # GPT-2's published ids: "Hello" = 15496, " world" = 995, <|endoftext|> = 50256.
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert tokenizer.eos_token_id == 50256 and len(tokenizer) == 50257


def test_tokenize_drops_pairs_identical_after_truncation(tokenizer):
    long_common = " same words" * 40
    pairs = [PreferencePair("Q:", long_common + " yes", long_common + " no"),
             PreferencePair("Q:", " yes", " no")]
    kept, report = tokenize_pairs(pairs, tokenizer, max_length=32)
    assert report.kept == len(kept) == 1 and report.dropped_identical == 1
    assert kept[0].chosen[-1] == tokenizer.eos_token_id


@given(st.lists(st.tuples(ids, ids, ids), min_size=1, max_size=4))
def test_response_mask_marks_exactly_the_response_tokens(rows):
    pairs = [TokenizedPair(*row) for row in rows]
    batch = preference_batch(pairs, pad_id=0)
    responses = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    assert batch.response_tokens.tolist() == [len(r) for r in responses]
    for row, response in enumerate(responses):
        assert batch.targets[row][batch.response_mask[row]].tolist() == response


def _full_logits_logps(model, batch):
    """The textbook computation: logits at every position, then gather at response tokens."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    token = torch.log_softmax(logits.float(), -1).gather(2, batch.targets[..., None])[..., 0]
    return (token * batch.response_mask).sum(1), batch.response_mask.sum(1)


@settings(max_examples=15)
@given(st.lists(st.tuples(ids, ids, ids), min_size=1, max_size=3))
def test_response_only_scoring_equals_full_logits(tiny_model, rows):
    pairs = [TokenizedPair(p[:20], c[:20], r[:20]) for p, c, r in rows]
    for batch in (preference_batch(pairs, pad_id=50256), sft_batch(pairs, pad_id=50256)):
        with torch.no_grad():
            sums, counts = SequenceScorer(tiny_model).score(batch)
            expected, expected_counts = _full_logits_logps(tiny_model, batch)
        torch.testing.assert_close(sums, expected, rtol=1e-5, atol=1e-4)
        assert counts.tolist() == expected_counts.tolist()


@given(st.lists(st.floats(-100, 0), min_size=1, max_size=5), st.integers(1, 9))
def test_mean_length_divides_by_response_tokens(values, count):
    sums = torch.tensor(values)
    counts = torch.full_like(sums, count, dtype=torch.long)
    torch.testing.assert_close(sequence_logps(sums, counts, "mean"), sums / count)
    assert torch.equal(sequence_logps(sums, counts, "sum"), sums)
