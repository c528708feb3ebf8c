"""Peak memory of a training step, full fine-tuning against LoRA, on the same model.

    python bench/bench_lora_memory.py                       # CPU: a ~40M Qwen2-shaped model
    python bench/bench_lora_memory.py --device cuda --hidden 896 --layers 24 --vocab 151936 \\
        --intermediate 4864 --heads 14 --kv-heads 2          # Qwen2-0.5B's shape, on a GPU

Each mode runs in its own process: the model is built from a ``Qwen2Config`` (random weights; no
download), wrapped as ``llm.train`` wraps it (:class:`llm.engine.scoring.SequenceScorer`; with
``--lora-r``, :func:`llm.engine.lora.add_adapters` on every linear layer), and trained for a few
AdamW steps on random token rows. Reported per mode: parameters, trainable parameters, the bytes
of weights, gradients and AdamW moments (counted from the tensors), and peak memory (CUDA:
``torch.cuda.max_memory_allocated``; CPU: peak resident set size, and its rise over the process
after the model was built, which is what training adds: gradients, AdamW's moments and
activations, as the allocator holds them).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
from memory import held_bytes  # bench/, beside this script
from qwen2_shape import add_shape_options, qwen2_model

MODES = ("full", "lora")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    add_shape_options(parser, hidden=512, layers=8, heads=8, kv_heads=2, intermediate=1408)
    parser.add_argument("--rows", type=int, default=2, help="sequences per step")
    parser.add_argument("--length", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--mode", choices=MODES, help="measure one mode (else both, each in "
                                                      "its own process)")
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args(argv)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(args: argparse.Namespace) -> dict[str, float | str]:
    from llm.config import TrainConfig
    from llm.data.batching import Batch
    from llm.engine.lora import add_adapters
    from llm.engine.scoring import SequenceScorer

    device = torch.device(args.device)
    model = qwen2_model(args)
    if args.mode == "lora":
        model = add_adapters(model, TrainConfig(lora_r=args.lora_r, lora_alpha=2 * args.lora_r,
                                                out_dir="/tmp"))
    model.to(device).train()
    scorer = SequenceScorer(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    built = rss_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    ids = torch.randint(0, args.vocab, (args.rows, args.length), device=device)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, args.length // 2: -1] = True  # the second half scored, as responses are
    batch = Batch(ids, torch.ones_like(ids), torch.roll(ids, -1, dims=1), mask)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else torch.autocast("cpu", enabled=False))
    started = time.perf_counter()
    for _ in range(args.steps):
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            sums, counts = scorer(batch)
        (-sums.sum() / counts.sum()).backward()
        optimizer.step()
    seconds = (time.perf_counter() - started) / args.steps
    state = held_bytes(model, optimizer)
    result: dict[str, float | str] = {
        "mode": args.mode, "device": device.type,
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "trainable_m": sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6,
        "state_mib": state / 2**20, "step_s": seconds,
        "tokens_per_s": args.rows * args.length / seconds}
    if device.type == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        result["peak_mib"] = rss_mib()
        result["training_mib"] = rss_mib() - built
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.mode is not None:
        print(json.dumps(measure(args)))
        return 0
    given = sys.argv[1:] if argv is None else argv
    results = []
    for mode in MODES:
        out = subprocess.run([sys.executable, __file__, *given, "--mode", mode], check=True,
                             capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    shape = (f"Qwen2-shaped, hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, "
             f"{args.rows} x {args.length} tokens, LoRA r={args.lora_r} on all linear layers")
    print(shape)
    print("| mode | params (M) | trainable (M) | weights + grads + AdamW MiB | peak MiB | "
          "training adds MiB | s/step |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['parameters_m']:.1f} | {r['trainable_m']:.2f} | "
              f"{r['state_mib']:.0f} | {r['peak_mib']:.0f} | "
              f"{r.get('training_mib', float('nan')):.0f} | {r['step_s']:.2f} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"shape": shape, "results": results}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
