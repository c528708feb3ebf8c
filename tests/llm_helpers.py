"""The tiny training run the llm tests build on: seconds on a CPU, every stage and file written."""

from __future__ import annotations

from pathlib import Path

from llm.config import TrainConfig

FIXTURES = Path(__file__).parent / "fixtures"
TINY = dict(data="jsonl", data_path=str(FIXTURES / "trl.jsonl"), n_layer=1, n_embd=32, n_head=2,
            sft_steps=3, pref_steps=3, batch_size=4, sft_batch_size=4, eval_every=2,
            log_every=1, save_every=2, eval_fraction=0.25, truth_eval_prompts=0, max_length=48,
            warmup_steps=1, device="cpu")


def tiny(out_dir: Path, **changes) -> TrainConfig:
    """A one-layer GPT-2 on the TRL-format fixture, on the CPU unless ``changes`` say otherwise."""
    return TrainConfig(**{**TINY, "out_dir": str(out_dir), **changes})
