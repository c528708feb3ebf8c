"""Tokens per second and peak memory per process of FSDP2 training steps (``--fsdp``'s layout).

    torchrun --nproc_per_node 2 bench/bench_fsdp.py                  # CPU, gloo: a small model
    torchrun --nproc_per_node "$(nvidia-smi -L | wc -l)" bench/bench_fsdp.py --device cuda \\
        --hidden 896 --layers 24 --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936

The model is built from a ``Qwen2Config`` on every rank (random weights, the same seed; no
download), wrapped and sharded as ``llm.train --fsdp`` does (:class:`llm.engine.scoring
.SequenceScorer`, :func:`llm.engine.sharding.shard`) and trained for a few AdamW steps on random
token rows (each rank its own rows). Each rank prints one JSON line: the global tokens per second,
the bytes of weights, gradients and AdamW moments it holds (its shards: ``state_mib``) and its peak
memory (CUDA: ``torch.cuda.max_memory_allocated``; CPU: peak resident set size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import torch
from memory import held_bytes  # bench/, beside this script
from qwen2_shape import add_shape_options, qwen2_model


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    add_shape_options(parser, hidden=256, layers=4, heads=4, kv_heads=2, intermediate=704)
    parser.add_argument("--rows", type=int, default=4, help="sequences per step on each rank")
    parser.add_argument("--length", type=int, default=256, help="tokens per sequence")
    parser.add_argument("--steps", type=int, default=4, help="timed steps (after one warm-up)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from llm.data.batching import Batch
    from llm.engine.distributed import close_world, init_world
    from llm.engine.scoring import SequenceScorer
    from llm.engine.sharding import shard

    args = parse(argv)
    world = init_world(args.device)  # one process too: a one-way shard, to compare against
    model = qwen2_model(args).to(world.device)
    scorer = shard(SequenceScorer(model), world)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    torch.manual_seed(1 + world.rank)
    ids = torch.randint(0, args.vocab, (args.rows, args.length), device=world.device)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, args.length // 2: -1] = True  # the second half scored, as responses are
    batch = Batch(ids, torch.ones_like(ids), torch.roll(ids, -1, dims=1), mask)
    for step in range(args.steps + 1):
        if step == 1:  # the first step (allocations, lazy init) is not timed
            world.barrier()
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with world.autocast():
            sums, counts = scorer(batch)
        (-sums.sum() / counts.sum()).backward()
        optimizer.step()
    if world.device.type == "cuda":
        torch.cuda.synchronize(world.device)
    seconds = (time.perf_counter() - started) / args.steps
    peak = (torch.cuda.max_memory_allocated(world.device) if world.device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux: KiB
    line = json.dumps({"rank": world.rank, "processes": world.size,
                      "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
                      "state_mib": round(held_bytes(model, optimizer) / 2**20, 1),
                      "step_s": round(seconds, 4),
                      "tokens_per_s": round(world.size * args.rows * args.length / seconds),
                      "peak_mib": round(peak / 2**20)})
    os.write(1, (line + "\n").encode())  # one write: the ranks' lines never interleave
    close_world(world)


if __name__ == "__main__":
    main()
