"""LoRA through peft (``--lora-r``): only the adapters train and are saved, π_ref is the policy with
its adapters disabled (never a model loaded again), a killed run resumes bit for bit, the merged
export is a plain model folder, and bad combinations are one line and exit 2."""

import json
import sys
from pathlib import Path

import pytest
import torch
from llm_helpers import metric_rows, model_argv, saved_causal_lm
from llm_helpers import tiny as tiny_run
from safetensors.torch import load_file

pytest.importorskip("peft")

from llm.config import ConfigError
from llm.data.batching import preference_batch, tokenize_pairs
from llm.data.pairs import PreferencePair
from llm.engine import session as session_module
from llm.engine.checkpoint import CHECKPOINT
from llm.engine.lora import MERGED, add_adapters
from llm.engine.metrics import read_metrics
from llm.engine.model import load_model
from llm.engine.scoring import score_batches
from llm.train import main as train_main
from llm.train import run_training

ADAPTERS = "adapter_model.safetensors"


def argv(folder: Path, out: Path, name: str, *extra: str) -> list[str]:
    return model_argv(folder, out, name, "--lora-r", "4", *extra, lr="1e-2")


def outcome(run_dir: Path) -> tuple[dict[str, torch.Tensor], list[dict]]:
    return load_file(run_dir / CHECKPOINT / ADAPTERS), metric_rows(run_dir)


@pytest.mark.slow
def test_lora_saves_only_adapters_uses_the_adapter_disabled_reference_and_resumes_exactly(
        tmp_path, monkeypatch):
    def no_second_copy(self):
        raise AssertionError("pi_ref was loaded again; LoRA disables the adapters instead")

    monkeypatch.setattr(session_module.TrainingSession, "reference_model", no_second_copy)
    folder = saved_causal_lm(tmp_path / "llama", "llama")
    out = tmp_path / "runs"
    assert train_main(argv(folder, out, "whole", "--lora-merge")) == 0
    whole = out / "whole"
    for saved in (whole / "sft", whole / CHECKPOINT):
        assert (saved / ADAPTERS).is_file() and not (saved / "model.safetensors").exists()
        full = (folder / "model.safetensors").stat().st_size
        assert (saved / ADAPTERS).stat().st_size < full / 10
    weights, _ = outcome(whole)
    assert weights and all("lora_" in name for name in weights)
    assert any(name.endswith("lora_B.weight") and t.abs().sum() > 0 for name, t in weights.items())
    merged, _ = load_model(str(whole / MERGED))
    assert merged.config.model_type == "llama"
    start = load_model(str(folder))[0].state_dict()
    assert any(not torch.equal(start[n], t) for n, t in merged.state_dict().items())

    assert train_main(argv(folder, out, "cut", "--stop-after", "3")) == 0  # pref step 1 of 2
    (out / "cut" / "ref_logps.pt").unlink()  # computed again, from the adapter-disabled policy
    assert train_main(argv(folder, out, "cut", "--resume", "--lora-merge")) == 0  # resumable
    assert (out / "cut" / MERGED / "model.safetensors").is_file()
    (got, got_rows), (expected, expected_rows) = outcome(out / "cut"), outcome(whole)
    assert got.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name
    assert got_rows == expected_rows
    torch.testing.assert_close(torch.load(out / "cut" / "ref_logps.pt")["logps"],
                               torch.load(whole / "ref_logps.pt")["logps"], rtol=0, atol=0,
                               equal_nan=True)  # NaN: pairs the stage never visits


def test_the_reference_is_the_policy_with_its_adapters_disabled(tmp_path):
    model, tokenizer = load_model(str(saved_causal_lm(tmp_path / "m", "qwen2")))
    pairs, _ = tokenize_pairs([PreferencePair("What is 1 + 1?", " 2.", " 3.")], tokenizer, 48)
    batch = preference_batch(pairs, tokenizer.pad_token_id)
    [(base, _)] = score_batches(model, [batch], "cpu")
    config = tiny_run(tmp_path, lora_r=4)
    policy = add_adapters(model, config)
    with torch.no_grad():
        for name, parameter in policy.named_parameters():
            if "lora_B" in name:
                parameter.normal_()
    [(moved, _)] = score_batches(policy, [batch], "cpu")
    with policy.disable_adapter():
        [(reference, _)] = score_batches(policy, [batch], "cpu")
    assert not torch.equal(moved, base) and torch.equal(reference, base)
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


@pytest.mark.slow
def test_lora_on_the_offline_gpt2_trains_its_conv1d_attention(tmp_path):
    folder = run_training(tiny_run(tmp_path, stage="sft", sft_steps=2, lora_r=2,
                                   lora_target_modules="c_attn", sft_lr=1e-2))
    saved = json.loads((folder / "sft" / "adapter_config.json").read_text())
    assert saved["target_modules"] == ["c_attn"] and saved["r"] == 2
    assert [r["step"] for r in read_metrics(folder) if r["split"] == "train"] == [1, 2]


def one_line_exit_2(capsys, args: list[str], *words: str) -> None:
    capsys.readouterr()  # what came before
    try:  # a bad setting stops the parser (SystemExit), a bad model the setup (returns 2)
        code = train_main(args)
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert all(word in err for word in words), err


def test_target_modules_the_model_lacks_are_one_line_and_exit_2(tmp_path, capsys):
    folder = saved_causal_lm(tmp_path / "m", "gpt_neox")
    one_line_exit_2(capsys, argv(folder, tmp_path / "runs", "r", "--lora-target-modules",
                                 "q_proj,v_proj"),
                    "has no module q_proj, v_proj", "query_key_value")
    assert not (tmp_path / "runs" / "r").exists()  # nothing left to block the retry


def test_lora_without_peft_and_merge_without_lora_are_refused(tmp_path, capsys, monkeypatch):
    folder = saved_causal_lm(tmp_path / "m", "llama")
    args = argv(folder, tmp_path / "runs", "r")
    one_line_exit_2(capsys, [*args[:-2], "--lora-merge"], "lora_merge needs --lora-r > 0")
    one_line_exit_2(capsys, [*args[:-2], "--lora-r", "-1"], "lora_r=-1 must be >= 0")
    monkeypatch.setitem(sys.modules, "peft", None)  # as if not installed
    one_line_exit_2(capsys, args, "needs peft", "pip install -e '.[lora]'")
    config = tiny_run(tmp_path, lora_r=4)  # the schema holds; the run refuses before work
    with pytest.raises(ConfigError, match="needs peft"):
        run_training(config)
    assert not (tmp_path / config.resolved_run_name()).exists()


@pytest.mark.slow
def test_two_gloo_processes_train_lora_as_one_process_does(tmp_path):
    import os
    import subprocess

    folder = saved_causal_lm(tmp_path / "llama", "llama")
    out = tmp_path / "runs"
    assert train_main(argv(folder, out, "one")) == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "llm.train", *argv(folder, out, "two")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    (one, one_rows), (two, two_rows) = outcome(out / "one"), outcome(out / "two")
    for name, tensor in one.items():  # the reduction order rounds differently (as for DDP)
        torch.testing.assert_close(two[name], tensor, rtol=0, atol=5e-5)
    losses = [[r["loss"] for r in rows if r["split"] == "train"] for rows in (one_rows, two_rows)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
