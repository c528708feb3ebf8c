"""LoRA through ``peft``: low-rank adapters trained on a frozen model (``--lora-r`` > 0).

Only the adapters train, so AdamW keeps moments for them alone, and only they are checkpointed
and saved (``adapter_model.safetensors``, ``adapter_config.json``): ``sft/`` and ``checkpoint/``
hold a run's adapters, the frozen weights stay where ``--model`` (or ``--init``) names them.
π_ref is the same model with its adapters disabled (``with model.disable_adapter():``), never a
second copy. Between stages (:func:`fold_adapters`) the SFT adapters are merged into the weights
and fresh ones (B = 0, so the policy starts at π_ref) are added for the preference stage, whose
π_ref is then the SFT model. A resumed run rebuilds the same model from the start, the saved
adapters of the stages before, and the checkpoint's (:func:`with_saved_adapters`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..config import ConfigError, TrainConfig

MERGED = "merged"
"""With ``--lora-merge``: the run folder's copy of the final model, its adapters merged in."""
ALL_LINEAR = "all-linear"
"""peft's name for every linear layer but the output head."""


def check_peft(config: TrainConfig) -> None:
    """Refuse ``--lora-r`` without peft installed, before any work."""
    if not config.lora_r:
        return
    try:
        import peft  # noqa: F401
    except ImportError:
        raise ConfigError(f"lora_r={config.lora_r} needs peft: pip install -e '.[lora]'"
                          ) from None


def targets(config: TrainConfig) -> str | list[str]:
    """``--lora-target-modules`` as peft takes it: ``all-linear`` or a list of module names."""
    if config.lora_target_modules.strip().lower() == ALL_LINEAR:
        return ALL_LINEAR
    return [name.strip() for name in config.lora_target_modules.split(",") if name.strip()]


def check_targets(model: torch.nn.Module, wanted: str | list[str]) -> None:
    """Refuse target module names that no module of ``model`` ends with, naming the ones it has."""
    if wanted == ALL_LINEAR:
        return
    names = [name for name, _ in model.named_modules()]
    missing = [t for t in wanted if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        from transformers.pytorch_utils import Conv1D

        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                         if isinstance(m, torch.nn.Linear | Conv1D)})
        raise ConfigError(f"lora_target_modules: {type(model).__name__} has no module "
                          f"{', '.join(missing)}; its linear layers are {', '.join(linear)} "
                          f"(or pass {ALL_LINEAR})")


def add_adapters(model: torch.nn.Module, config: TrainConfig) -> Any:
    """``model`` with fresh LoRA adapters (seeded by ``config.seed``; B = 0, so the output is
    unchanged) on its ``--lora-target-modules``; only the adapters require gradients."""
    from peft import LoraConfig, get_peft_model

    wanted = targets(config)
    check_targets(model, wanted)
    settings = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                          target_modules=wanted, task_type="CAUSAL_LM")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return get_peft_model(model, settings)


def load_adapters(model: torch.nn.Module, folder: Path, trainable: bool) -> Any:
    """``model`` with the adapters saved in ``folder`` (trainable or frozen)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(folder), is_trainable=trainable)


def merge_adapters(model: Any) -> torch.nn.Module:
    """The plain model with its adapters merged into its weights (in place, no copy)."""
    return model.merge_and_unload()


def fold_adapters(model: Any, config: TrainConfig) -> Any:
    """Merge the finished stage's adapters into the weights and add fresh ones for the next."""
    return add_adapters(merge_adapters(model), config)


def with_saved_adapters(start: torch.nn.Module, config: TrainConfig, earlier: list[Path],
                        checkpoint: Path | None) -> Any:
    """The model a LoRA run continues from: ``start`` with the adapters of the ``earlier``
    stages' folders merged in, then the ``checkpoint``'s adapters (trainable), or fresh ones."""
    model = start
    for folder in earlier:
        model = merge_adapters(load_adapters(model, folder, trainable=False))
    if checkpoint is None:
        return add_adapters(model, config)
    return load_adapters(model, checkpoint, trainable=True)


def causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers causal LM inside a peft model (``model`` itself otherwise)."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model
