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


ARCHITECTURES = ("llama", "qwen2", "gpt_neox")
"""Causal LMs besides GPT-2 that the tests build tiny from their configs."""


def saved_causal_lm(folder: Path, architecture: str, seed: int = 0) -> Path:
    """A one-layer, width-32 ``architecture`` (one of :data:`ARCHITECTURES`) with GPT-2's
    vocabulary, freshly initialised and saved with ``save_pretrained`` beside GPT-2's tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from llm.engine.model import GPT2_VOCAB, offline_gpt2_tokenizer

    shape = dict(vocab_size=GPT2_VOCAB, hidden_size=32, num_hidden_layers=1,
                 num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    if architecture in ("llama", "qwen2"):
        shape["num_key_value_heads"] = 1  # grouped-query attention, as the released models
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(architecture, **shape))
    model.save_pretrained(folder)
    offline_gpt2_tokenizer().save_pretrained(folder)
    return folder


def model_argv(folder: Path, out: Path, name: str, *extra: str, lr: str = "1e-3") -> list[str]:
    """``llm.train`` arguments for a two-step SFT + preference run of the saved model ``folder``
    on the TRL-format fixture, a checkpoint every step."""
    return ["--data", "jsonl", "--data-path", str(FIXTURES / "trl.jsonl"), "--model",
            str(folder), "--out-dir", str(out), "--run-name", name, "--sft-steps", "2",
            "--pref-steps", "2", "--batch-size", "4", "--sft-batch-size", "4", "--log-every",
            "1", "--eval-every", "2", "--save-every", "1", "--max-length", "48",
            "--eval-fraction", "0.25", "--warmup-steps", "1", "--sft-lr", lr, "--lr", lr,
            "--truth-eval-prompts", "0", "--device", "cpu", *extra]


def config_argv(config: TrainConfig) -> list[str]:
    """The ``llm.train`` command line of ``config`` (a flag per set field, ``True`` as a bare
    flag, ``None`` and ``False`` left out, and so is a field the run ignores, which the command
    line would refuse: :mod:`llm.ignored_options`)."""
    from llm.config import ConfigError

    args: list[str] = []
    for name, value in config.to_dict().items():
        if value is None or value is False:
            continue
        try:
            config.check_given({name})
        except ConfigError:
            continue
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


def metric_rows(run_dir: Path) -> list[dict]:
    """A run's metric rows without the wall-clock ``tokens_per_s``."""
    from llm.engine.metrics import read_metrics

    return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in read_metrics(run_dir)]


def resumable(out_dir: Path, **changes) -> TrainConfig:
    """A tiny run with a checkpoint after every step (so kills land in saves and between)."""
    return tiny(out_dir, **{"pref_steps": 4, "save_every": 1, "run_name": "run",
                            "device": "auto", **changes})


def outcome(run_dir: Path) -> tuple[dict, list[dict]]:
    """Final weights and the metric rows (without the wall-clock ``tokens_per_s``)."""
    from safetensors.torch import load_file

    from llm.engine.checkpoint import CHECKPOINT

    rows = metric_rows(run_dir)
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1  # the CSV holds the same rows, once each
    return load_file(run_dir / CHECKPOINT / "model.safetensors"), rows


def assert_same_as(run_dir: Path, whole: Path) -> None:
    """``run_dir`` ended bit for bit as the uninterrupted run ``whole``: weights and metrics."""
    import torch

    (weights, rows), (expected_weights, expected_rows) = outcome(run_dir), outcome(whole)
    assert weights.keys() == expected_weights.keys()
    for name, tensor in expected_weights.items():
        assert torch.equal(weights[name], tensor), name
    assert rows == expected_rows
