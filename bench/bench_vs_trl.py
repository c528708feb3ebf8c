"""upo's preference trainer against TRL's DPOTrainer: the same model, data, batch, steps, threads.

    python bench/bench_vs_trl.py                        # both shapes, small model, CPU, minutes
    python bench/bench_vs_trl.py --shape hh --preset gpt2 --device cuda --batch-size 64 \\
        --steps 20 --max-length 512                     # the paper's shape on a GPU

Each repetition trains the same randomly initialised GPT-2 architecture (``--preset``, seeded) on
the same text pairs for ``--steps`` optimizer steps of ``--batch-size`` pairs, once through TRL's
``DPOTrainer`` (``loss_type=["ipo"]``, ``f_divergence_type="js_divergence"``, π_ref's log-probs
precomputed) and once through ``llm.train`` (``--stage pref --loss iupo --f js``, π_ref's
log-probs computed before the stage, packed batches unless ``--no-packing``); the two alternate,
TRL first, and the medians are printed. Each wall time covers what the trainer needs from text to
trained weights: tokenisation, π_ref's log-probabilities and the steps (TRL: building the model
and the trainer and ``train()``; upo: ``run_training``, which also evaluates two held-out pairs
before and after and writes its final checkpoint). The dataset holds exactly the pairs the steps
visit, so both compute π_ref on the same pairs. Real tokens per second count the prompt and
response tokens of every visited pair under upo's tokenisation and truncation, not padding.
Float32 on the CPU; on CUDA both run under bf16 autocast. TRL's ``ipo`` divides each response's
score by its tokens (``llm.trl``: ``length="score_per_token"``); upo's trainer sums, so the two
losses differ by that scaling, which costs nothing measurable.

Shapes: ``offline`` is the offline task's pairs (:mod:`llm.data.offline_task`); ``hh`` draws
HH-RLHF's prompt and response lengths (``bench/bench_llm_step.py``'s :func:`hh_pairs`) as random
GPT-2 tokens decoded to text.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

try:
    import datasets
    import trl
except ImportError:
    print("bench_vs_trl: skipped, TRL is not installed (pip install -e '.[trl]')")
    sys.exit(0)

import transformers
from bench_llm_step import PRESETS, hh_pairs

from llm.config import TrainConfig
from llm.data.batching import tokenize_pairs
from llm.data.offline_task import generate_pairs
from llm.data.pairs import PreferencePair, from_hh
from llm.engine.model import offline_gpt2, offline_gpt2_tokenizer
from llm.train import run_training

EVAL_PAIRS = 2
"""Held-out pairs upo evaluates before and after (TRL evaluates none)."""


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("offline", "hh", "both"), default="both")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="gpt2: 12 layers x 768 (124M); small: 2 x 128")
    parser.add_argument("--batch-size", type=int, default=8, help="pairs per step")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=0,
                        help="tokens of prompt + response (0: 96 offline, 512 hh)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-packing", action="store_true", help="upo with padded batches")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def text_pairs(shape: str, n: int, max_length: int, seed: int = 0) -> list[PreferencePair]:
    """``n`` text pairs of ``shape`` (module notes)."""
    if shape == "offline":
        rows, _ = generate_pairs(seed, n, 1)
        return [from_hh(r) for r in rows]
    tokenizer = offline_gpt2_tokenizer()
    return [PreferencePair(tokenizer.decode(p.prompt), tokenizer.decode(p.chosen[:-1]),
                           tokenizer.decode(p.rejected[:-1]))
            for p in hh_pairs(n, max_length, seed)]


def write_jsonl(path: Path, pairs: list[PreferencePair]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p.prompt, "chosen": p.chosen,
                                        "rejected": p.rejected}) + "\n" for p in pairs))
    return path


def run_trl(args: argparse.Namespace, train: list[PreferencePair], max_length: int,
            folder: Path) -> float:
    """Seconds TRL's DPOTrainer takes from text to trained weights."""
    start = time.perf_counter()
    n_layer, n_embd, n_head = PRESETS[args.preset]
    model = offline_gpt2(n_layer, n_embd, n_head, max(128, max_length), seed=0)
    cuda = args.device.startswith("cuda")
    config = trl.DPOConfig(
        output_dir=str(folder), per_device_train_batch_size=args.batch_size,
        max_steps=args.steps, learning_rate=1e-5, beta=0.1, loss_type=["ipo"],
        f_divergence_type="js_divergence", precompute_ref_log_probs=True,
        max_length=max_length, report_to="none", save_strategy="no", logging_steps=args.steps,
        disable_tqdm=True, use_cpu=not cuda, bf16=cuda, seed=0, dataloader_num_workers=0)
    data = datasets.Dataset.from_list([{"prompt": p.prompt, "chosen": p.chosen,
                                        "rejected": p.rejected} for p in train])
    trainer = trl.DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=config,
                             train_dataset=data, processing_class=offline_gpt2_tokenizer())
    trainer.remove_callback(transformers.PrinterCallback)  # no log lines between the tables
    trainer.train()
    _synchronize(args.device)
    return time.perf_counter() - start


def run_upo(args: argparse.Namespace, data: Path, held_out: Path, max_length: int,
            folder: Path) -> float:
    """Seconds ``llm.train`` takes from text to trained weights."""
    n_layer, n_embd, n_head = PRESETS[args.preset]
    config = TrainConfig(
        data="jsonl", data_path=str(data), eval_data_path=str(held_out), stage="pref",
        pref_steps=args.steps, batch_size=args.batch_size, n_layer=n_layer, n_embd=n_embd,
        n_head=n_head, max_length=max_length, loss="iupo", f="js", lr=1e-5, warmup_steps=1,
        eval_every=args.steps, eval_pairs=EVAL_PAIRS, log_every=args.steps,
        save_every=args.steps, truth_eval_prompts=0, threads=args.threads, device=args.device,
        out_dir=str(folder), run_name="upo", packing=not args.no_packing, seed=0)
    start = time.perf_counter()
    run_training(config)
    _synchronize(args.device)
    return time.perf_counter() - start


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def compare(args: argparse.Namespace, shape: str) -> dict:
    """Median wall times and real tokens/s of TRL and upo at ``shape``."""
    max_length = args.max_length or (512 if shape == "hh" else 96)
    n = args.batch_size * args.steps
    pairs = text_pairs(shape, n + EVAL_PAIRS, max_length)
    train, held_out = pairs[:n], pairs[n:]
    tokenized, _ = tokenize_pairs(train, offline_gpt2_tokenizer(), max_length)
    tokens = sum(2 * len(p.prompt) + len(p.chosen) + len(p.rejected) for p in tokenized)
    times: dict[str, list[float]] = {"trl": [], "upo": []}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = write_jsonl(root / "train.jsonl", train)
        held = write_jsonl(root / "eval.jsonl", held_out)
        for k in range(args.repeats):
            times["trl"].append(run_trl(args, train, max_length, root / f"trl{k}"))
            times["upo"].append(run_upo(args, data, held, max_length, root / f"upo{k}"))
    seconds = {name: statistics.median(t) for name, t in times.items()}
    return {"shape": shape, "max_length": max_length, "pairs": n, "kept_pairs": len(tokenized),
            "tokens": tokens, "seconds": seconds, "all_seconds": times,
            "tokens_per_s": {name: tokens / s for name, s in seconds.items()},
            "speedup": seconds["trl"] / seconds["upo"]}


def main() -> None:
    args = parse()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    shapes = ("offline", "hh") if args.shape == "both" else (args.shape,)
    results = [compare(args, shape) for shape in shapes]
    n_layer, n_embd, _ = PRESETS[args.preset]
    print(f"\n{args.preset} preset ({n_layer} x {n_embd}), {args.batch_size} pairs x "
          f"{args.steps} steps, {args.threads} threads, {args.device}, upo "
          f"{'padded' if args.no_packing else 'packed'}; medians of {args.repeats} alternating "
          f"runs; trl {trl.__version__}, transformers {transformers.__version__}")
    print("| shape | max len | real tokens | TRL s | upo s | TRL tok/s | upo tok/s | "
          "upo / TRL |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['shape']} | {r['max_length']} | {r['tokens']} | {r['seconds']['trl']:.1f} "
              f"| {r['seconds']['upo']:.1f} | {r['tokens_per_s']['trl']:.0f} | "
              f"{r['tokens_per_s']['upo']:.0f} | {r['speedup']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "results": results}, indent=2))


if __name__ == "__main__":
    main()
