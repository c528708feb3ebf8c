"""The one typed configuration of a training run: a schema, from which the CLI is generated.

Every field is written with :func:`upo_theory.cli.option`: its default, its help text, its
``choices`` where it has them (stated once, and checked from there) and the facts other parts of
``llm`` need about it (:data:`MARKS`: whether a ``--resume`` may change it, whether π_ref's
log-probs depend on it, whether the experiment sets it, its numeric range), so adding a field is
one place to decide them. :func:`upo_theory.cli.config_parser` turns the fields into options
(``data_path`` -> ``--data-path``), so a flag and its field cannot drift apart.
:class:`TrainConfig` validates its values and their combinations in ``__post_init__``, resolves
its loss-family member once (:attr:`TrainConfig.spec`, a :class:`upo_theory.LossSpec`) and is
saved as ``config.json`` in every run folder and as ``run_config.json`` beside every saved model.

What the config cannot know by itself is checked where that knowledge lives, still before any
work starts (:func:`llm.run.check_before_work`): whether a local data location exists
(:mod:`llm.data.locations`), whether the offline model fits in memory and whether a model folder
is one (:mod:`llm.engine.model`), whether peft is installed for ``--lora-r``
(:mod:`llm.engine.lora`). The command line itself is built by :mod:`llm.train`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upo_theory import (
    FIXED_DIVERGENCE,
    LOSS_NAMES,
    LossSpec,
    UserError,
    get_divergence,
    loss_spec,
)
from upo_theory.cli import ConfigRecord, check_writable, option

from .ignored_options import refusal
from .losses import check_admissible

DATA_SOURCES: tuple[str, ...] = ("offline", "hh", "shp", "jsonl")
STAGES: tuple[str, ...] = ("sft", "pref", "both")
STAGE_ORDER: tuple[str, ...] = ("sft", "pref")
"""The stages of a run in the order they train (``both`` trains them all)."""
LENGTHS: tuple[str, ...] = ("sum", "mean")
HOLDOUTS: tuple[str, ...] = ("eval", "validation")
OFFLINE_LR = (5e-3, 1e-4)
"""(SFT, preference) learning rates of the small randomly initialised offline architecture, on
the offline task: the preference rate is the one the experiment's selection chose for every
method (docs/results/selection.csv); at 1e-3 a run's outcome swung with float rounding (KL 0.79
on one CPU, 6.40 on another)."""
PRETRAINED_LR = (2e-5, 1e-6)
"""(SFT, preference) learning rates for a pretrained ``--model`` (those of TRL's SFT and DPO
configs): the offline rates would wreck pretrained weights in a few steps."""


class ConfigError(UserError):
    """A configuration value that cannot work; the message names the field and the fix."""


MARKS: dict[str, str] = {
    "resumable": "a --resume may change it: it changes how, not what, the run computes",
    "reference_key": "pi_ref's log-probabilities depend on it (the --reference-cache key)",
    "swept": "llm.experiment sets it for each run itself",
    "bound": "its numeric range, checked when the config is made: '>0' or '>=0'",
    "auto": "None (or 'auto') chooses when the run starts, and the run saves its choice; a "
            "--resume that leaves it so takes the saved one",
}
"""The facts a :class:`TrainConfig` field carries in its metadata besides ``help`` and ``choices``
(which :func:`upo_theory.cli.config_parser` reads); each list of fields that shares one is derived
from the fields (:meth:`TrainConfig.marked`), never restated. An unknown mark is refused when the
class is made (:func:`_check_marks`)."""


@dataclass
class TrainConfig(ConfigRecord):
    """Everything a run needs; validated when made (see the field help for each meaning)."""
    # The data: where the pairs come from, and what is held out.
    data: str = option("offline", "data source", choices=DATA_SOURCES, reference_key=True)
    data_path: str | None = option(
        None, "for hh/shp/jsonl: a file (.jsonl, .json, .jsonl.gz, .parquet), a folder of shards, "
              "a save_to_disk folder, or a hub dataset owner/name[/data_dir][:split]",
        reference_key=True)
    eval_data_path: str | None = option(
        None, "held-out data for hh/shp/jsonl (the same kinds of location as --data-path; a hub "
              "name reads its test/validation split); default: hold out --eval-fraction of the "
              "prompts", reference_key=True)
    eval_fraction: float = option(
        0.1, "share of prompts held out for evaluation (hh/shp/jsonl) or for validation "
             "(--holdout validation)", reference_key=True)
    holdout: str = option(
        "eval", "what the run evaluates on: the held-out evaluation pairs, or validation pairs "
                "from held-out training prompts (to choose settings such as the learning rate "
                "without looking at the evaluation pairs; no truth evaluation then)",
        choices=HOLDOUTS, reference_key=True, swept=True)
    # The model.
    model: str | None = option(
        None, "model name or local folder; default: a GPT-2 architecture built from a GPT2Config",
        reference_key=True)
    n_layer: int = option(
        2, "layers of the offline GPT-2 architecture", reference_key=True, bound=">0")
    n_embd: int = option(
        128, "width of the offline GPT-2 architecture", reference_key=True, bound=">0")
    n_head: int = option(
        4, "attention heads of the offline GPT-2 architecture", reference_key=True, bound=">0")
    dropout: float = option(0.0, "dropout probability set on every dropout layer of the model")
    # The loss-family member and its regularisation.
    loss: str = option(
        "iupo", "loss (dpo and ipo fix f = reverse KL)", choices=LOSS_NAMES, swept=True)
    f: str = option(
        "js", "divergence generator: a registered name (js, rkl, alpha, ...) or f(u)", swept=True)
    alpha: float | None = option(None, "parameter of the alpha-divergence", swept=True)
    form: str = option(
        "per_response", "pair statistic form for fdpo/iupo: per_response (the KKT form, eq. 17; "
                        "default because the simulator and docs/results/experiment.md measured "
                        "the paper form missing pi*) or paper (eqs. 23-26)", swept=True)
    allow_inadmissible_f: bool = option(
        False, "train fdpo/iupo with an f that fails Theorem 3.1's conditions (research on "
               "purpose: the loss's minimiser is then not the UPO optimum)")
    beta: float = option(0.1, "regularisation strength beta (> 0, finite)", swept=True, bound=">0")
    length: str = option(
        "sum", "sequence log-prob: sum over tokens (the paper) or per-token mean", choices=LENGTHS)
    # What to train, and how: steps, batches, learning rates, sequence length.
    stage: str = option("both", "what to train", choices=STAGES, reference_key=True, swept=True)
    init: str | None = option(
        None, "folder of a saved model to start from (e.g. <run>/sft)",
        reference_key=True, swept=True)
    sft_steps: int = option(
        400, "optimizer steps of supervised fine-tuning on the chosen responses", bound=">=0")
    pref_steps: int = option(
        200, "optimizer steps of preference training", reference_key=True, bound=">=0")
    batch_size: int = option(
        16, "global batch size of preference training in pairs (split over processes)",
        reference_key=True, bound=">0")
    sft_batch_size: int = option(
        32, "global batch size of supervised fine-tuning in pairs", bound=">0")
    lr: float | None = option(
        None, f"peak learning rate of preference training (AdamW); default {OFFLINE_LR[1]:g} for "
              f"the offline architecture (random init), {PRETRAINED_LR[1]:g} with --model",
        swept=True, bound=">0")
    sft_lr: float | None = option(
        None, f"peak learning rate of supervised fine-tuning (AdamW); default {OFFLINE_LR[0]:g} "
              f"for the offline architecture, {PRETRAINED_LR[0]:g} with --model", bound=">0")
    warmup_steps: int = option(10, "linear warm-up steps at the start of each stage", bound=">=0")
    weight_decay: float = option(0.0, "AdamW weight decay", bound=">=0")
    grad_clip: float = option(
        1.0, "clip the global gradient norm to this value (0 disables)", bound=">=0")
    max_length: int = option(
        96, "tokens of prompt + response; prompt cut from its start",
        reference_key=True, bound=">0")
    # Evaluation, logging and checkpoints.
    eval_every: int = option(
        50, "evaluate on the held-out split every N steps (and at the end)", bound=">0")
    eval_pairs: int = option(
        256, "at most this many held-out pairs per evaluation", reference_key=True, bound=">0")
    log_every: int = option(10, "log training metrics every N steps", bound=">0")
    save_every: int = option(
        100, "write a checkpoint every N steps (and at the end)", swept=True, bound=">0")
    # The run: its folder, seed and resumption.
    out_dir: str = option("runs", "folder that holds run folders", resumable=True)
    run_name: str | None = option(
        None, "run folder name; default: <data>-<loss>-<f>-<form>-b<beta>-s<seed>",
        resumable=True, swept=True)
    seed: int = option(
        0, "seed of data order, model init and the offline task (0 to 2^32 - 1)",
        reference_key=True, swept=True, bound=">=0")
    resume: bool = option(
        False, "continue the run in <out-dir>/<run-name> from its checkpoint",
        resumable=True, swept=True)
    # The device and the batch layout: how, not what, the run computes.
    device: str = option("auto", "auto (CUDA when present), cpu or cuda[:N]", resumable=True)
    micro_batch_size: int = option(
        0, "pairs per forward pass on each process; the process's share of the batch is split "
           "into micro-batches of similar lengths (less padding) whose gradients accumulate to "
           "the same step (0: one pass)", resumable=True, bound=">=0")
    forward_rows: int = option(
        0, "rows per forward pass inside a micro-batch: rows sorted by length run in chunks of "
           "this many, each only as wide as its longest row, so little compute goes to padding "
           "(0: all rows at once)", resumable=True, bound=">=0")
    deterministic: bool = option(
        True, "deterministic CUDA kernels, so a killed and resumed run ends bitwise equal to an "
              "uninterrupted one (cost measured in llm/README.md); --no-deterministic trades that "
              "for speed", resumable=True)
    compile: bool = option(
        False, "torch.compile the transformer body (sequence lengths padded to multiples of 64 to "
               "bound recompilation)", resumable=True)
    gradient_checkpointing: bool = option(
        False, "recompute activations in the backward pass: less memory, about a third more "
               "compute (for large models or long sequences)", resumable=True)
    threads: int = option(
        1, "CPU threads per process for torch (0: torch's default); one thread is fastest for "
           "small models on a shared CPU", resumable=True, swept=True, bound=">=0")
    # The offline task, pi_ref's shared cache, the truth evaluation and a debug stop.
    offline_train_pairs: int = option(
        4000, "training pairs of the offline task", reference_key=True, bound=">=0")
    offline_eval_pairs: int = option(
        300, "held-out pairs of the offline task", reference_key=True, bound=">=0")
    reference_cache: str | None = option(
        None, "with --stage pref: a file of pi_ref's log-probabilities that runs from the same "
              "start on the same data share (read when it was made for this run's settings, else "
              "computed and written); llm.experiment gives all runs of a seed one",
        resumable=True, swept=True)
    truth_eval_prompts: int = option(
        128, "held-out prompts sampled for the truth evaluation (0: skip)",
        resumable=True, bound=">=0")
    truth_every: int = option(
        0, "on the offline task, also evaluate the preference stage against the true reward every "
           "N steps (the reward-against-divergence frontier over training; 0: at the end only)",
        bound=">=0")
    truth_max_new_tokens: int = option(
        24, "tokens sampled per response in the truth evaluation", bound=">0")
    truth_f: str | None = option(
        None, "the f of the D_f(pi, pi_ref) the truth evaluation estimates; default: the f the "
              "loss regularises with (reverse KL for dpo and ipo)", swept=True)
    stop_after: int | None = option(
        None, "debug: stop (as if killed) right after the checkpoint at this global step",
        resumable=True, swept=True)
    # Past GPT-2: chat templates, LoRA and sharding (llm/README.md, Larger models).
    chat_template: bool = option(
        True, "render pairs through the tokenizer's chat template when it has one (HH turns "
              "become messages; only the response tokens are scored, as TRL does); "
              "--no-chat-template keeps the plain text format", reference_key=True)
    lora_r: int = option(
        0, "LoRA rank: train low-rank adapters (peft) on every --lora-target-modules layer of a "
           "frozen model; pi_ref is the model with its adapters disabled, and only the adapters "
           "are checkpointed and saved (0: full fine-tuning; needs pip install -e '.[lora]')",
        bound=">=0")
    lora_alpha: float = option(
        16.0, "LoRA scaling: the adapters' update is scaled by lora_alpha / lora_r", bound=">0")
    lora_target_modules: str = option(
        "all-linear", "layers that get adapters: comma-separated module names (q_proj,v_proj; "
                      "GPT-2: c_attn) or all-linear (every linear layer but the output head)")
    lora_merge: bool = option(
        False, "with --lora-r: also save <run>/merged, the final model with its adapters merged "
               "in (a plain save_pretrained folder)", resumable=True)
    packing: bool | None = option(
        None, "--packing is --layout packed, --no-packing --layout padded (kept for the command "
              "lines and run folders from before --layout; a run saves its layout in layout)",
        reference_key=True, auto=True)
    layout: str = option(
        "auto", "how batches are laid out: padded (a right-padded row per sequence), packed "
                "(sequences end to end in a few rows, position ids restarting at each, no "
                "padding), prefix (each pair's prompt once, then its chosen and its rejected "
                "response, each seeing the prompt and itself only; pairs packed; the SFT stage "
                "packs); auto: prefix on the CPU for the architectures it is tested on (GPT-2, "
                "Llama, Qwen2, GPT-NeoX with sdpa or eager attention), packed for those "
                "without, padded with --forward-rows and on CUDA (unmeasured there); a --resume "
                "keeps it, as it changes float rounding (speed measured in llm/README.md)",
        choices=("auto", "padded", "packed", "prefix"), reference_key=True, auto=True)
    fsdp: bool = option(
        False, "shard the model, its gradients and AdamW's state over torchrun's processes with "
               "FSDP2, each holding 1/N (launch: torchrun --nproc_per_node N -m llm.train --fsdp "
               "...); checkpoints are sharded too, so a --resume keeps it and the number of "
               "processes")
    spec: LossSpec = field(init=False, repr=False, compare=False,
                           metadata={"help": "the resolved loss-family member"})

    def __post_init__(self) -> None:
        sft_lr, lr = OFFLINE_LR if self.model is None else PRETRAINED_LR
        self.sft_lr = sft_lr if self.sft_lr is None else self.sft_lr
        self.lr = lr if self.lr is None else self.lr
        for item in dataclasses.fields(self):  # each field's choices, stated on the field
            choices = item.metadata.get("choices")
            if choices is not None and getattr(self, item.name) not in choices:
                raise ConfigError(f"{item.name}={getattr(self, item.name)!r} is unknown; choose "
                                  f"one of {choices}")
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
        self.check_given()
        self._check_names()
        self._check_paths()
        self._check_device()
        self._check_sharding()
        self._check_lora()

    def _check_admissible(self) -> None:
        """Theorem 3.1's conditions on the f of fdpo/iupo (:func:`llm.losses.check_admissible`),
        unless ``allow_inadmissible_f``."""
        try:
            check_admissible(self.spec, self.allow_inadmissible_f)
        except UserError as error:
            raise ConfigError(f"{error}; pass --allow-inadmissible-f to train with it "
                              "anyway") from None

    def _check_numbers(self) -> None:
        """Ranges (``bound`` marks; NaN fails both), finite floats, and the seed's range."""
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{item.name}={value!r} must be a finite number")
        for name in self.marked("bound", ">0"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be > 0")
        for name in self.marked("bound", ">=0"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.seed >= 2**32:
            raise ConfigError(f"seed={self.seed} is too large; give 0 to 2^32 - 1")
        if self.threads > _MAX_THREADS:
            raise ConfigError(f"threads={self.threads} is more than {_MAX_THREADS} (4 per CPU "
                              "of this machine); give fewer, or 0 for torch's default")
        alias = {None: self.layout, True: "packed", False: "padded"}[self.packing]
        if self.layout not in ("auto", alias):
            raise ConfigError(f"--{'' if self.packing else 'no-'}packing (--layout {alias}) and "
                              f"--layout {self.layout} disagree; give --layout alone")
        if self.forward_rows and alias in ("packed", "prefix"):
            raise ConfigError(f"forward_rows={self.forward_rows} cuts padded rows; {alias} "
                              "batches have none to cut: pass --layout padded to use it")
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
            raise ConfigError(f"offline_train_pairs={self.offline_train_pairs} is below "
                              f"batch_size={self.batch_size}; raise it")

    def check_given(self, given: frozenset[str] | set[str] = frozenset()) -> None:
        """Refuse an option the run would ignore (``given``: the command line's own fields): these
        rules (f for dpo/ipo, data paths, --truth-every, --init/--model), then ignored_options'."""
        if (self.loss in FIXED_DIVERGENCE and (self.f != _DEFAULTS["f"] or "f" in given)
                and get_divergence(self.f, self.alpha).name != self.spec.divergence.name):
            raise ConfigError(f"--f {self.f} is ignored by --loss {self.loss}, which fixes f = "
                              f"{self.spec.divergence.name}; drop --f, or use --loss fdpo/iupo")
        if "truth_every" in given and self.truth_every > 0 and self.data != "offline":
            raise ConfigError(f"--truth-every needs the offline task's true reward; --data "
                              f"{self.data} has none: drop --truth-every")
        if self.data == "offline":
            for name in ("data_path", "eval_data_path"):
                if getattr(self, name) is not None:
                    raise ConfigError(f"--{name.replace('_', '-')} is ignored by the offline task, "
                                      "which makes its own pairs; drop it, or give --data "
                                      "hh/shp/jsonl")
        if self.init is not None and self.model is not None:
            raise ConfigError("--init and --model both name the model to start from; give --init "
                              "(a saved folder) or --model, not both")
        if (message := refusal(self, given)) is not None:
            raise ConfigError(message)

    def _check_names(self) -> None:
        """A run name is one folder name: no separators, no '..', not absolute."""
        if self.run_name is not None and not _RUN_NAME.fullmatch(self.run_name):
            raise ConfigError(f"--run-name {self.run_name!r} is not a folder name; use letters, "
                              "digits and . _ + = - (not starting with '.'), e.g. --run-name "
                              "js-b0.1")

    def _check_paths(self) -> None:
        """The paths the config names by itself: the reference cache (pref only, writable) and
        ``--init`` (a folder); the data locations and model folders are checked before work by
        :func:`llm.run.check_before_work`."""
        if self.reference_cache is not None and self.stage != "pref":
            raise ConfigError("reference_cache needs --stage pref: only then is pi_ref a model "
                              "that other runs can start from too")
        if self.init is not None and not Path(self.init).is_dir():
            raise ConfigError(f"init={self.init!r} is not a folder; pass a saved model folder")
        if self.reference_cache is not None:
            try:
                check_writable(self.reference_cache, "--reference-cache")
            except UserError as error:
                raise ConfigError(str(error)) from None

    def _check_device(self) -> None:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device={self.device!r} is unknown; use auto, cpu, cuda or cuda:N")

    def _check_lora(self) -> None:
        if not self.lora_r:
            if self.lora_merge:
                raise ConfigError("lora_merge needs --lora-r > 0 (there are no adapters to merge)")
            return
        if not self.lora_target_modules.replace(",", "").strip():
            raise ConfigError("lora_target_modules is empty; name layers (q_proj,v_proj) or "
                              "pass all-linear")

    def _check_sharding(self) -> None:
        """What ``--fsdp`` does not support, refused: LoRA (its frozen base would be sharded
        beside unsharded adapters; not supported yet), ``--forward-rows`` and ``--compile``
        (ranks whose row counts differ would run different numbers of sharded forwards; the
        compiled body is untested under FSDP2) and ``--truth-every`` (the main process samples
        alone, which a sharded model cannot)."""
        if not self.fsdp:
            return
        if self.lora_r:
            raise ConfigError("--fsdp with --lora-r is not supported yet; LoRA keeps the "
                              "frozen model whole and trains only adapters: drop --fsdp")
        for name in ("forward_rows", "compile", "truth_every"):
            if getattr(self, name):
                raise ConfigError(f"--fsdp with --{name.replace('_', '-')} is not supported; "
                                  "drop one of them")

    def resolved_run_name(self) -> str:
        """``--run-name``, or one made from the settings (an f such as ``1/u - 1`` made safe as
        one folder name)."""
        if self.run_name:
            return self.run_name
        fixed = self.loss in FIXED_DIVERGENCE
        f = self.spec.divergence.name if fixed else re.sub(r"[^A-Za-z0-9.+=-]+", "_", self.f)
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


def _check_marks(cls: type) -> None:
    """Refuse a field of ``cls`` that carries a mark other than ``help``, ``choices`` and
    :data:`MARKS` (a misspelt mark would silently leave the field off its lists)."""
    for item in dataclasses.fields(cls):
        unknown = set(item.metadata) - set(MARKS) - {"help", "choices"}
        if unknown:
            raise TypeError(f"{cls.__name__}.{item.name}: unknown field marks {sorted(unknown)}; "
                            f"known: {sorted(MARKS)}")


_check_marks(TrainConfig)
_DEFAULTS = TrainConfig.defaults()
_RUN_NAME = re.compile(r"[A-Za-z0-9_+=-][A-Za-z0-9._+=-]{0,199}")
_MAX_THREADS = 4 * (os.cpu_count() or 1)

