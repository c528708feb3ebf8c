"""Causal LMs besides GPT-2: tiny Llama-, Qwen2- and GPT-NeoX-style models, built from their
configs and saved with GPT-2's tokenizer beside them, train SFT then preference through
``llm.train --model FOLDER``, resume bit for bit after a kill, and train in TRL's ``UPOTrainer``.
GPT-2's fused activation (``llm.engine.model.fuse_activations``) stays GPT-2's own."""

import copy
import json
from pathlib import Path

import pytest
import torch
from llm_helpers import ARCHITECTURES, FIXTURES, model_argv, saved_causal_lm
from safetensors.torch import load_file

from llm.engine.checkpoint import CHECKPOINT
from llm.engine.metrics import read_metrics
from llm.engine.model import load_model
from llm.train import main as train_main

STOP_AFTER = 3
"""The stopped run's last global step: SFT step 2, then pref step 1 (of 2)."""


def outcome(run_dir: Path) -> tuple[dict[str, torch.Tensor], list[dict]]:
    rows = [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in read_metrics(run_dir)]
    return load_file(run_dir / CHECKPOINT / "model.safetensors"), rows


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_causal_lm_trains_both_stages_and_resumes_bit_for_bit(tmp_path, architecture):
    folder = saved_causal_lm(tmp_path / architecture, architecture)
    out = tmp_path / "runs"
    assert train_main(model_argv(folder, out, "whole")) == 0
    rows = read_metrics(out / "whole")
    for stage in ("sft", "pref"):
        assert [r["step"] for r in rows if r["stage"] == stage and r["split"] == "train"] == [1, 2]
    sft, _ = load_model(str(out / "whole" / "sft"))
    assert sft.config.model_type == architecture
    start = load_model(str(folder))[0].state_dict()
    assert any(not torch.equal(start[n], t) for n, t in sft.state_dict().items())

    assert train_main(model_argv(folder, out, "cut", "--stop-after", str(STOP_AFTER))) == 0
    assert train_main(model_argv(folder, out, "cut", "--resume")) == 0
    (weights, got), (expected, wanted) = outcome(out / "cut"), outcome(out / "whole")
    assert weights.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(weights[name], tensor), name
    assert got == wanted
    assert json.loads((out / "cut" / "config.json").read_text())["model"] == str(folder)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_only_gpt2s_activation_is_swapped_for_a_fused_kernel(tmp_path, architecture):
    folder = saved_causal_lm(tmp_path / architecture, architecture)
    saved = json.loads((folder / "config.json").read_text())
    model, tokenizer = load_model(str(folder))
    for name in ("hidden_act", "activation_function"):
        assert getattr(model.config, name, None) == saved.get(name)
    assert tokenizer.pad_token == tokenizer.eos_token


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_upotrainer_trains_a_causal_lm(tmp_path, architecture):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from llm.trl import UPOTrainer

    model, tokenizer = load_model(str(saved_causal_lm(tmp_path / "m", architecture)))
    rows = [json.loads(line) for line in (FIXTURES / "trl.jsonl").read_text().splitlines()]
    data = datasets.Dataset.from_list([r for r in rows if r["chosen"] != r["rejected"]])
    args = trl.DPOConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=4,
                         beta=0.1, report_to="none", use_cpu=True, save_strategy="no",
                         logging_steps=1, max_steps=2, learning_rate=1e-3, seed=0)
    trainer = UPOTrainer(model=model, ref_model=copy.deepcopy(model), args=args,
                         train_dataset=data, processing_class=tokenizer, loss="iupo", f="js")
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["step"] for entry in logged] == [1, 2]
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in logged)
    assert any(not torch.equal(before[n], p) for n, p in trainer.model.named_parameters())


def test_a_bf16_checkpoint_trains_in_float32(tmp_path):
    """Llama and Qwen checkpoints store bf16; AdamW's updates at lr 1e-6 would round away."""
    from transformers import AutoModelForCausalLM

    folder = saved_causal_lm(tmp_path / "m", "qwen2")
    AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    assert load_model(str(folder))[0].dtype == torch.float32
