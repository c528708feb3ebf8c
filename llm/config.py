"""The one typed configuration of a training run, and the CLI generated from it.

Every field carries its help text in ``metadata["help"]``; :func:`build_parser` turns the fields
into ``argparse`` options (``data_path`` -> ``--data-path``), so a flag and its field cannot drift
apart. :class:`TrainConfig` validates itself in ``__post_init__``, before any work starts, and is
saved as ``config.json`` in every run folder and checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upo_theory import (
    LOSS_NAMES,
    ExpressionError,
    LossSpecError,
    NotDifferentiableError,
    loss_spec,
)

DATA_SOURCES: tuple[str, ...] = ("offline", "hh", "shp", "jsonl")
STAGES: tuple[str, ...] = ("sft", "pref", "both")
LENGTHS: tuple[str, ...] = ("sum", "mean")
OFFLINE_LR = (5e-3, 1e-3)
"""(SFT, preference) learning rates of the small randomly initialised offline architecture,
measured on the offline task (llm/README.md); smaller ones leave its held-out accuracy near 0.6."""
PRETRAINED_LR = (2e-5, 1e-6)
"""(SFT, preference) learning rates for a pretrained ``--model`` (those of TRL's SFT and DPO
configs): the offline rates would wreck pretrained weights in a few steps."""


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the field and the fix."""


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything a run needs; validated when made (see the field help for each meaning)."""

    data: str = _f("offline", f"data source, one of {DATA_SOURCES}")
    data_path: str | None = _f(
        None, "file (.jsonl, .json, .jsonl.gz, .parquet) or hub dataset name for hh/shp/jsonl"
    )
    eval_data_path: str | None = _f(
        None, "held-out file for hh/shp/jsonl; default: hold out --eval-fraction of the prompts"
    )
    eval_fraction: float = _f(0.1, "share of prompts held out for evaluation (hh/shp/jsonl)")
    model: str | None = _f(
        None, "model name or local folder; default: a GPT-2 architecture built from a GPT2Config"
    )
    n_layer: int = _f(2, "layers of the offline GPT-2 architecture")
    n_embd: int = _f(128, "width of the offline GPT-2 architecture")
    n_head: int = _f(4, "attention heads of the offline GPT-2 architecture")
    dropout: float = _f(0.0, "dropout probability set on every dropout layer of the model")
    loss: str = _f("iupo", f"loss, one of {LOSS_NAMES} (dpo/ipo fix f = reverse KL)")
    f: str = _f("js", "divergence generator: a registered name (js, rkl, alpha, ...) or f(u)")
    alpha: float | None = _f(None, "parameter of the alpha-divergence")
    form: str = _f(
        "per_response",
        "pair statistic form for fdpo/iupo: per_response (the KKT form, eq. 17; default because "
        "the simulator and docs/results/experiment.md measured the paper form missing pi*) or "
        "paper (eqs. 23-26)",
    )
    beta: float = _f(0.1, "regularisation strength beta (> 0)")
    length: str = _f("sum", "sequence log-prob: sum over tokens (the paper) or per-token mean")
    stage: str = _f("both", f"what to train, one of {STAGES}")
    init: str | None = _f(None, "folder of a saved model to start from (e.g. <run>/sft)")
    sft_steps: int = _f(400, "optimizer steps of supervised fine-tuning on the chosen responses")
    pref_steps: int = _f(100, "optimizer steps of preference training")
    batch_size: int = _f(16, "global batch size of preference training in pairs (split over "
                             "processes)")
    sft_batch_size: int = _f(32, "global batch size of supervised fine-tuning in pairs")
    lr: float | None = _f(
        None, f"peak learning rate of preference training (AdamW); default {OFFLINE_LR[1]:g} for "
              f"the offline architecture (random init), {PRETRAINED_LR[1]:g} with --model")
    sft_lr: float | None = _f(
        None, f"peak learning rate of supervised fine-tuning (AdamW); default {OFFLINE_LR[0]:g} "
              f"for the offline architecture, {PRETRAINED_LR[0]:g} with --model")
    warmup_steps: int = _f(10, "linear warm-up steps at the start of each stage")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this value (0 disables)")
    max_length: int = _f(96, "tokens of prompt + response; prompt cut from its start")
    eval_every: int = _f(50, "evaluate on the held-out split every N steps (and at the end)")
    eval_pairs: int = _f(256, "at most this many held-out pairs per evaluation")
    log_every: int = _f(10, "log training metrics every N steps")
    save_every: int = _f(100, "write a checkpoint every N steps (and at the end)")
    out_dir: str = _f("runs", "folder that holds run folders")
    run_name: str | None = _f(
        None, "run folder name; default: <data>-<loss>-<f>-<form>-b<beta>-s<seed>")
    seed: int = _f(0, "seed of data order, model init and the offline task")
    resume: bool = _f(False, "continue the run in <out-dir>/<run-name> from its checkpoint")
    device: str = _f("auto", "auto (CUDA when present), cpu or cuda[:N]")
    threads: int = _f(1, "CPU threads per process for torch (0: torch's default); one thread "
                         "is fastest for small models on a shared CPU")
    offline_train_pairs: int = _f(3000, "training pairs of the offline task")
    offline_eval_pairs: int = _f(300, "held-out pairs of the offline task")
    truth_eval_prompts: int = _f(64, "held-out prompts sampled for the truth evaluation (0: skip)")
    truth_max_new_tokens: int = _f(24, "tokens sampled per response in the truth evaluation")
    stop_after: int | None = _f(
        None, "debug: stop (as if killed) right after the checkpoint at this global step"
    )

    def __post_init__(self) -> None:
        sft_lr, lr = OFFLINE_LR if self.model is None else PRETRAINED_LR
        self.sft_lr = sft_lr if self.sft_lr is None else self.sft_lr
        self.lr = lr if self.lr is None else self.lr
        _choice("data", self.data, DATA_SOURCES)
        _choice("stage", self.stage, STAGES)
        _choice("length", self.length, LENGTHS)
        _choice("loss", self.loss, LOSS_NAMES)
        if self.data != "offline" and not self.data_path:
            raise ConfigError(f"data={self.data!r} needs --data-path (a file or a dataset name)")
        try:
            self.spec  # noqa: B018  (resolves loss, f, alpha and form, or fails with the reason)
        except (LossSpecError, ExpressionError, NotDifferentiableError) as error:
            raise ConfigError(str(error)) from None
        positive = ("beta", "batch_size", "sft_batch_size", "lr", "sft_lr", "max_length",
                    "eval_every", "eval_pairs", "log_every", "save_every", "n_layer", "n_embd",
                    "n_head")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be > 0")
        for name in ("sft_steps", "pref_steps", "warmup_steps", "grad_clip", "weight_decay",
                     "offline_train_pairs", "offline_eval_pairs", "truth_eval_prompts",
                     "threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}")
        if not 0.0 < self.eval_fraction < 1.0:
            raise ConfigError(f"eval_fraction={self.eval_fraction} must be in (0, 1)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout={self.dropout} must be in [0, 1)")
        if self.max_length < 8:
            raise ConfigError(f"max_length={self.max_length} is too short; use at least 8")
        if self.stage in ("pref", "both") and self.pref_steps == 0:
            raise ConfigError(f"stage={self.stage!r} needs pref_steps > 0")
        if self.stage in ("sft", "both") and self.sft_steps == 0:
            raise ConfigError(f"stage={self.stage!r} needs sft_steps > 0 (or use --stage pref)")
        for name in ("data_path", "eval_data_path"):
            location = getattr(self, name)
            if location and _looks_local(location) and not Path(location).is_file():
                raise ConfigError(f"{name}={location!r} is not a readable file; check the path")
        if self.init is not None and not Path(self.init).is_dir():
            raise ConfigError(f"init={self.init!r} is not a folder; pass a saved model folder")
        if self.data == "offline" and self.offline_train_pairs < self.batch_size:
            raise ConfigError(
                f"offline_train_pairs={self.offline_train_pairs} is below "
                f"batch_size={self.batch_size}; raise it"
            )

    @property
    def spec(self):  # -> upo_theory.LossSpec
        """The loss-family member this run trains (Ψ, f, form) resolved by ``upo_theory``."""
        return loss_spec(self.loss, self.f, self.form, self.alpha)

    @property
    def divergence_expression(self) -> str:
        """The ``f`` the loss regularises with, as passed (``rkl`` for dpo and ipo)."""
        return self.f if self.loss in ("fdpo", "iupo") else "rkl"

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this run trains, in order."""
        return ("sft", "pref") if self.stage == "both" else (self.stage,)

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the stages this run trains."""
        return sum(self.sft_steps if s == "sft" else self.pref_steps for s in self.stages)

    def stage_batch_size(self, stage: str) -> int:
        """Global batch size of ``stage`` (``"sft"`` or ``"pref"``)."""
        return self.sft_batch_size if stage == "sft" else self.batch_size

    def resolved_run_name(self) -> str:
        if self.run_name:
            return self.run_name
        form = self.form if self.loss in ("fdpo", "iupo") else "std"
        f = self.f if self.loss in ("fdpo", "iupo") else "rkl"
        return f"{self.data}-{self.loss}-{f}-{form}-b{self.beta:g}-s{self.seed}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls(**json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _looks_local(location: str) -> bool:
    """A file path rather than a hub dataset name (``owner/name``)."""
    return (location.startswith((".", "/", "~")) or location.count("/") != 1
            or location.endswith((".json", ".jsonl", ".gz", ".parquet")))


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is unknown; choose one of {choices}")


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(scalar type, optional?) of a field annotation such as ``int | None``."""
    hint = eval(annotation, vars(typing)) if isinstance(annotation, str) else annotation
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        scalars = [a for a in args if a is not type(None)]
        return scalars[0], True
    return hint, False


def _optional(kind: type):
    def parse(text: str):
        return None if text.lower() in ("none", "") else kind(text)

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    """An ``argparse`` parser with one option per :class:`TrainConfig` field."""
    parser = argparse.ArgumentParser(
        prog="python -m llm.train",
        description="SFT then preference training (DPO, IPO, f-DPO, IUPO) of a GPT-2 model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for item in dataclasses.fields(TrainConfig):
        kind, optional = _base_type(item.type)
        flag = "--" + item.name.replace("_", "-")
        helptext = item.metadata["help"]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=item.default, help=helptext)
        else:
            parse = _optional(kind) if optional else kind
            parser.add_argument(flag, type=parse, default=item.default, help=helptext,
                                metavar=kind.__name__.upper())
    return parser


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse a command line into a validated :class:`TrainConfig`; exit 2 on a bad value."""
    parser = build_parser()
    namespace = parser.parse_args(argv)
    try:
        return TrainConfig(**vars(namespace))
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
