"""``python -m llm.experiment``: the paper's experiment (Section 5) on the offline task.

One supervised fine-tuning (SFT) run, then, from that same SFT model (the frozen π_ref of every
run), IPO (eq. 10), JS-IUPO in the paper form (eq. 26) and JS-IUPO in the per-response form at
β ∈ {0.1, 0.2, 0.5}, for each seed of the sweep. The sweep is data (:func:`sweep`, a tuple of
:class:`Setting`); :func:`summarise` is the separate analysis of the finished runs.

Written to ``<out_dir>``: ``curves.png`` (train loss, eval loss, eval accuracy, eval margin per β,
like the paper's Figure 1), ``frontier.png`` (true reward against KL and JS), ``results.csv`` (one
row per run) and ``results.md`` (mean over seeds with the sample standard deviation, the eval
accuracy that r* itself reaches in expectation, and the truth evaluation of :mod:`llm.truth`).
Every run's truth evaluation uses the same divergence (JS, with KL beside it), so the divergences
of IPO and IUPO runs are comparable.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import OFFLINE_LR, ConfigError, TrainConfig
from .metrics import read_metrics
from .model import load_model
from .plot import plot_frontier, plot_runs
from .task import best_accuracy, generate_pairs
from .train import run
from .truth import evaluate_with_truth

METHODS: tuple[tuple[str, str, str, str], ...] = (
    ("IPO", "ipo", "rkl", "paper"),
    ("JS-IUPO paper form", "iupo", "js", "paper"),
    ("JS-IUPO per-response form", "iupo", "js", "per_response"),
)
"""(label, loss, f, form) of the compared methods (the form is unused by IPO)."""
BETAS: tuple[float, ...] = (0.1, 0.2, 0.5)
TRUTH_DIVERGENCE = "js"


@dataclass(frozen=True)
class Setting:
    """One preference run of the sweep."""

    method: str
    loss: str
    f: str
    form: str
    beta: float
    seed: int

    @property
    def run_name(self) -> str:
        return f"{self.loss}-{self.f}-{self.form}-b{self.beta:g}-s{self.seed}"


def sweep(betas: Sequence[float] = BETAS, seeds: Sequence[int] = (0,)) -> tuple[Setting, ...]:
    """Every method at every β and seed, seeds outermost (a cut-short sweep has whole seeds)."""
    return tuple(Setting(label, loss, f, form, beta, seed) for seed in seeds for beta in betas
                 for label, loss, f, form in METHODS)


@dataclass(frozen=True)
class ExperimentConfig:
    """Sizes of the experiment; :meth:`quick` is a seconds-long version for tests."""

    out_dir: str = "runs/experiment"
    betas: tuple[float, ...] = BETAS
    seeds: tuple[int, ...] = (0, 1, 2)
    sft_steps: int = 400
    pref_steps: int = 100
    lr: float = OFFLINE_LR[1]
    train_pairs: int = 4000
    eval_pairs: int = 500
    truth_prompts: int = 128
    truth_max_new_tokens: int = 24
    n_layer: int = 2
    n_embd: int = 128
    n_head: int = 4
    eval_every: int = 25
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.betas or any(b <= 0 for b in self.betas):
            raise ConfigError(f"betas={self.betas} must be a non-empty tuple of values > 0")
        if not self.seeds:
            raise ConfigError("seeds is empty; give at least one seed")
        for name in ("sft_steps", "pref_steps", "train_pairs", "eval_pairs", "truth_prompts",
                     "truth_max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")

    @classmethod
    def quick(cls, out_dir: str, **changes) -> ExperimentConfig:
        """A tiny model and a few steps: checks the pipeline, measures nothing."""
        small = dict(betas=BETAS, seeds=(0,), sft_steps=6, pref_steps=4, train_pairs=64,
                     eval_pairs=16, truth_prompts=8, truth_max_new_tokens=6, n_layer=1,
                     n_embd=32, n_head=2, eval_every=2)
        return cls(out_dir=out_dir, **{**small, **changes})

    def train_config(self, **fields) -> TrainConfig:
        """The :class:`TrainConfig` of one stage of this experiment."""
        return TrainConfig(
            data="offline", out_dir=self.out_dir, n_layer=self.n_layer, n_embd=self.n_embd,
            n_head=self.n_head, sft_steps=self.sft_steps, pref_steps=self.pref_steps,
            offline_train_pairs=self.train_pairs, offline_eval_pairs=self.eval_pairs,
            eval_pairs=self.eval_pairs, eval_every=self.eval_every,
            save_every=max(self.sft_steps, self.pref_steps), truth_eval_prompts=0, lr=self.lr,
            device=self.device, **fields)


def _final_eval(run_dir: Path) -> dict:
    rows = [r for r in read_metrics(run_dir) if r["stage"] == "pref" and r["split"] == "eval"]
    return rows[-1]


def _truth(config: ExperimentConfig, run_dir: Path, sft_dir: Path, seed: int) -> dict:
    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available()
                          else "cpu" if config.device == "auto" else config.device)
    policy, tokenizer = load_model(str(run_dir / "checkpoint" / "model"))
    reference, _ = load_model(str(sft_dir))
    return evaluate_with_truth(policy.to(device), reference.to(device), tokenizer,
                               divergence=TRUTH_DIVERGENCE, seed=seed,
                               n_prompts=config.truth_prompts,
                               max_new_tokens=config.truth_max_new_tokens, device=device)


def run_setting(config: ExperimentConfig, setting: Setting, sft_dir: Path) -> dict:
    """Train one preference run from the SFT model and return its row of results."""
    run_dir = Path(config.out_dir) / setting.run_name
    if not (run_dir / "summary.json").is_file():  # finished runs are kept; killed ones resume
        run(config.train_config(
            stage="pref", init=str(sft_dir), loss=setting.loss, f=setting.f, form=setting.form,
            beta=setting.beta, seed=setting.seed, run_name=setting.run_name,
            resume=(run_dir / "config.json").is_file()))
    final = _final_eval(run_dir)
    truth_path = run_dir / "truth_experiment.json"
    if not truth_path.is_file():
        truth_path.write_text(json.dumps(_truth(config, run_dir, sft_dir, setting.seed),
                                         indent=2))
    truth = json.loads(truth_path.read_text())
    _, held_out = generate_pairs(setting.seed, 1, config.eval_pairs)
    return {**dataclasses.asdict(setting), "run": run_dir.name,
            "eval_accuracy": final["rewards/accuracies"], "eval_margin": final["rewards/margins"],
            "eval_loss": final["loss"], "eval_pairs": config.eval_pairs,
            "best_accuracy": best_accuracy(held_out),
            **{key: truth[key] for key in sorted(truth)}}


def summarise(rows: Sequence[dict]) -> list[dict]:
    """Mean over seeds of every (method, β), with the sample s.d. of the eval accuracy.

    ``accuracy_sd`` is NaN with a single seed (no spread over seeds can be measured);
    ``accuracy_se`` is the binomial standard error of the mean accuracy over the eval pairs.
    """
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["beta"]), []).append(row)
    order = [label for label, *_ in METHODS]
    summary = []
    for (method, beta), members in sorted(groups.items(),
                                          key=lambda g: (g[0][1], order.index(g[0][0]))):
        accuracy = np.array([m["eval_accuracy"] for m in members])
        entry = {"method": method, "beta": beta, "seeds": len(members),
                 "accuracy": float(accuracy.mean()),
                 "accuracy_sd": float(accuracy.std(ddof=1)) if len(members) > 1 else float("nan"),
                 "accuracy_se": float(np.sqrt(np.sum(
                     [m["eval_accuracy"] * (1 - m["eval_accuracy"]) / m["eval_pairs"]
                      for m in members])) / len(members))}
        for key in ("eval_margin", "best_accuracy", "reward_policy", "reward_reference",
                    "win_rate", "correct_policy", "kl", "f_divergence"):
            entry[key] = float(np.mean([m[key] for m in members]))
        for key in ("reward_policy_se", "win_rate_se", "kl_se", "f_divergence_se"):
            # standard error of a mean of independent estimates
            entry[key] = float(np.sqrt(np.sum([m[key] ** 2 for m in members])) / len(members))
        summary.append(entry)
    return summary


def markdown_table(summary: Sequence[dict]) -> str:
    """The summary as a Markdown table (accuracy ± s.d. over seeds, or ± binomial s.e. in
    brackets with one seed; truth values ± s.e.)."""
    head = ("| β | method | seeds | eval accuracy | best (r*) | eval margin | true reward "
            "(π_ref) | win rate vs π_ref | correct | KL(π‖π_ref) | JS(π, π_ref) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in summary:
        spread = (f" [± {s['accuracy_se']:.3f}]" if np.isnan(s["accuracy_sd"])
                  else f" ± {s['accuracy_sd']:.3f}")
        lines.append(
            f"| {s['beta']:g} | {s['method']} | {s['seeds']} | {s['accuracy']:.3f}{spread} | "
            f"{s['best_accuracy']:.3f} | {s['eval_margin']:.3f} | "
            f"{s['reward_policy']:.2f} ± {s['reward_policy_se']:.2f} "
            f"({s['reward_reference']:.2f}) | {s['win_rate']:.3f} ± {s['win_rate_se']:.3f} | "
            f"{s['correct_policy']:.2f} | {s['kl']:.2f} ± {s['kl_se']:.2f} | "
            f"{s['f_divergence']:.3f} ± {s['f_divergence_se']:.3f} |")
    return "\n".join(lines) + "\n"


def write_results(config: ExperimentConfig, rows: Sequence[dict], seconds: float) -> Path:
    """``results.csv`` (one row per run), ``results.md`` (the summary), ``curves.png`` and
    ``frontier.png`` (mean true reward against KL and JS, mean over seeds)."""
    out = Path(config.out_dir)
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_runs([out / row["run"] for row in rows], out / "curves.png")
    summary = summarise(rows)
    plot_frontier([(s["method"], s["beta"], s) for s in summary], out / "frontier.png",
                  divergence=f"{TRUTH_DIVERGENCE.upper()}(π, π_ref)")
    text = (f"# IPO against JS-IUPO on the offline task\n\n"
            f"{len(rows)} preference runs from one SFT model, {config.pref_steps} steps each; "
            f"{config.eval_pairs} held-out eval pairs; truth evaluation on "
            f"{config.truth_prompts} held-out prompts; this invocation took {seconds / 60:.1f} "
            f"minutes (runs finished earlier are reused, not retrained).\n\n"
            + markdown_table(summary))
    (out / "results.md").write_text(text)
    return out


def run_experiment(config: ExperimentConfig, settings: Sequence[Setting] | None = None) -> Path:
    """SFT once, every setting of the sweep from it, then the results; returns ``out_dir``."""
    started = time.perf_counter()
    settings = sweep(config.betas, config.seeds) if settings is None else settings
    sft_run = Path(config.out_dir) / "sft"
    sft_dir = sft_run / "sft"
    if not (sft_run / "summary.json").is_file():
        run(config.train_config(stage="sft", run_name="sft", seed=0,
                                resume=(sft_run / "config.json").is_file()))
    rows = []
    for number, setting in enumerate(settings, 1):
        print(f"[{number}/{len(settings)}] {setting.method}, beta={setting.beta:g}, "
              f"seed {setting.seed}", file=sys.stderr, flush=True)
        rows.append(run_setting(config, setting, sft_dir))
    return write_results(config, rows, time.perf_counter() - started)


def build_parser() -> argparse.ArgumentParser:
    """The CLI of ``python -m llm.experiment``."""
    parser = argparse.ArgumentParser(prog="python -m llm.experiment",
                                     description=__doc__.splitlines()[0])
    defaults = ExperimentConfig()
    parser.add_argument("--out-dir", default=defaults.out_dir, help="folder of all the runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds),
                        help=f"seeds of the preference runs (default {defaults.seeds})")
    parser.add_argument("--betas", type=float, nargs="+", default=list(defaults.betas),
                        help=f"values of beta (default {defaults.betas})")
    parser.add_argument("--pref-steps", type=int, default=defaults.pref_steps,
                        help=f"steps of each preference run (default {defaults.pref_steps})")
    parser.add_argument("--lr", type=float, default=defaults.lr,
                        help=f"learning rate of the preference runs (default {defaults.lr:g})")
    parser.add_argument("--device", default=defaults.device, help="auto, cpu or cuda[:N]")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model and a few steps: checks the pipeline in seconds")
    return parser


def _parse_args(argv: Sequence[str] | None) -> ExperimentConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    changes = dict(seeds=tuple(args.seeds), betas=tuple(args.betas), device=args.device)
    try:
        if args.quick:
            return ExperimentConfig.quick(args.out_dir, **changes)
        return ExperimentConfig(out_dir=args.out_dir, pref_steps=args.pref_steps, lr=args.lr,
                                **changes)
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints where the table and curves are."""
    config = _parse_args(argv)
    try:
        out = run_experiment(config)
    except ConfigError as error:
        print(f"python -m llm.experiment: error: {error}", file=sys.stderr)
        return 2
    print((out / "results.md").read_text())
    print(f"results: {out / 'results.md'}, {out / 'results.csv'}, {out / 'curves.png'}, "
          f"{out / 'frontier.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
