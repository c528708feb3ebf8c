"""The benchmark scripts run, at a tiny size, and print what they promise: a smoke test that
catches a script left behind by an interface change (their figures are measured, not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
TINY_QWEN = ["--hidden", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
             "--intermediate", "128", "--vocab", "1000", "--length", "32", "--steps", "1"]


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_the_lora_memory_bench_prints_both_modes(tmp_path):
    out = tmp_path / "lora.json"
    text = run(str(BENCH / "bench_lora_memory.py"), *TINY_QWEN, "--json", str(out))
    rows = [line for line in text.splitlines() if line.startswith(("| full", "| lora"))]
    assert len(rows) == 2
    assert out.is_file()


@pytest.mark.slow
def test_the_fsdp_bench_runs_on_two_gloo_processes():
    text = run("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(BENCH / "bench_fsdp.py"), *TINY_QWEN)
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and all(line["tokens_per_s"] > 0 for line in lines)


@pytest.mark.slow
def test_the_step_bench_prints_the_padded_packed_and_prefix_layouts():
    text = run(str(BENCH / "bench_llm_step.py"), "--shape", "offline", "--preset", "small",
               "--batch-size", "2", "--repeats", "1", "--warmup", "0", "--threads", "1")
    assert all(f"| {layout} |" in text for layout in ("padded", "packed", "prefix"))


@pytest.mark.slow
def test_the_default_run_spread_runs_the_command_per_seed_and_summarises(tmp_path):
    out = tmp_path / "spread.json"
    tiny = ["--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--sft-steps", "2",
            "--pref-steps", "2", "--offline-train-pairs", "32", "--offline-eval-pairs", "8",
            "--eval-pairs", "8", "--truth-eval-prompts", "4", "--truth-max-new-tokens", "4",
            "--batch-size", "8", "--sft-batch-size", "8", "--eval-every", "2"]
    text = run(str(BENCH / "default_run_spread.py"), "--seeds", "0", "1", "--threads", "1",
               "--write", str(out), "--", *tiny)
    record = json.loads(out.read_text())
    gains = [r["gain"] for r in record["runs"]]
    assert [r["seed"] for r in record["runs"]] == [0, 1] and "smallest gain" in text
    assert record["summary"]["smallest_gain"] == min(gains)
    assert abs(record["summary"]["gain"]["mean"] - sum(gains) / 2) < 1e-12


@pytest.mark.slow
def test_the_truth_probe_bench_prints_the_three_probes():
    text = run(str(BENCH / "bench_truth_probe.py"), "--prompts", "4", "--max-new-tokens", "3",
               "--layers", "1", "--width", "32", "--heads", "2", "--repeats", "1")
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["generate", "first probe", "later probe"]
