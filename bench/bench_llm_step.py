"""One preference step against one plain causal-LM step on the same tokens and model.

    python bench/bench_llm_step.py [--n-layer 2 --n-embd 128 --n-head 4 --batch-size 16]
    python bench/bench_llm_step.py --device cuda --n-layer 12 --n-embd 768 --n-head 12 \\
        --batch-size 32   # GPT-2 124M architecture, bf16 autocast: tokens/s and MFU

All steps see the same 2B rows (B offline-task pairs: chosen then rejected), run forward,
backward and an AdamW update. The preference step is the trainer's: the body on all tokens, the
LM head only at response positions, cached reference log-probs (no reference forward), and the
JS-IUPO loss. The plain step is ``model(input_ids, labels=...)``: logits (R, T, V) at every
position. A third step, the trainer's scorer with a plain NLL loss, isolates the cost of the
preference loss itself. Timings are medians over interleaved repetitions. Peak memory: on CUDA
the measured ``max_memory_allocated`` of each step; on the CPU the size of the logits tensors
each step builds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from llm.batching import preference_batch, tokenize_pairs
from llm.data import from_hh
from llm.losses import preference_loss
from llm.model import offline_gpt2, offline_gpt2_tokenizer
from llm.scoring import SequenceScorer
from llm.task import generate_pairs
from upo_theory import get_divergence

H100_BF16_DENSE_FLOPS = 989e12


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step")
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch default)")
    return parser.parse_args()


def main() -> None:
    args = parse()
    device = torch.device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cuda = device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else (
        contextlib.nullcontext)
    tokenizer = offline_gpt2_tokenizer()
    rows, _ = generate_pairs(args.seed, args.batch_size, 1)
    pairs, _ = tokenize_pairs([from_hh(r) for r in rows], tokenizer, args.max_length)
    batch = preference_batch(pairs, tokenizer.pad_token_id).to(device)
    model = offline_gpt2(args.n_layer, args.n_embd, args.n_head, 1024, args.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    scorer = SequenceScorer(model)
    js = get_divergence("js")
    with torch.no_grad(), autocast():
        ref = scorer.score(batch)[0].detach().chunk(2)  # the cached reference log-probs
    labels = torch.where(batch.attention_mask.bool(), batch.input_ids, -100)  # every real token

    def preference_step() -> None:
        with autocast():
            sums, _ = scorer.score(batch)
        chosen, rejected = sums.chunk(2)
        losses, _ = preference_loss(chosen, rejected, *ref, beta=0.1, f=js, form="paper")
        losses.mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def plain_step() -> None:
        with autocast():
            loss = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                         labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def response_lm_step() -> None:  # the same scorer with a plain NLL: the loss's own cost
        with autocast():
            sums, _ = scorer.score(batch)
        (-sums.mean()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def timed(step) -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    steps = {"preference": preference_step, "plain": plain_step, "response_lm": response_lm_step}
    for step in steps.values():  # warm-up
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            times[name].append(timed(step))
    pref, plain, response_lm = (statistics.median(times[k]) for k in steps)
    rows_, width = batch.input_ids.shape
    vocab = model.config.vocab_size
    tokens = int(batch.attention_mask.sum())
    response = int(batch.response_mask.sum())
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {args.n_layer} layers x {args.n_embd}, {params / 1e6:.1f}M parameters; "
          f"device {device}{' (bf16 autocast)' if cuda else ''}")
    print(f"batch: {args.batch_size} pairs = {rows_} rows x {width} positions, {tokens} tokens, "
          f"{response} response tokens")
    print(f"preference step: {pref * 1e3:.1f} ms   plain causal-LM step: {plain * 1e3:.1f} ms   "
          f"ratio {pref / plain:.3f} (target <= 1.10)")
    print(f"response-only LM step (same scorer, NLL loss): {response_lm * 1e3:.1f} ms   "
          f"preference / response-only ratio {pref / response_lm:.3f}")
    print(f"logits built: preference {response} x {vocab} = {response * vocab * 4 / 2**20:.1f} "
          f"MiB fp32; plain {rows_} x {width} x {vocab} = "
          f"{rows_ * width * vocab * 4 / 2**20:.1f} MiB fp32")
    print(f"tokens/s: preference {tokens / pref:.0f}, plain {tokens / plain:.0f}")
    if cuda:
        for name, step in (("preference", preference_step), ("plain", plain_step)):
            torch.cuda.reset_peak_memory_stats(device)
            step()
            peak = torch.cuda.max_memory_allocated(device) / 2**20
            print(f"peak CUDA memory, {name} step: {peak:.0f} MiB")
        flops = 6 * params * tokens / pref
        print(f"model-FLOPs utilisation (6 N tokens/s over {H100_BF16_DENSE_FLOPS / 1e12:.0f} "
              f"TFLOP/s): {flops / H100_BF16_DENSE_FLOPS:.1%}")


if __name__ == "__main__":
    main()
