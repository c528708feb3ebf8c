"""A Qwen2-shaped causal LM built from its config, as the FSDP2 and LoRA benchmarks use it: the
shape options they share and the model they build from them (random weights, seed 0; no
download), so the two benchmarks measure the same model for the same options."""

from __future__ import annotations

import argparse

import torch


def add_shape_options(parser: argparse.ArgumentParser, *, hidden: int, layers: int, heads: int,
                      kv_heads: int, intermediate: int, vocab: int = 32000) -> None:
    """``--hidden``, ``--layers``, ``--heads``, ``--kv-heads``, ``--intermediate``, ``--vocab``,
    with the calling benchmark's defaults."""
    for flag, default in (("--hidden", hidden), ("--layers", layers), ("--heads", heads),
                          ("--kv-heads", kv_heads), ("--intermediate", intermediate),
                          ("--vocab", vocab)):
        parser.add_argument(flag, type=int, default=default)


def qwen2_model(args: argparse.Namespace) -> torch.nn.Module:
    """The Qwen2 model of the shape options in ``args``, tied embeddings, from seed 0."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    return Qwen2ForCausalLM(Qwen2Config(
        vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        intermediate_size=args.intermediate, tie_word_embeddings=True))
