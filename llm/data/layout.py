"""The batch layout of a run: one value, decided once when the run starts and read everywhere.

:class:`BatchLayout` is ``padded`` (a right-padded row per sequence, :mod:`llm.data.batching`),
``packed`` (sequences end to end, :mod:`llm.data.packing`) or ``prefix`` (each pair's prompt
once, then both responses, pairs end to end, :mod:`llm.data.prefix_sharing`). :func:`choose`
turns ``--layout`` (``auto`` or a layout; ``--packing``/``--no-packing`` are ``packed``/``padded``)
into the layout for a model on a device; the session saves it in ``config.json``, a resumed run
takes the saved one, and the batches, π_ref's log-probs and the bench ask the value for their
batches (:meth:`BatchLayout.preference_batch`, :meth:`BatchLayout.sft_batch`).
"""

from __future__ import annotations

import enum

import torch

from ..config import ConfigError
from .batching import Batch, TokenizedPair, preference_batch, sft_batch
from .packing import (
    ATTENTION_WIDTH,
    PACKED_MODEL_TYPES,
    PackedBatch,
    packed_preference_batch,
    packed_sft_batch,
)
from .prefix_sharing import PREFIX_ATTENTION, PrefixBatch, prefix_preference_batch

PREFIX_MODEL_TYPES: tuple[str, ...] = PACKED_MODEL_TYPES
"""The ``model_type`` of every architecture whose prefix-shared log-probabilities and gradients
are tested equal to the padded layout's (``tests/llm/test_prefix_sharing.py``)."""

AnyBatch = Batch | PackedBatch | PrefixBatch


class BatchLayout(enum.Enum):
    """How a run lays its batches out (module notes)."""

    PADDED = "padded"
    PACKED = "packed"
    PREFIX = "prefix"

    def preference_batch(self, pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1,
                         attention: int = ATTENTION_WIDTH) -> AnyBatch:
        """The chosen then the rejected sequences of ``pairs`` (S = 2B) in this layout; packed
        rows weigh attention by ``attention`` (:func:`~llm.data.packing.pack_rows`)."""
        if self is BatchLayout.PREFIX:
            return prefix_preference_batch(pairs, pad_id, pad_to_multiple, attention)
        if self is BatchLayout.PACKED:
            return packed_preference_batch(pairs, pad_id, pad_to_multiple, attention)
        return preference_batch(pairs, pad_id, pad_to_multiple)

    def sft_batch(self, pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1,
                  attention: int = ATTENTION_WIDTH) -> Batch | PackedBatch:
        """The prompt + chosen sequences of ``pairs``: padded, else packed (one response per
        prompt has nothing to share, so the prefix layout's SFT stage packs)."""
        if self is BatchLayout.PADDED:
            return sft_batch(pairs, pad_id, pad_to_multiple)
        return packed_sft_batch(pairs, pad_id, pad_to_multiple, attention)


def takes_prefix_mask(model) -> bool:
    """Whether ``model``'s attention is tested to take the prefix layout's mask: an architecture
    of :data:`PREFIX_MODEL_TYPES` with an attention implementation of
    :data:`~llm.data.prefix_sharing.PREFIX_ATTENTION`.

    Parameters
    ----------
    model : transformers model
        The loaded policy.
    """
    config = model.config
    attention = getattr(config, "_attn_implementation", None) or "eager"
    return (getattr(config, "model_type", None) in PREFIX_MODEL_TYPES
            and attention in PREFIX_ATTENTION
            and not (attention == "eager" and _slices_a_causal_buffer(model)))


def _slices_a_causal_buffer(model) -> bool:
    """Whether an attention layer keeps a (1, 1, n, n) causal ``bias`` buffer that it slices by
    the row's length (GPT-2's eager attention in older transformers, 5.0 among them): a row
    wider than n breaks it, and rows of pairs end to end can be."""
    return any(isinstance(getattr(m, "bias", None), torch.Tensor) and m.bias.dim() == 4
               for m in model.modules())


def choose(requested: str, model, device: torch.device, forward_rows: int = 0) -> BatchLayout:
    """The layout of a run: ``requested`` (``padded``, ``packed`` or ``prefix``) as given, else
    (``auto``) where it is tested and measured to pay: on the CPU, ``prefix`` for a model that
    :func:`takes_prefix_mask` (llm/README.md measures it), else ``packed`` for an architecture of
    :data:`~llm.data.packing.PACKED_MODEL_TYPES`; ``padded`` with ``--forward-rows`` (it cuts
    padded rows) and on CUDA (unmeasured there until ``bench/gpu_check.sh`` measures it).

    Parameters
    ----------
    requested : {"auto", "padded", "packed", "prefix"}
        The layout asked for (``--batch-layout``).
    model : transformers model
        The loaded policy.
    device : torch.device
        Where it runs.
    forward_rows : int, optional
        ``--forward-rows`` (0: not set).

    Returns
    -------
    BatchLayout
        The layout.

    Raises
    ------
    ConfigError
        ``prefix`` for a model whose attention cannot take its mask.
    """
    if requested == "prefix" and not takes_prefix_mask(model):
        model_type = getattr(model.config, "model_type", None)
        instead = "packed" if model_type in PACKED_MODEL_TYPES else "padded"
        raise ConfigError(
            f"--layout prefix needs attention that takes a 4-D mask on a tested architecture "
            f"({', '.join(PREFIX_MODEL_TYPES)}; attention {', '.join(PREFIX_ATTENTION)}); this "
            f"model is {model_type!r} with "
            f"{getattr(model.config, '_attn_implementation', None)!r}: use --layout {instead}")
    if requested != "auto":
        return BatchLayout(requested)
    if device.type != "cpu" or forward_rows:
        return BatchLayout.PADDED
    if takes_prefix_mask(model):
        return BatchLayout.PREFIX
    if getattr(model.config, "model_type", None) in PACKED_MODEL_TYPES:
        return BatchLayout.PACKED
    return BatchLayout.PADDED
