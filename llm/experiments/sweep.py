"""An analogue of the paper's experiment (Section 5) over seeds (``python -m llm.experiment``).

IPO (eq. 10), JS-IUPO in the paper form (eq. 26) and JS-IUPO in the per-response form, at
β ∈ {0.1, 0.2, 0.5}, from supervised fine-tuning (SFT) first. The protocol:

1. **SFT** once per seed (the frozen π_ref of that seed's preference runs; ``--no-sft-per-seed``:
   one SFT model for every seed), so the spread over seeds includes the SFT model's.
2. **A learning rate per method**, since the methods' losses have different scales, chosen on
   seeds (``--select-seeds``, each with its own SFT model) and data never used in the evaluation:
   each method is trained at every rate of ``--lrs`` (at β = ``--select-beta``) and evaluated on
   ``--validation-pairs`` *validation* pairs from that seed's held-out training prompts
   (``--holdout validation``; the SFT model of a selection seed never sees them either). The
   rule (:func:`llm.experiments.rates.chosen_rates`): the best final validation accuracy, where
   every rate within one standard error of it (binomial, or the spread between selection seeds
   where larger) counts as tied, and of tied rates the
   lowest validation loss wins. A choice on the edge of the rates tried extends the grid one
   step past it (1, 3, 10, ...), up to ``--max-extensions`` times.
3. **The sweep**: every method at every β and seed at its rate, and (``--equal-rate``) at the
   baseline's (IPO's) rate too, evaluated on the held-out evaluation pairs and, on the offline
   task, against the true reward (:mod:`llm.evaluation.true_reward`, with JS as the divergence
   of every run, so IPO's and IUPO's divergences are comparable) every ``--truth-every`` steps:
   each method's reward-against-divergence frontier over β and over training.

Written to ``<out_dir>``: ``runs.csv`` (one row per run: its final figures), ``curves.csv`` (every
logged point of every run), ``selection.csv`` (the learning-rate grid), and from them, by
:mod:`llm.experiments.report_files`, ``experiment.md`` (the table, the paired differences with
confidence intervals and what they say), ``curves-beta<β>.png`` and ``frontier.png``. Runs run
``--jobs`` at a time, one CPU thread each; each run that finishes is reported with how many of
its stage are done and how long the rest will take at the pace so far; finished runs are reused
and a killed sweep resumes where it stopped. Real data (``--data hh|shp|jsonl``, usually with
``--model``) has no true reward: the runs and the report then hold the held-out preference
metrics only.

``--protocol study`` (:data:`STUDY`) is the pre-registered study
(``docs/results/study/PREREGISTRATION.md``): IPO and per-response JS-IUPO at five β, 10 seeds,
3 selection seeds, 400 steps, truth probes every 50 steps on 512 prompts; its report puts the
primary endpoint's verdict first (:mod:`llm.experiments.study`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from upo_theory import loss_spec, parse_json
from upo_theory.cli import check_writable, option

from ..config import ConfigError, TrainConfig
from ..engine.run_folder import finished
from ..evaluation.curves import method_label, run_curve
from ..run import check_before_work, run_training
from .rates import chosen_rates, next_rate
from .records import Records
from .report_files import write_csv, write_report
from .statistics import BASELINE
from .workers import ignoring_interrupts, start_worker, stop_workers

METHODS: tuple[tuple[str, str, str, str], ...] = tuple(
    (method_label(loss_spec(loss, f, form)), loss, f, form)
    for loss, f, form in (("ipo", "rkl", "paper"), ("iupo", "js", "paper"),
                          ("iupo", "js", "per_response")))
"""(label, loss, f, form) of the compared methods (the form is unused by IPO); the label is the
run's method as every table and figure names it (:func:`llm.evaluation.curves.method_label`)."""
BETAS: tuple[float, ...] = (0.1, 0.2, 0.5)
LRS: tuple[float, ...] = (3e-5, 1e-4, 3e-4, 1e-3)
"""The learning-rate grid each method is validated at; a choice on its edge extends it."""
TRUTH_DIVERGENCE = "js"
SWEPT = TrainConfig.marked("swept")
""":class:`TrainConfig` fields that the experiment sets for each run itself (marked on the fields:
``metadata["swept"]``)."""
TRAIN_DEFAULTS = dict(out_dir="runs/experiment", offline_train_pairs=4000,
                      offline_eval_pairs=500, eval_pairs=500, truth_eval_prompts=128,
                      pref_steps=200, eval_every=50, truth_every=100, packing=False)
"""The experiment's own defaults for the training options it shares with ``llm.train``; padded
batches (``packing=False``), as the committed results in ``docs/results`` were made, so a rerun
reproduces them exactly (``--packing`` is faster and equal up to float rounding)."""
QUICK = dict(sft_steps=6, pref_steps=4, offline_train_pairs=64, offline_eval_pairs=16,
             eval_pairs=16, truth_eval_prompts=8, truth_max_new_tokens=6, n_layer=1, n_embd=32,
             n_head=2, eval_every=2, truth_every=2, batch_size=8, sft_batch_size=8)
"""``--quick``: a tiny model and a few steps; checks the pipeline, measures nothing."""
STUDY_SEEDS: tuple[int, ...] = tuple(range(10))
"""The pre-registered study's seeds: N = 10 from the power calculation on the pilot's CSV files
(:func:`llm.experiments.study.pilot_design`; ``docs/results/study/PREREGISTRATION.md``)."""
STUDY: tuple[str, ...] = (
    "--betas", "0.025", "0.05", "0.1", "0.2", "0.5",
    "--seeds", *map(str, STUDY_SEEDS), "--select-seeds", "100", "101", "102",
    "--no-paper-form", "--no-equal-rate", "--pref-steps", "400", "--eval-every", "50",
    "--truth-every", "50", "--truth-eval-prompts", "512")
"""``--protocol study``: the options the pre-registered study fixes (IPO and per-response
JS-IUPO, β down to 0.025 so both frontiers cover one KL range, 10 seeds, 3 selection seeds,
400 steps, truth probes every 50 steps on 512 prompts), put before the command line's own, so
an option given there still wins (``--quick`` too); see
``docs/results/study/PREREGISTRATION.md``."""
PROTOCOLS = {"pilot": (), "study": STUDY}
"""The named protocols of ``python -m llm.experiment --protocol``: the options each fixes."""


@dataclass(frozen=True)
class Setting:
    """One preference run: a method at a β, seed and learning rate, on a holdout."""

    method: str
    loss: str
    f: str
    form: str
    beta: float
    seed: int
    lr: float
    holdout: str = "eval"

    @property
    def run_name(self) -> str:
        """Every setting that changes the run is in its name, so a finished run is reused only
        for the same setting (a changed learning-rate choice trains anew)."""
        if self.holdout == "validation":
            return (f"select-{self.loss}-{self.f}-{self.form}-b{self.beta:g}-lr{self.lr:g}"
                    f"-s{self.seed}")
        return f"{self.loss}-{self.f}-{self.form}-b{self.beta:g}-lr{self.lr:g}-s{self.seed}"


def sweep(betas: Sequence[float], seeds: Sequence[int], lrs: dict[str, float],
          equal_rate: bool = False, methods: Sequence[tuple[str, str, str, str]] = METHODS
          ) -> tuple[Setting, ...]:
    """Every method at every β and seed at its rate and, with ``equal_rate``, at the
    baseline's rate too; seeds outermost (a cut-short sweep has whole seeds)."""
    rates = {label: [lrs[label]] for label, *_ in methods}
    if equal_rate:
        for label in rates:
            if lrs[BASELINE] not in rates[label]:
                rates[label].append(lrs[BASELINE])
    return tuple(Setting(label, loss, f, form, beta, seed, lr) for seed in seeds
                 for beta in betas for label, loss, f, form in methods for lr in rates[label])


def selection(grid: dict[str, Sequence[float]], beta: float, seeds: Sequence[int],
              methods: Sequence[tuple[str, str, str, str]] = METHODS) -> tuple[Setting, ...]:
    """Every method at every rate of its ``grid``, validated on held-out training prompts of
    each selection seed."""
    return tuple(Setting(label, loss, f, form, beta, seed, lr, "validation")
                 for seed in seeds for label, loss, f, form in methods for lr in grid[label])



@dataclass(frozen=True)
class ExperimentConfig:
    """The sweep (β values, seeds, learning-rate grid) and the options every run shares."""

    train: TrainConfig = field(  # a factory: a config is mutable, so no shared default
        default_factory=lambda: TrainConfig(**TRAIN_DEFAULTS),
        metadata={"help": "training options of every run", "exclude": SWEPT,
                  "defaults": TRAIN_DEFAULTS})
    betas: tuple[float, ...] = option(BETAS, "values of beta")
    seeds: tuple[int, ...] = option((0, 1, 2, 3, 4), "seeds of the preference runs")
    lrs: tuple[float, ...] = option(
        LRS, "learning rates each method is validated at; its best is used for the sweep")
    select_beta: float = option(0.2, "beta of the learning-rate selection runs")
    select_seeds: tuple[int, ...] = option(
        (100,), "seeds of the learning-rate selection (own SFT model and data; never among "
                "--seeds)")
    validation_pairs: int = option(
        1000, "validation pairs per selection run, from held-out training prompts")
    validation_fraction: float = option(
        0.3, "share of a selection seed's training prompts held out for validation")
    max_extensions: int = option(
        2, "times the rates may be extended past an edge the choice sits on")
    equal_rate: bool = option(True, "also run every method at the baseline's (IPO's) rate")
    sft_per_seed: bool = option(
        True, "one SFT model per seed (else one SFT model, seed 0, for every seed)")
    paper_form: bool = option(True, "also run JS-IUPO in the paper form (eq. 26)")
    protocol: str = option(
        "pilot", "a named protocol: pilot (the committed docs/results) or study (the "
                 "pre-registered study: its options first, the command line's after them)",
        choices=tuple(PROTOCOLS))
    jobs: int = option(1, "runs at a time, each in its own process with one CPU thread")
    records: str | None = option(
        None, "folder that keeps the records of finished runs (settings, metrics, summaries; no "
              "weights) by whole unit, the selection and each seed, and from which a command "
              "starts: an experiment then spans machines whose --out-dir does not survive")
    quick: bool = option(False, "a tiny model and a few steps: checks the pipeline in seconds")

    def __post_init__(self) -> None:
        for name in ("betas", "lrs"):
            values = getattr(self, name)
            if not values or any(not v > 0 or v == float("inf") for v in values):
                raise ConfigError(f"{name}={values} must be a non-empty tuple of finite values "
                                  "> 0")
        for name in ("seeds", "select_seeds"):
            seeds = getattr(self, name)
            if not seeds:
                raise ConfigError(f"{name} is empty; give at least one seed")
            if any(not 0 <= seed < 2**32 for seed in seeds):
                raise ConfigError(f"{name}={seeds} must each be 0 to 2^32 - 1")
        if set(self.seeds) & set(self.select_seeds):
            raise ConfigError(f"select_seeds={self.select_seeds} share seeds with "
                              f"seeds={self.seeds}; rates must be chosen on seeds the "
                              "evaluation never uses")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction={self.validation_fraction} must be in (0, 1)")
        if self.validation_pairs < 1 or self.max_extensions < 0:
            raise ConfigError("validation_pairs must be >= 1 and max_extensions >= 0")
        cpus = os.cpu_count() or 1
        if not 1 <= self.jobs <= cpus:
            raise ConfigError(f"jobs={self.jobs} must be 1 to {cpus}, the CPUs of this machine "
                              "(each run takes one)")
        if self.quick:
            object.__setattr__(self, "train", self.train.replace(**QUICK))
        if self.train.data == "offline" and self.train.truth_eval_prompts < 1:
            raise ConfigError("truth_eval_prompts must be >= 1: on the offline task the "
                              "experiment compares the methods on the true reward")

    def check_given(self, given: frozenset[str] | set[str]) -> None:
        """Refuse a training option the runs would ignore, as ``llm.train`` does
        (:meth:`TrainConfig.check_given`), and one that ``--quick`` replaces (:data:`QUICK`);
        ``given``: the options of the command line itself, not of its ``--protocol``."""
        if self.quick:
            for name in sorted(set(given) & set(QUICK), key=list(QUICK).index):
                raise ConfigError(f"--{name.replace('_', '-')} is ignored by --quick, which sets "
                                  f"it to {QUICK[name]}: drop one of them")
        self.train.check_given(given)

    @property
    def methods(self) -> tuple[tuple[str, str, str, str], ...]:
        """The compared methods: :data:`METHODS`, less the paper form with ``--no-paper-form``."""
        return tuple(m for m in METHODS if self.paper_form or m[1:] != ("iupo", "js", "paper"))

    @property
    def out_dir(self) -> Path:
        return Path(self.train.out_dir)

    def sft_name(self, seed: int) -> str:
        """The SFT model a seed's runs start from: its own, or (``--no-sft-per-seed``) the
        first evaluation seed's; a selection seed always has its own, on its training split."""
        if seed in self.select_seeds:
            return f"sft-select-s{seed}"
        return f"sft-s{seed if self.sft_per_seed else self.seeds[0]}"

    def run_config(self, **fields) -> TrainConfig:
        """The :class:`TrainConfig` of one run of this experiment."""
        steps = max(self.train.sft_steps, self.train.pref_steps)
        return self.train.replace(save_every=steps, truth_f=TRUTH_DIVERGENCE, threads=1,
                                  **fields)

    def holdout(self, seed: int) -> dict:
        """A selection seed's runs hold out validation prompts (its SFT model too); only its
        final validation figures count."""
        if seed not in self.select_seeds:
            return {}
        return dict(holdout="validation", eval_fraction=self.validation_fraction,
                    eval_pairs=self.validation_pairs, eval_every=self.train.pref_steps)

    def sft_config(self, seed: int) -> TrainConfig:
        return self.run_config(stage="sft", run_name=self.sft_name(seed), seed=seed,
                               **self.holdout(seed))

    def preference_fields(self, setting: Setting) -> dict:
        """The fields a preference run sets (:meth:`preference_config`)."""
        sft = self.out_dir / self.sft_name(setting.seed) / "sft"
        cache = self.out_dir / f"reference-s{setting.seed}-{setting.holdout}.pt"
        return dict(stage="pref", init=str(sft), model=None, loss=setting.loss, f=setting.f,
                    form=setting.form, beta=setting.beta, seed=setting.seed, lr=setting.lr,
                    run_name=setting.run_name, reference_cache=str(cache),
                    **self.holdout(setting.seed))

    def preference_config(self, setting: Setting) -> TrainConfig:
        """A preference run from its seed's SFT model (``init``, which replaces ``--model``;
        the learning rate is the setting's); the runs of a seed and holdout share
        π_ref's log-probabilities (computed once, in ``reference-s<seed>-<holdout>.pt``)."""
        return self.run_config(**self.preference_fields(setting))

    def own_settings(self, saved: dict) -> dict:
        """The settings of the run this experiment makes for the run whose settings are
        ``saved`` (a kept record's, :mod:`llm.experiments.records`; its SFT model need not
        exist here)."""
        seed = int(saved["seed"])
        if saved["stage"] == "sft":
            return self.sft_config(seed).to_dict()
        label = method_label(loss_spec(saved["loss"], saved["f"], saved["form"]))
        setting = Setting(label, saved["loss"], saved["f"], saved["form"], float(saved["beta"]),
                          seed, float(saved["lr"]),
                          "validation" if seed in self.select_seeds else "eval")
        fields = self.preference_fields(setting)
        return {**self.run_config(**{**fields, "init": None}).to_dict(), "init": fields["init"]}

    def unfinished(self, settings: Sequence[Setting]) -> list[TrainConfig]:
        """The configs of the ``settings`` whose runs have not finished (a finished run's SFT
        model need not be here: a kept record, :mod:`llm.experiments.records`)."""
        return [self.preference_config(s) for s in settings
                if not finished(self.out_dir / s.run_name)]


def train_all(configs: Sequence[TrainConfig], jobs: int, total: int | None = None,
              then: Callable[[], None] = lambda: None) -> None:
    """Train every config whose run has not finished, ``jobs`` at a time; killed runs resume.
    Each run that finishes is reported with how many of the stage's ``total`` runs (default:
    ``configs``) are done and, at the pace of the runs done by this call, how long the rest
    will take; ``then`` is called after it."""
    todo = [c for c in configs if not finished(Path(c.out_dir) / c.resolved_run_name())]
    todo = [c.replace(resume=(Path(c.out_dir) / c.resolved_run_name() / "config.json").is_file())
            for c in todo]
    total = len(configs) if total is None else total
    progress = Progress(total, total - len(todo))
    if jobs == 1 or len(todo) <= 1:
        for config in todo:
            progress.report(run_training(config))
            then()
        return
    context = multiprocessing.get_context("spawn")  # no torch state is forked
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                             initializer=start_worker, initargs=(os.getpid(),)) as pool:
        with ignoring_interrupts():  # each submit starts a worker until there are ``jobs``
            runs = [pool.submit(_train, c.to_json()) for c in todo]
        try:
            for run in as_completed(runs):
                progress.report(run.result())
                then()
        except KeyboardInterrupt:  # the workers ignore it: stop them (their runs resume from
            stop_workers()         # their checkpoints), the pending runs fail as broken
            raise


@dataclass
class Progress:
    """How far a stage of ``total`` runs is, ``done`` of them finished before this call."""

    total: int
    done: int
    started: float = field(default_factory=time.monotonic)
    finished_here: int = 0

    def report(self, folder: str | os.PathLike) -> None:
        """``finished <folder> (k of n; the other m in about ...)`` on stderr."""
        self.done += 1
        self.finished_here += 1
        rest = self.total - self.done
        text = f"finished {folder} ({self.done} of {self.total}"
        if rest:
            pace = (time.monotonic() - self.started) / self.finished_here
            text += f"; the other {rest} in about {_duration(pace * rest)} at this pace"
        print(text + ")", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    """``2 h 05 min``, ``7 min``, ``40 s``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _train(config_json: str) -> str:
    return str(run_training(TrainConfig.from_json(config_json)))


def final_row(config: ExperimentConfig, setting: Setting) -> dict:
    """The final figures of one preference run (its last evaluation, its truth evaluation);
    ``eval_pairs`` is the number of held-out pairs it was evaluated on."""
    folder = config.out_dir / setting.run_name
    summary = parse_json((folder / "summary.json").read_text())
    final = summary["final_eval"]
    row = {**dataclasses.asdict(setting), "run": setting.run_name,
           "eval_accuracy": final["rewards/accuracies"], "eval_loss": final["loss"],
           "eval_margin": final["rewards/margins"], "eval_statistic": final["statistic"],
           "eval_pairs": summary["eval_pairs"]}
    if "best_eval_accuracy" in summary:
        row["best_accuracy"] = summary["best_eval_accuracy"]
    row.update(summary.get("truth", {}))
    return row


def curve_rows(config: ExperimentConfig, setting: Setting) -> list[dict]:
    """Every logged point of a preference run's preference stage, labelled by its setting."""
    # "loss" is the metric's column here; the method column names the loss
    label = {k: v for k, v in dataclasses.asdict(setting).items() if k not in ("holdout", "loss")}
    return run_curve(config.out_dir / setting.run_name, label)


def choose_rates(config: ExperimentConfig) -> tuple[dict[str, float], list[dict]]:
    """The learning rate of each method (:func:`llm.experiments.rates.chosen_rates`) on the
    selection seeds, the grid extended past an edge the choice sits on (at most
    ``max_extensions`` times); returns the rates and every selection run's row."""
    grid = {label: sorted(config.lrs) for label, *_ in config.methods}
    for extension in range(config.max_extensions + 1):
        settings = selection(grid, config.select_beta, config.select_seeds, config.methods)
        train_all(config.unfinished(settings), config.jobs, len(settings))
        rows = [final_row(config, s) for s in settings]
        rates = chosen_rates(rows)
        edges = {label: rates[label] for label in grid
                 if rates[label] in (grid[label][0], grid[label][-1])}
        if not edges or extension == config.max_extensions:
            return rates, rows
        for label, rate in edges.items():
            grid[label] = sorted({*grid[label], next_rate(rate, up=rate == grid[label][-1])})
    raise AssertionError("unreachable")


def run_experiment(config: ExperimentConfig) -> Path:
    """SFT, the learning-rate selection, the sweep, then the results; returns the folder."""
    started = time.perf_counter()
    check_before_work(config.train)  # what every run shares, refused before the first one
    check_writable(config.out_dir, "--out-dir", folder=True)  # the runs make the folder
    records = Records.open(config.records) if config.records else None
    if records is not None:
        restored = records.restore(config)
        print(f"records: {len(restored)} finished units from {records.folder}"
              + (f" ({', '.join(restored)})" if restored else ""), file=sys.stderr)
    sft_seeds = sorted(config.seeds) if config.sft_per_seed else [config.seeds[0]]
    sft = [config.sft_config(seed) for seed in [*sft_seeds, *config.select_seeds]]
    train_all(sft, config.jobs)  # a kept record's SFT run is finished: nothing to train
    rates, selection_rows = choose_rates(config)
    settings = sweep(config.betas, config.seeds, rates, config.equal_rate, config.methods)
    units = [(f"seed-{seed}", [config.sft_name(seed),
                               *(s.run_name for s in settings if s.seed == seed)])
             for seed in config.seeds]
    units.append(("selection", [*(config.sft_name(seed) for seed in config.select_seeds),
                                *(row["run"] for row in selection_rows)]))

    def keep() -> None:  # each unit whose runs have all finished
        if records is not None:
            records.keep_whole(units, config.out_dir)

    keep()
    train_all(config.unfinished(settings), config.jobs, len(settings), then=keep)
    write_csv(config.out_dir / "selection.csv", selection_rows)
    write_csv(config.out_dir / "runs.csv", [final_row(config, s) for s in settings])
    write_csv(config.out_dir / "curves.csv",
              [row for s in settings for row in curve_rows(config, s)])
    names = ([c.run_name for c in sft] + [r["run"] for r in selection_rows]
             + [s.run_name for s in settings])
    write_report(config.out_dir, setup=describe(config, time.perf_counter() - started, names))
    return config.out_dir


def describe(config: ExperimentConfig, seconds: float, runs: Sequence[str]) -> dict:
    """What ``experiment.md`` states about how the results were produced: ``minutes`` is this
    invocation's wall time (which reuses finished runs), ``run_minutes`` the run time of every
    run it stands on (SFT, selection, sweep), summed from their summaries."""
    train = config.train
    run_seconds = sum(parse_json((config.out_dir / name / "summary.json").read_text())["seconds"]
                      for name in runs)
    return {"data": train.data, "model": train.model or f"offline GPT-2 {train.n_layer} x "
            f"{train.n_embd}", "sft_steps": train.sft_steps, "pref_steps": train.pref_steps,
            "batch_size": train.batch_size, "eval_pairs": train.eval_pairs,
            "truth_prompts": train.truth_eval_prompts, "seeds": list(config.seeds),
            "betas": list(config.betas), "lrs": list(config.lrs),
            "select_beta": config.select_beta, "select_seeds": list(config.select_seeds),
            "max_extensions": config.max_extensions, "truth_every": train.truth_every,
            "sft_per_seed": config.sft_per_seed, "protocol": config.protocol,
            "methods": [label for label, *_ in config.methods],
            "equal_rate": config.equal_rate, "truth_max_new_tokens": train.truth_max_new_tokens,
            "minutes": round(seconds / 60, 1), "runs": len(runs),
            "run_minutes": round(run_seconds / 60), "jobs": config.jobs}

