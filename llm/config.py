"""The one typed configuration of a training run, and the CLI generated from it.

Every field carries its help text in ``metadata["help"]``; :func:`upo_theory.config_parser` turns
the fields into options (``data_path`` -> ``--data-path``), so a flag and its field cannot drift
apart. A field also carries the facts other parts of ``llm`` need about it (:data:`MARKS`: whether
a ``--resume`` may change it, whether π_ref's log-probs depend on it, whether the experiment sets
it, its numeric range), so adding a field is one place to decide them. :class:`TrainConfig`
validates itself in ``__post_init__``, before any work starts, resolves its loss-family member
once (:attr:`TrainConfig.spec`, a :class:`upo_theory.LossSpec`) and is saved
as ``config.json`` in every run folder and as ``run_config.json`` beside every saved model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upo_theory import (
    FIXED_DIVERGENCE,
    LOSS_NAMES,
    Condition,
    LossSpec,
    UserError,
    config_parser,
    derive,
    get_divergence,
    loss_spec,
    parse_config,
)

from .data.readers import is_local

DATA_SOURCES: tuple[str, ...] = ("offline", "hh", "shp", "jsonl")
STAGES: tuple[str, ...] = ("sft", "pref", "both")
STAGE_ORDER: tuple[str, ...] = ("sft", "pref")
"""The stages of a run in the order they train (``both`` trains them all)."""
LENGTHS: tuple[str, ...] = ("sum", "mean")
HOLDOUTS: tuple[str, ...] = ("eval", "validation")
OFFLINE_LR = (5e-3, 1e-3)
"""(SFT, preference) learning rates of the small randomly initialised offline architecture,
measured on the offline task (llm/README.md); smaller ones leave its held-out accuracy near 0.6."""
PRETRAINED_LR = (2e-5, 1e-6)
"""(SFT, preference) learning rates for a pretrained ``--model`` (those of TRL's SFT and DPO
configs): the offline rates would wreck pretrained weights in a few steps."""
PROG = "python -m llm.train"


class ConfigError(UserError):
    """A configuration value that cannot work; the message names the field and the fix."""


MARKS: dict[str, str] = {
    "resumable": "a --resume may change it: it changes how, not what, the run computes",
    "reference_key": "pi_ref's log-probabilities depend on it (the --reference-cache key)",
    "swept": "llm.experiment sets it for each run itself",
    "bound": "its numeric range, checked when the config is made: '>0' or '>=0'",
}
"""The facts a :class:`TrainConfig` field carries in its metadata besides ``help`` and ``choices``
(which :func:`upo_theory.config_parser` reads); each list of fields that shares one is derived
from the fields (:meth:`TrainConfig.marked`), never restated."""


def _f(default: Any, help: str, **marks: Any) -> Any:
    """A field with its help text and its marks (:data:`MARKS`, or ``choices``)."""
    unknown = set(marks) - set(MARKS) - {"choices"}
    if unknown:
        raise TypeError(f"unknown field marks {sorted(unknown)}; known: {sorted(MARKS)}")
    return field(default=default, metadata={"help": help, **marks})


@dataclass
class TrainConfig:
    """Everything a run needs; validated when made (see the field help for each meaning)."""

    data: str = _f("offline", "data source", choices=DATA_SOURCES, reference_key=True)
    data_path: str | None = _f(
        None, "for hh/shp/jsonl: a file (.jsonl, .json, .jsonl.gz, .parquet), a folder of shards, "
              "a save_to_disk folder, or a hub dataset owner/name[/data_dir][:split]",
        reference_key=True
    )
    eval_data_path: str | None = _f(
        None, "held-out data for hh/shp/jsonl (the same kinds of location as --data-path; a hub "
              "name reads its test/validation split); default: hold out --eval-fraction of the "
              "prompts", reference_key=True
    )
    eval_fraction: float = _f(0.1, "share of prompts held out for evaluation (hh/shp/jsonl) "
                                   "or for validation (--holdout validation)", reference_key=True)
    holdout: str = _f(
        "eval", "what the run evaluates on: the held-out evaluation pairs, or validation pairs "
                "from held-out training prompts (to choose settings such as the learning rate "
                "without looking at the evaluation pairs; no truth evaluation then)",
        choices=HOLDOUTS, reference_key=True, swept=True)
    model: str | None = _f(
        None, "model name or local folder; default: a GPT-2 architecture built from a GPT2Config",
        reference_key=True
    )
    n_layer: int = _f(2, "layers of the offline GPT-2 architecture", reference_key=True, bound=">0")
    n_embd: int = _f(128, "width of the offline GPT-2 architecture", reference_key=True, bound=">0")
    n_head: int = _f(4, "attention heads of the offline GPT-2 architecture",
        reference_key=True, bound=">0")
    dropout: float = _f(0.0, "dropout probability set on every dropout layer of the model")
    loss: str = _f("iupo", "loss (dpo and ipo fix f = reverse KL)", choices=LOSS_NAMES, swept=True)
    f: str = _f("js", "divergence generator: a registered name (js, rkl, alpha, ...) or f(u)",
        swept=True)
    alpha: float | None = _f(None, "parameter of the alpha-divergence", swept=True)
    form: str = _f(
        "per_response",
        "pair statistic form for fdpo/iupo: per_response (the KKT form, eq. 17; default because "
        "the simulator and docs/results/experiment.md measured the paper form missing pi*) or "
        "paper (eqs. 23-26)", swept=True
    )
    allow_inadmissible_f: bool = _f(
        False, "train fdpo/iupo with an f that fails Theorem 3.1's conditions (research on "
               "purpose: the loss's minimiser is then not the UPO optimum)")
    beta: float = _f(0.1, "regularisation strength beta (> 0, finite)", swept=True, bound=">0")
    length: str = _f("sum", "sequence log-prob: sum over tokens (the paper) or per-token mean",
                     choices=LENGTHS)
    stage: str = _f("both", "what to train", choices=STAGES, reference_key=True, swept=True)
    init: str | None = _f(None, "folder of a saved model to start from (e.g. <run>/sft)",
        reference_key=True, swept=True)
    sft_steps: int = _f(400, "optimizer steps of supervised fine-tuning on the chosen responses",
        bound=">=0")
    pref_steps: int = _f(100, "optimizer steps of preference training",
        reference_key=True, bound=">=0")
    batch_size: int = _f(16, "global batch size of preference training in pairs (split over "
                             "processes)", reference_key=True, bound=">0")
    sft_batch_size: int = _f(32, "global batch size of supervised fine-tuning in pairs", bound=">0")
    lr: float | None = _f(
        None, f"peak learning rate of preference training (AdamW); default {OFFLINE_LR[1]:g} for "
              f"the offline architecture (random init), {PRETRAINED_LR[1]:g} with --model",
        swept=True, bound=">0")
    sft_lr: float | None = _f(
        None, f"peak learning rate of supervised fine-tuning (AdamW); default {OFFLINE_LR[0]:g} "
              f"for the offline architecture, {PRETRAINED_LR[0]:g} with --model", bound=">0")
    warmup_steps: int = _f(10, "linear warm-up steps at the start of each stage", bound=">=0")
    weight_decay: float = _f(0.0, "AdamW weight decay", bound=">=0")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this value (0 disables)",
        bound=">=0")
    max_length: int = _f(96, "tokens of prompt + response; prompt cut from its start",
        reference_key=True, bound=">0")
    eval_every: int = _f(50, "evaluate on the held-out split every N steps (and at the end)",
        bound=">0")
    eval_pairs: int = _f(256, "at most this many held-out pairs per evaluation",
        reference_key=True, bound=">0")
    log_every: int = _f(10, "log training metrics every N steps", bound=">0")
    save_every: int = _f(100, "write a checkpoint every N steps (and at the end)",
        swept=True, bound=">0")
    out_dir: str = _f("runs", "folder that holds run folders", resumable=True)
    run_name: str | None = _f(
        None, "run folder name; default: <data>-<loss>-<f>-<form>-b<beta>-s<seed>",
        resumable=True, swept=True)
    seed: int = _f(0, "seed of data order, model init and the offline task",
        reference_key=True, swept=True)
    resume: bool = _f(False, "continue the run in <out-dir>/<run-name> from its checkpoint",
        resumable=True, swept=True)
    device: str = _f("auto", "auto (CUDA when present), cpu or cuda[:N]", resumable=True)
    micro_batch_size: int = _f(
        0, "pairs per forward pass on each process; the process's share of the batch is split "
           "into micro-batches of similar lengths (less padding) whose gradients accumulate to "
           "the same step (0: one pass)", resumable=True, bound=">=0")
    forward_rows: int = _f(
        0, "rows per forward pass inside a micro-batch: rows sorted by length run in chunks of "
           "this many, each only as wide as its longest row, so little compute goes to padding "
           "(0: all rows at once)", resumable=True, bound=">=0")
    deterministic: bool = _f(
        True, "deterministic CUDA kernels, so a killed and resumed run ends bitwise equal to an "
              "uninterrupted one (cost measured in llm/README.md); --no-deterministic trades "
              "that for speed", resumable=True)
    compile: bool = _f(False, "torch.compile the transformer body (sequence lengths padded to "
                              "multiples of 64 to bound recompilation)", resumable=True)
    gradient_checkpointing: bool = _f(
        False, "recompute activations in the backward pass: less memory, about a third more "
               "compute (for large models or long sequences)", resumable=True)
    threads: int = _f(1, "CPU threads per process for torch (0: torch's default); one thread "
                         "is fastest for small models on a shared CPU",
        resumable=True, swept=True, bound=">=0")
    offline_train_pairs: int = _f(3000, "training pairs of the offline task",
        reference_key=True, bound=">=0")
    offline_eval_pairs: int = _f(300, "held-out pairs of the offline task",
        reference_key=True, bound=">=0")
    reference_cache: str | None = _f(
        None, "with --stage pref: a file of pi_ref's log-probabilities that runs from the same "
              "start on the same data share (read when it was made for this run's settings, "
              "else computed and written); llm.experiment gives all runs of a seed one",
        resumable=True, swept=True)
    truth_eval_prompts: int = _f(64, "held-out prompts sampled for the truth evaluation (0: skip)",
        resumable=True, bound=">=0")
    truth_max_new_tokens: int = _f(24, "tokens sampled per response in the truth evaluation")
    truth_f: str | None = _f(
        None, "the f of the D_f(pi, pi_ref) the truth evaluation estimates; default: the f the "
              "loss regularises with (reverse KL for dpo and ipo)", swept=True)
    stop_after: int | None = _f(
        None, "debug: stop (as if killed) right after the checkpoint at this global step",
        resumable=True, swept=True
    )
    packing: bool = _f(
        False, "lay batches out padding-free: sequences end to end in a few rows, position ids "
               "restarting at each and attention kept inside it (default: one right-padded row "
               "per sequence); a --resume keeps it, as it changes float rounding (speed "
               "measured in llm/README.md)", reference_key=True)
    spec: LossSpec = field(init=False, repr=False, compare=False,
                           metadata={"help": "the resolved loss-family member"})

    def __post_init__(self) -> None:
        sft_lr, lr = OFFLINE_LR if self.model is None else PRETRAINED_LR
        self.sft_lr = sft_lr if self.sft_lr is None else self.sft_lr
        self.lr = lr if self.lr is None else self.lr
        for name, choices in (("data", DATA_SOURCES), ("stage", STAGES), ("length", LENGTHS),
                              ("loss", LOSS_NAMES), ("holdout", HOLDOUTS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name}={getattr(self, name)!r} is unknown; choose one of "
                                  f"{choices}")
        if self.data != "offline" and not self.data_path:
            raise ConfigError(f"data={self.data!r} needs --data-path (a file or a dataset name)")
        try:
            self.spec = loss_spec(self.loss, self.f, self.form, self.alpha)
            if self.truth_f is not None:
                get_divergence(self.truth_f, self.alpha)
        except UserError as error:
            raise ConfigError(str(error)) from None
        self._check_admissible()
        self._check_numbers()
        self._check_paths()
        self._check_device()
        self._check_saved_models()

    def _check_admissible(self) -> None:
        """The conditions of Theorem 3.1 on the f of fdpo/iupo, as the simulator applies them
        (f(1) = 0, differentiable, convex, f''(1) > 0, f' strictly increasing) and f'(0+) = -oo,
        unless ``allow_inadmissible_f``; dpo and ipo use reverse KL."""
        if self.loss in FIXED_DIVERGENCE or self.allow_inadmissible_f:
            return
        failed = derive(self.spec.divergence).failure()
        if failed is None:
            return
        verdict = "could not be decided" if failed.method == "undecided" else "fails"
        meaning = (
            "the loss (eqs. 5, 24) cannot express those zeros, so its minimiser is not the UPO "
            "optimum"
            if failed.condition is Condition.INFINITE_AT_ZERO else
            "the UPO objective then has no optimum of Theorem 3.1 for the loss to recover")
        raise ConfigError(f"f={self.f!r}: {failed.name} {verdict} ({failed.detail}); {meaning}; "
                          "pass --allow-inadmissible-f to train with it anyway")

    def _check_numbers(self) -> None:
        for name in self.marked("bound", ">0"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be > 0")
        if not math.isfinite(self.beta):
            raise ConfigError(f"beta={self.beta!r} must be finite (with beta = inf the loss is "
                              "flat and nothing is learned), e.g. --beta 0.1")
        for name in self.marked("bound", ">=0"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.packing and self.forward_rows:
            raise ConfigError(f"forward_rows={self.forward_rows} cuts padded rows; packed "
                              "batches have none to cut: pass --no-packing to use it")
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
        if self.data == "offline" and self.offline_train_pairs < self.batch_size:
            raise ConfigError(
                f"offline_train_pairs={self.offline_train_pairs} is below "
                f"batch_size={self.batch_size}; raise it"
            )

    def _check_paths(self) -> None:
        for name in ("data_path", "eval_data_path"):
            location = getattr(self, name)
            if location and is_local(location) and not Path(location).expanduser().exists():
                raise ConfigError(f"{name}={location!r} is not a file or folder; check the path")
        if self.reference_cache is not None and self.stage != "pref":
            raise ConfigError("reference_cache needs --stage pref: only then is pi_ref a model "
                              "that other runs can start from too")
        if self.init is not None and not Path(self.init).is_dir():
            raise ConfigError(f"init={self.init!r} is not a folder; pass a saved model folder")

    def _check_device(self) -> None:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device={self.device!r} is unknown; use auto, cpu, cuda or cuda:N")

    def _check_saved_models(self) -> None:
        for name in ("init", "model"):
            location = getattr(self, name)
            if location and Path(location).is_dir():
                problem = _saved_model_problem(Path(location))
                if problem:
                    raise ConfigError(f"{name}={location!r} is not a saved model folder "
                                      f"({problem}); pass one that llm.train wrote, such as "
                                      "<run>/sft")

    @property
    def truth_divergence(self):  # -> upo_theory.Divergence
        """The divergence whose D_f(π, π_ref) the truth evaluation estimates."""
        if self.truth_f is None:
            return self.spec.divergence
        return get_divergence(self.truth_f, self.alpha)

    def resolved_run_name(self) -> str:
        if self.run_name:
            return self.run_name
        fixed = self.loss in FIXED_DIVERGENCE
        f = self.spec.divergence.name if fixed else self.f
        form = "std" if fixed else self.form
        return f"{self.data}-{self.loss}-{f}-{form}-b{self.beta:g}-s{self.seed}"

    @classmethod
    def marked(cls, mark: str, value: Any = True) -> tuple[str, ...]:
        """The fields whose ``metadata[mark]`` is ``value``, in declaration order: the one way
        the lists of fields sharing a fact (:data:`MARKS`) are made.

        Examples
        --------
        >>> "device" in TrainConfig.marked("resumable")
        True
        >>> TrainConfig.marked("bound", ">0")[:2]
        ('n_layer', 'n_embd')
        """
        if mark not in MARKS:
            raise KeyError(f"unknown field mark {mark!r}; known: {sorted(MARKS)}")
        return tuple(item.name for item in dataclasses.fields(cls)
                     if item.metadata.get(mark) == value)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default, as a run folder saved before the field existed would mean."""
        return {item.name: item.default for item in dataclasses.fields(cls) if item.init}

    def to_dict(self) -> dict[str, Any]:
        """The fields a user sets (not the resolved :attr:`spec`), as JSON-ready values."""
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)
                if item.init}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls(**json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _saved_model_problem(folder: Path) -> str | None:
    """What keeps ``folder`` from being a transformers model folder, or None."""
    try:
        settings = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:
        return "it has no config.json"
    except (OSError, ValueError) as error:
        return f"its config.json is unreadable: {error}"
    model_type = settings.get("model_type") if isinstance(settings, dict) else None
    if not model_type:
        return "its config.json names no model_type"
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        return f"transformers does not know its model_type {model_type!r}"
    return None


def build_parser():
    """The command line of ``python -m llm.train``, one option per :class:`TrainConfig` field."""
    return config_parser(
        TrainConfig, prog=PROG,
        description="SFT then preference training (DPO, IPO, f-DPO, IUPO) of a GPT-2 model.")


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse a command line into a validated :class:`TrainConfig`; exit 2 on a bad value."""
    return parse_config(TrainConfig, argv, build_parser())
