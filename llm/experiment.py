"""``python -m llm.experiment``: the paper's experiment (Section 5), offline or on real data.

One supervised fine-tuning (SFT) run, then, from that same SFT model (the frozen π_ref of every
run), IPO (eq. 10), JS-IUPO in the paper form (eq. 26) and JS-IUPO in the per-response form at
β ∈ {0.1, 0.2, 0.5}, for each seed of the sweep. The sweep is data (:func:`sweep`, a tuple of
:class:`Setting`); :func:`summarise` is the separate analysis of the finished runs.

Written to ``<out_dir>``: ``curves.png`` (train loss, eval loss, eval accuracy, eval margin per β,
like the paper's Figure 1), ``results.csv`` (one row per run) and ``results.md`` (mean over seeds
with the sample standard deviation). On the offline task, whose true reward r* is known, also
``frontier.png`` (true reward against KL and JS) and, in the table and CSV, the eval accuracy that
r* itself reaches in expectation and the truth evaluation of :mod:`llm.truth`; every run's truth
evaluation uses the same divergence (JS, with KL beside it), so the divergences of IPO and IUPO
runs are comparable. Real data (``--data hh|shp|jsonl``, usually with ``--model``) has no true
reward: the table and CSV hold the held-out preference metrics only, and ``results.md`` says why
there is no frontier plot.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from upo_theory import config_parser, parse_config, run_cli

from .config import ConfigError, TrainConfig
from .metrics import read_metrics
from .plot import plot_frontier, plot_runs
from .train import run

PROG = "python -m llm.experiment"
METHODS: tuple[tuple[str, str, str, str], ...] = (
    ("IPO", "ipo", "rkl", "paper"),
    ("JS-IUPO paper form", "iupo", "js", "paper"),
    ("JS-IUPO per-response form", "iupo", "js", "per_response"),
)
"""(label, loss, f, form) of the compared methods (the form is unused by IPO)."""
BETAS: tuple[float, ...] = (0.1, 0.2, 0.5)
TRUTH_DIVERGENCE = "js"
TRUTH_MEANS = ("best_accuracy", "reward_policy", "reward_reference", "win_rate", "correct_policy",
               "kl", "f_divergence")
TRUTH_SES = ("reward_policy_se", "win_rate_se", "kl_se", "f_divergence_se")
"""Columns of the offline task's truth evaluation, averaged over seeds (means and their s.e.)."""
SWEPT = ("loss", "f", "alpha", "form", "beta", "seed", "stage", "init", "run_name", "resume",
         "stop_after", "truth_f", "save_every")
""":class:`TrainConfig` fields that the experiment sets for each run itself."""
TRAIN_DEFAULTS = dict(out_dir="runs/experiment", offline_train_pairs=4000,
                      offline_eval_pairs=500, eval_pairs=500, truth_eval_prompts=128,
                      eval_every=25)
"""The experiment's own defaults for the training options it shares with ``llm.train``."""
QUICK = dict(sft_steps=6, pref_steps=4, offline_train_pairs=64, offline_eval_pairs=16,
             eval_pairs=16, truth_eval_prompts=8, truth_max_new_tokens=6, n_layer=1, n_embd=32,
             n_head=2, eval_every=2, batch_size=8, sft_batch_size=8)
"""``--quick``: a tiny model and a few steps; checks the pipeline, measures nothing."""


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
    """The sweep (β values, seeds) and the training options every run of it shares."""

    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(**TRAIN_DEFAULTS),
        metadata={"help": "training options of every run", "exclude": SWEPT,
                  "defaults": TRAIN_DEFAULTS})
    betas: tuple[float, ...] = field(default=BETAS, metadata={"help": "values of beta"})
    seeds: tuple[int, ...] = field(default=(0, 1, 2),
                                   metadata={"help": "seeds of the preference runs"})
    quick: bool = field(default=False, metadata={
        "help": "a tiny model and a few steps: checks the pipeline in seconds"})

    def __post_init__(self) -> None:
        if not self.betas or any(not b > 0 for b in self.betas):
            raise ConfigError(f"betas={self.betas} must be a non-empty tuple of values > 0")
        if not self.seeds:
            raise ConfigError("seeds is empty; give at least one seed")
        if self.quick:
            object.__setattr__(self, "train", self.train.replace(**QUICK))
        if self.train.data == "offline" and self.train.truth_eval_prompts < 1:
            raise ConfigError("truth_eval_prompts must be >= 1: on the offline task the "
                              "experiment compares the methods on the true reward")

    @property
    def out_dir(self) -> Path:
        return Path(self.train.out_dir)

    def run_config(self, **fields) -> TrainConfig:
        """The :class:`TrainConfig` of one run of this experiment."""
        steps = max(self.train.sft_steps, self.train.pref_steps)
        return self.train.replace(save_every=steps, truth_f=TRUTH_DIVERGENCE, **fields)


def run_setting(config: ExperimentConfig, setting: Setting, sft_dir: Path) -> dict:
    """Train one preference run from the SFT model and return its row of results."""
    run_dir = config.out_dir / setting.run_name
    if not (run_dir / "summary.json").is_file():  # finished runs are kept; killed ones resume
        run(config.run_config(
            stage="pref", init=str(sft_dir), loss=setting.loss, f=setting.f, form=setting.form,
            beta=setting.beta, seed=setting.seed, run_name=setting.run_name,
            resume=(run_dir / "config.json").is_file()))
    summary = json.loads((run_dir / "summary.json").read_text())
    final = [r for r in read_metrics(run_dir) if r["stage"] == "pref" and r["split"] == "eval"][-1]
    row = {**dataclasses.asdict(setting), "run": run_dir.name,
           "eval_accuracy": final["rewards/accuracies"], "eval_margin": final["rewards/margins"],
           "eval_loss": final["loss"], "eval_pairs": config.train.eval_pairs}
    if "truth" in summary:  # the offline task only: real data has no true reward
        truth = summary["truth"]
        row.update(best_accuracy=summary["best_eval_accuracy"],
                   **{key: truth[key] for key in sorted(truth)})
    return row


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
        truth = all("reward_policy" in m for m in members)
        for key in ("eval_margin", *(TRUTH_MEANS if truth else ())):
            entry[key] = float(np.mean([m[key] for m in members]))
        for key in TRUTH_SES if truth else ():
            # standard error of a mean of independent estimates
            entry[key] = float(np.sqrt(np.sum([m[key] ** 2 for m in members])) / len(members))
        summary.append(entry)
    return summary


def markdown_table(summary: Sequence[dict]) -> str:
    """The summary as a Markdown table (accuracy ± s.d. over seeds, or ± binomial s.e. in
    brackets with one seed; truth values ± s.e., where the rows have them)."""
    truth = all("reward_policy" in s for s in summary)
    head = "| β | method | seeds | eval accuracy | eval margin |"
    if truth:
        head = ("| β | method | seeds | eval accuracy | best (r*) | eval margin | true reward "
                "(π_ref) | win rate vs π_ref | correct | KL(π‖π_ref) | JS(π, π_ref) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in summary:
        spread = (f" [± {s['accuracy_se']:.3f}]" if np.isnan(s["accuracy_sd"])
                  else f" ± {s['accuracy_sd']:.3f}")
        start = f"| {s['beta']:g} | {s['method']} | {s['seeds']} | {s['accuracy']:.3f}{spread} | "
        if not truth:
            lines.append(start + f"{s['eval_margin']:.3f} |")
            continue
        lines.append(
            start + f"{s['best_accuracy']:.3f} | {s['eval_margin']:.3f} | "
            f"{s['reward_policy']:.2f} ± {s['reward_policy_se']:.2f} "
            f"({s['reward_reference']:.2f}) | {s['win_rate']:.3f} ± {s['win_rate_se']:.3f} | "
            f"{s['correct_policy']:.2f} | {s['kl']:.2f} ± {s['kl_se']:.2f} | "
            f"{s['f_divergence']:.3f} ± {s['f_divergence_se']:.3f} |")
    return "\n".join(lines) + "\n"


def write_results(config: ExperimentConfig, rows: Sequence[dict], seconds: float) -> Path:
    """``results.csv`` (one row per run), ``results.md`` (the summary), ``curves.png`` and, with
    a true reward (the offline task), ``frontier.png`` (mean true reward against KL and JS)."""
    out = config.out_dir
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_runs([out / row["run"] for row in rows], out / "curves.png")
    summary = summarise(rows)
    train = config.train
    if "reward_policy" in summary[0]:
        plot_frontier([(s["method"], s["beta"], s) for s in summary], out / "frontier.png",
                      divergence=f"{TRUTH_DIVERGENCE.upper()}(π, π_ref)")
        data, truth = "the offline task", (f"; truth evaluation on {train.truth_eval_prompts} "
                                           "held-out prompts")
    else:
        data = f"{train.data} data ({train.data_path})"
        truth = (". Real data has no true reward: no truth columns and no frontier plot "
                 "(frontier.png), which need the offline task's r*")
    model = f" ({train.model})" if train.model else ""
    text = (f"# IPO against JS-IUPO on {data}\n\n"
            f"{len(rows)} preference runs from one SFT model{model}, {train.pref_steps} steps "
            f"each; {train.eval_pairs} held-out eval pairs at most{truth}; this invocation took "
            f"{seconds / 60:.1f} minutes (runs finished earlier are reused, not retrained).\n\n"
            + markdown_table(summary))
    (out / "results.md").write_text(text)
    return out


def run_experiment(config: ExperimentConfig, settings: Sequence[Setting] | None = None) -> Path:
    """SFT once, every setting of the sweep from it, then the results; returns the folder."""
    started = time.perf_counter()
    settings = sweep(config.betas, config.seeds) if settings is None else settings
    sft_run = config.out_dir / "sft"
    if not (sft_run / "summary.json").is_file():
        run(config.run_config(stage="sft", run_name="sft", seed=0,
                              resume=(sft_run / "config.json").is_file()))
    rows = []
    for number, setting in enumerate(settings, 1):
        print(f"[{number}/{len(settings)}] {setting.method}, beta={setting.beta:g}, "
              f"seed {setting.seed}", file=sys.stderr, flush=True)
        rows.append(run_setting(config, setting, sft_run / "sft"))
    return write_results(config, rows, time.perf_counter() - started)


def build_parser():
    """The CLI of ``python -m llm.experiment``: the sweep, then ``llm.train``'s shared options."""
    return config_parser(ExperimentConfig, prog=PROG, description=__doc__.splitlines()[0])


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints where the table and curves are."""
    config = parse_config(ExperimentConfig, argv, build_parser())

    def work() -> int:
        out = run_experiment(config)
        print((out / "results.md").read_text())
        written = [out / name for name in ("results.md", "results.csv", "curves.png",
                                           "frontier.png") if (out / name).is_file()]
        print("results: " + ", ".join(map(str, written)))
        return 0

    return run_cli(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
