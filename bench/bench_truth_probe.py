"""The cost of one truth probe (``--truth-every``): seconds per held-out prompt, three ways.

    python bench/bench_truth_probe.py                  # the study's model and 512 prompts
    python bench/bench_truth_probe.py --prompts 128 --threads 2

A probe samples a response per prompt from π and from π_ref and scores both sets under both
models (:func:`llm.evaluation.true_reward.evaluate_with_truth`). The rows, in one process on the
same two randomly initialised models (which rarely stop before ``--max-new-tokens``, so this is
the longest a probe takes):

* ``generate`` — sampling through ``model.generate`` (``torch.multinomial``, whose exponential
  race draws a random number per vocabulary entry), everything recomputed: how probes ran before;
* ``first probe`` — the cached inverse-transform sampler (:func:`~llm.evaluation.true_reward.
  sample_responses`), the reference's samples and log-probs computed and kept;
* ``later probe`` — the same with the reference's part reused, as every probe of a run after its
  first.

Each row is the best of ``--repeats``, its CPU time too; the last column is the ratio to the
first row. All three give the same estimates up to the draws.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from unittest import mock

import torch

from llm.engine.model import offline_gpt2, offline_gpt2_tokenizer
from llm.evaluation import true_reward


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    return parser.parse_args(argv)


@torch.no_grad()
def generate_responses(model, prompt_ids, stops, *, max_new_tokens, seed, batch_size=64):
    """The sampler the probe used before: ``model.generate`` with ``do_sample``."""
    stop_ids = torch.nonzero(stops).flatten().tolist()
    responses: list[list[int]] = [[] for _ in prompt_ids]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for chunk in true_reward._by_length(prompt_ids, batch_size):
            inputs = torch.tensor([prompt_ids[i] for i in chunk])
            out = model.generate(
                input_ids=inputs, attention_mask=torch.ones_like(inputs), do_sample=True,
                temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                eos_token_id=stop_ids, pad_token_id=stop_ids[0])
            for i, row in zip(chunk, out[:, inputs.shape[1]:].tolist(), strict=True):
                end = next((k + 1 for k, token in enumerate(row) if stops[token]), len(row))
                responses[i] = row[:end]
    return responses


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """The shortest wall and CPU times of ``repeats`` calls."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    tokenizer = offline_gpt2_tokenizer()
    policy, reference = (offline_gpt2(args.layers, args.width, args.heads, 256, seed)
                         for seed in (0, 1))

    def probe(memo: dict | None) -> None:
        true_reward.evaluate_with_truth(
            policy, reference, tokenizer, divergence="js", seed=0, n_prompts=args.prompts,
            max_new_tokens=args.max_new_tokens, device="cpu", memo=memo)

    def old() -> None:
        with mock.patch.object(true_reward, "sample_responses", generate_responses):
            probe(None)

    warm: dict = {}
    probe(warm)
    rows = [("generate", best_of(old, args.repeats)),
            ("first probe", best_of(lambda: probe({}), args.repeats)),
            ("later probe", best_of(lambda: probe(warm), args.repeats))]
    print(f"{args.layers} x {args.width} GPT-2, {args.prompts} prompts, up to "
          f"{args.max_new_tokens} new tokens, {args.threads} thread(s)\n")
    print("| probe | wall s | CPU s | wall s per prompt | ratio to generate |")
    print("|---|---|---|---|---|")
    base = rows[0][1][0]
    for name, (wall, cpu) in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / args.prompts:.4f} | "
              f"{wall / base:.3f} |")


if __name__ == "__main__":
    main()
