"""The trainer's preference step, padded, packed and prefix-shared, against a plain causal-LM step.

    python bench/bench_llm_step.py                          # offline-task shape, small model, CPU
    python bench/bench_llm_step.py --shape hh --preset gpt2 --device cuda --batch-size 64 \\
        --micro-batch-size 16 --max-length 512              # the paper's shape on a GPU

All steps see the same pairs (chosen and rejected sequences), run forward, backward and an AdamW
update. The preference steps are the trainer's own (:func:`llm.engine.loop.accumulate_gradients`):
the body on all tokens, the LM head only at response positions, cached reference log-probs, the
JS-IUPO loss (paper form), micro-batches of similar lengths when ``--micro-batch-size`` is set;
"padded" lays each sequence in its own right-padded row (``--layout padded``; rows run in
length-sorted chunks cut to their width with ``--forward-rows``), "packed" lays the sequences end
to end in a few rows (``--layout packed``, :mod:`llm.data.packing`), "prefix" lays each pair's
prompt once, then both its responses, pairs end to end (``--layout prefix``,
:mod:`llm.data.prefix_sharing`).
The plain step is ``model(input_ids, attention_mask, labels)`` on the same micro-batches, each
padded to its longest row (as a plain loop pads them): logits (R, T, V) at every position.
Timings are medians over interleaved repetitions after warm-up (``--no-plain`` leaves the plain
step out). Printed, per step: the positions the body computes (tokens and padding), the padding
fraction of its layout (and of one padded batch), ms per step, tokens/s (the pairs' tokens as
the padded layout counts them, so that the rates compare), peak memory (CUDA:
``max_memory_allocated``; CPU: the logits each step builds) and, on a CUDA device of known peak
rate, MFU (6 N tokens/s over the peak, N the model's parameters; :mod:`llm.engine.throughput`),
and each step's time and positions over the padded and the packed step's.

The HH shape: prompt and response lengths in GPT-2 tokens drawn log-normal with means 160 and 77
(σ of the logs 0.8 and 0.7), then truncated as the trainer truncates (``--max-length``). The means
come from the public dataset cards: Anthropic/hh-rlhf as ``chosen``/``rejected`` strings has
308.6 MB for 160,800 training pairs (tasksource/hh-rlhf: 1,919 bytes a pair), and with the
prompt and both responses stored besides (KHuss/hh-rlhf-formatted: 3,187 bytes a pair), so a pair
holds a 651-byte prompt and two responses of 309 bytes on average, about 160 and 77 tokens at
4 bytes a token. The spreads are assumptions (HH has a long tail of multi-turn prompts).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from llm.config import TrainConfig
from llm.data.batching import (
    TokenizedPair,
    length_groups,
    preference_batch,
    tokenize_pairs,
    truncate,
)
from llm.data.layout import BatchLayout
from llm.data.offline_task import generate_pairs
from llm.data.packing import attention_width
from llm.data.pairs import from_hh
from llm.data.training_data import TrainingData
from llm.engine.distributed import World
from llm.engine.loop import COMPILED_WIDTH, accumulate_gradients
from llm.engine.model import offline_gpt2, offline_gpt2_tokenizer
from llm.engine.objectives import plan
from llm.engine.reference import ReferenceLogps
from llm.engine.scoring import SequenceScorer, forward_work
from llm.engine.session import TrainingSession
from llm.engine.throughput import Throughput, peak_flops

HH_PROMPT_MEAN, HH_RESPONSE_MEAN = 160.0, 77.0
HH_PROMPT_SIGMA, HH_RESPONSE_SIGMA = 0.8, 0.7
EOS = 50256
PRESETS = {"gpt2": (12, 768, 12), "small": (2, 128, 4)}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("offline", "hh"), default="offline")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="gpt2: 12 layers x 768 (124M); small: 2 x 128")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step")
    parser.add_argument("--micro-batch-size", type=int, default=0)
    parser.add_argument("--forward-rows", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--no-deterministic", action="store_true")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps of each first")
    parser.add_argument("--no-plain", action="store_true", help="time the preference steps only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch default)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def hh_pairs(n: int, max_length: int, seed: int) -> list[TokenizedPair]:
    """``n`` pairs of random tokens with HH's prompt and response lengths (module notes)."""
    rng = np.random.default_rng(seed)

    def lengths(mean: float, sigma: float) -> np.ndarray:
        return np.maximum(1, rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, n)).astype(int)

    prompts = lengths(HH_PROMPT_MEAN, HH_PROMPT_SIGMA)
    responses = [lengths(HH_RESPONSE_MEAN, HH_RESPONSE_SIGMA) for _ in range(2)]
    pairs = []
    for k in range(n):
        prompt = rng.integers(0, EOS, prompts[k]).tolist()
        rows = [[*rng.integers(0, EOS, r[k]).tolist(), EOS] for r in responses]
        prompt, (chosen, rejected) = truncate(prompt, rows, max_length)
        pairs.append(TokenizedPair(prompt, chosen, rejected))
    return pairs


def offline_pairs(n: int, max_length: int, seed: int) -> list[TokenizedPair]:
    rows, _ = generate_pairs(seed, n, 1)
    pairs, _ = tokenize_pairs([from_hh(r) for r in rows], offline_gpt2_tokenizer(), max_length)
    return pairs


def trainer_session(args: argparse.Namespace, pairs: list[TokenizedPair], model,
                    scorer: SequenceScorer, layout: BatchLayout) -> TrainingSession:
    """A :class:`llm.engine.session.TrainingSession` holding just what one preference step
    needs, its batches in ``layout``."""
    n_layer, n_embd, n_head = PRESETS[args.preset]
    padded = layout is BatchLayout.PADDED
    config = TrainConfig(stage="pref", batch_size=len(pairs),
                         micro_batch_size=args.micro_batch_size, compile=args.compile,
                         forward_rows=args.forward_rows if padded else 0, layout=layout.value,
                         n_layer=n_layer, n_embd=n_embd, n_head=n_head,
                         max_length=args.max_length, offline_train_pairs=len(pairs),
                         loss="iupo", f="js", form="paper", device=args.device)
    world = World(0, 1, torch.device(args.device))
    return TrainingSession(config, world, Path(tempfile.mkdtemp()), model,
                           SimpleNamespace(pad_token_id=EOS), TrainingData(pairs, []),
                           plan(config), scorer, None, None, 0.0)


def main() -> None:
    args = parse()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if cuda:  # what llm.engine.distributed.init_world sets for a run
        torch.backends.cuda.matmul.allow_tf32 = True
        if not args.no_deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
    make = hh_pairs if args.shape == "hh" else offline_pairs
    pairs = make(args.batch_size, args.max_length, args.seed)
    n_layer, n_embd, n_head = PRESETS[args.preset]
    model = offline_gpt2(n_layer, n_embd, n_head, max(1024, args.max_length), args.seed).to(device)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    scorer = SequenceScorer(model, compile=args.compile)
    sessions = {layout.value: trainer_session(args, pairs, model, scorer, layout)
                for layout in BatchLayout}
    ids = list(range(len(pairs)))
    with torch.no_grad(), sessions["padded"].world.autocast():  # the cached reference log-probs
        ref = [scorer.score(preference_batch([p], EOS).to(device)) for p in pairs]
    reference = ReferenceLogps(torch.tensor(
        [[*s.double().tolist(), *c.double().tolist()] for s, c in ref], dtype=torch.float64),
        torch.zeros(0, 4, dtype=torch.float64))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    pad = COMPILED_WIDTH if args.compile else 1
    groups = length_groups([p.length for p in pairs], args.micro_batch_size)
    layouts = {layout.value: [layout.preference_batch([pairs[k] for k in g], EOS, pad,
                                                      attention_width(model)) for g in groups]
               for layout in BatchLayout}
    layout = [b.to(device) for b in layouts["padded"]]
    labels = [torch.where(b.attention_mask.bool(), b.input_ids, -100) for b in layout]

    def preference_step(session: TrainingSession) -> Callable[[], None]:
        stage = session.stages[0].with_reference(reference)

        def step() -> None:
            accumulate_gradients(session, stage, scorer, ids, Throughput(1, None))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return step

    def plain_step() -> None:
        for batch, label in zip(layout, labels, strict=True):
            with sessions["padded"].world.autocast():
                loss = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                             labels=label).loss
            (loss / len(layout)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    steps = {name: preference_step(session) for name, session in sessions.items()}
    if not args.no_plain:
        steps["plain"] = plain_step
    figures = measure(steps, args.repeats, args.warmup, device)
    report(args, model, pairs, layouts, figures, device)


def measure(steps: dict, repeats: int, warmup: int, device: torch.device
            ) -> dict[str, dict[str, float]]:
    """Median seconds per step (after ``warmup`` untimed steps each) and peak memory, per step."""
    cuda = device.type == "cuda"
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if cuda:
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    out = {name: {"seconds": statistics.median(t)} for name, t in times.items()}
    if cuda:
        for name, step in steps.items():
            torch.cuda.reset_peak_memory_stats(device)
            step()
            out[name]["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def report(args, model, pairs, layouts, figures, device) -> None:
    """Print the figures of each step (and write them with ``--json``)."""
    params = sum(p.numel() for p in model.parameters())
    peak = peak_flops(device)
    result: dict = {
        "shape": args.shape, "params": params, "pairs": len(pairs), "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "micro_batch_size": args.micro_batch_size, "forward_rows": args.forward_rows,
        "compile": args.compile, "deterministic": not args.no_deterministic,
        "gradient_checkpointing": args.gradient_checkpointing,
        "padding_one_batch": 1 - _tokens(pairs) / preference_batch(pairs, EOS
                                                                   ).attention_mask.numel(),
    }
    print(f"model: {params / 1e6:.1f}M parameters on {result['gpu'] or device}; {len(pairs)} "
          f"{args.shape}-shape pairs, {_tokens(pairs)} tokens in {len(layouts['padded'])} "
          f"micro-batches (one padded batch: padding {result['padding_one_batch']:.1%})")
    print("| step | positions | padding | ms/step | tokens/s | MFU | peak MiB |\n"
          "|---|---|---|---|---|---|---|")
    for name, seconds in ((n, f["seconds"]) for n, f in figures.items()):
        rows = layouts.get(name, layouts["padded"])
        chunk = args.forward_rows if name == "padded" else 0
        tokens, positions = (sum(c) for c in zip(*(forward_work(b, chunk) for b in rows),
                                                    strict=True))
        figure = {"positions": positions, "padding": 1 - tokens / positions,
                  "ms": seconds * 1e3, "tokens_per_s": _tokens(pairs) / seconds}
        if peak is not None:
            figure["mfu"] = 6 * params * tokens / seconds / peak
        if "peak_mib" in figures[name]:
            figure["peak_mib"] = figures[name]["peak_mib"]
        else:  # the CPU: the logits the step builds, fp32
            scored = (sum(int(b.response_mask.sum()) for b in rows) if name != "plain" else
                      sum(b.attention_mask.numel() for b in rows))
            if name == "prefix":  # each needed position once
                scored = sum(int(b.scored.numel()) for b in rows)
            figure["logits_mib"] = scored * model.config.vocab_size * 4 / 2**20
        result[name] = figure
        memory = figure.get("peak_mib", figure.get("logits_mib"))
        print(f"| {name} | {positions} | {figure['padding']:.1%} | {figure['ms']:.1f} | "
              f"{figure['tokens_per_s']:.0f} | {figure.get('mfu', float('nan')):.1%} | "
              f"{memory:.0f}{'' if 'peak_mib' in figure else ' (logits)'} |")
    for name in ("packed", "prefix"):
        result[f"{name}_over_padded"] = result[name]["ms"] / result["padded"]["ms"]
        print(f"{name} step / padded step: {result[f'{name}_over_padded']:.3f}")
    result["prefix_over_packed"] = result["prefix"]["ms"] / result["packed"]["ms"]
    result["prefix_positions_over_packed"] = (result["prefix"]["positions"]
                                              / result["packed"]["positions"])
    print(f"prefix step / packed step: {result['prefix_over_packed']:.3f}; prefix positions / "
          f"packed positions: {result['prefix_positions_over_packed']:.3f} (targets at the HH "
          "shape: prefix step <= 0.40 of padded, positions <= 0.70 of packed)")
    if "plain" in result:
        result["padded_over_plain"] = result["padded"]["ms"] / result["plain"]["ms"]
        print(f"padded preference step / plain causal-LM step: {result['padded_over_plain']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def _tokens(pairs: list[TokenizedPair]) -> int:
    """Real tokens of the chosen and rejected sequences of ``pairs``."""
    return sum(2 * len(p.prompt) + len(p.chosen) + len(p.rejected) for p in pairs)


if __name__ == "__main__":
    main()
