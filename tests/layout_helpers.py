"""Tiny float64 models, pairs of drawn lengths and their scores: what the layout tests compare
(tests/llm/test_packing.py, tests/llm/test_prefix_sharing.py)."""

from __future__ import annotations

import numpy as np
import torch

from llm.config import TrainConfig
from llm.data.batching import TokenizedPair
from llm.engine.objectives import PreferenceObjective
from llm.engine.reference import ReferenceLogps
from llm.engine.scoring import SequenceScorer

VOCAB = 64
EOS = VOCAB - 1
TOLERANCE = 1e-10
"""How far, in float64, another layout's log-probs, loss and gradients may be from the padded."""


def tiny_model(family: str) -> torch.nn.Module:
    """A one-layer model of ``family`` in float64, seeded, without dropout."""
    import transformers

    torch.manual_seed(0)
    if family == "gpt2":
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
            n_layer=1, n_embd=16, n_head=2, n_positions=64, vocab_size=VOCAB, resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0))
    elif family == "gpt_neox":
        model = transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
            vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, max_position_embeddings=64, hidden_dropout=0.0,
            attention_dropout=0.0))
    else:  # llama, qwen2: the same shape through each family's own classes
        config = transformers.AutoConfig.for_model(
            family, vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
        model = transformers.AutoModelForCausalLM.from_config(config)
    return model.double()


def make_pairs(shape: list[tuple[int, int, int]], seed: int = 0) -> list[TokenizedPair]:
    """Pairs of random tokens with (prompt, chosen, rejected) lengths ``shape``; each response
    ends with end-of-text (a length-1 response is end-of-text alone)."""
    rng = np.random.default_rng(seed)

    def tokens(n: int) -> list[int]:
        return rng.integers(0, EOS, n).tolist()

    return [TokenizedPair(tokens(p), [*tokens(c - 1), EOS], [*tokens(r - 1), EOS])
            for p, c, r in shape]


def scored(model, batch) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """(sequence log-probs, preference loss, parameter gradients) of ``batch``."""
    model.zero_grad(set_to_none=True)
    sums, counts = SequenceScorer(model)(batch)
    pairs = sums.shape[0] // 2
    reference = torch.linspace(-30.0, -2.0, 4 * pairs, dtype=torch.float64).view(pairs, 4)
    reference[:, 2:] = counts.view(2, pairs).T  # the token counts
    objective = PreferenceObjective.of(TrainConfig(loss="iupo", f="js", form="paper")
                                       ).with_reference(ReferenceLogps(reference, reference[:0]))
    loss = objective(sums, counts, list(range(pairs)), "train").loss
    loss.backward()
    return sums.detach(), loss.detach(), [p.grad.clone() for p in model.parameters()]
