"""Prefix-shared preference batches: each pair's prompt computed once, for both its responses.

A :class:`PrefixBatch` lays pair ``j`` out as one unit of ``m + c + r`` tokens: its prompt
(``m`` tokens, position ids ``0 .. m-1``), its chosen response (positions ``m .. m+c-1``), then
its rejected response, whose position ids continue from the prompt's end (``m .. m+r-1``) as if
it followed the prompt directly. Units are packed end to end in P rows of one width W
(:func:`~llm.data.packing.pack_rows`, as the packed layout packs sequences), so there is no
padding beyond the rows' tails. Attention is block-sparse (:func:`allowed`): a token sees the
earlier tokens of its own unit that are its prompt or its own response, so chosen tokens attend
to the prompt and earlier chosen tokens, rejected tokens to the prompt and earlier rejected
tokens, never to the chosen. Every token of a row's tail (padding) is a one-token unit of its
own that sees only itself (never an empty softmax row, whose NaN would reach the gradients).

Scoring: the prompt's last column predicts both responses' first tokens, so that column is
scored twice from the same logits row, once against each target. ``scored`` lists the flat
positions (``p * W + i``) whose logits are needed, each once; ``token_row`` points each scored
token at its row of ``scored``, ``token_target`` is its token and ``response_slot`` its place
``s * L + k`` in an (S, L) table (``s`` the sequence in the padded layout's order: the B chosen
sequences, then the B rejected ones; ``L`` the longest response), whose row sums are
``log π(y|x)``. :class:`~llm.engine.scoring.SequenceScorer` computes them; they equal the
padded layout's up to float rounding (``tests/llm/test_prefix_sharing.py``).

The mask reaches the model as an explicit 4-D ``attention_mask``, which transformers 5 passes
through unchanged (``masking_utils._preprocess_mask_arguments`` returns a 4-D mask as it is):
:func:`model_mask` builds it for the model's attention implementation: a boolean (P, 1, W, W)
mask for SDPA, an additive float one for eager attention and a FlexAttention ``BlockMask`` for
``flex_attention`` (its block sparsity skips the masked blocks; the dense masks compute them and
discard them). Flash-attention-2 takes no such mask: :data:`PREFIX_ATTENTION` lists those that do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .batching import TokenizedPair
from .packing import ATTENTION_WIDTH, pack_rows

PREFIX_ATTENTION: tuple[str, ...] = ("sdpa", "eager", "flex_attention")
"""Attention implementations (``config._attn_implementation``) that take an explicit 4-D mask."""

PROMPT, CHOSEN, REJECTED = 0, 1, 2
"""The part of a unit a token belongs to (``PrefixBatch.part``)."""


@dataclass
class PrefixBatch:
    """B pairs as P rows of W prompt-chosen-rejected units: tokens, positions, the attention
    pattern's inputs (unit and part of each token) and the scored positions.

    Parameters
    ----------
    input_ids : torch.Tensor of long, shape (P, W)
        The token ids.
    position_ids : torch.Tensor of long, shape (P, W)
        The positions; the rejected response continues from the prompt.
    attention_mask : torch.Tensor of long, shape (P, W)
        1 at real tokens.
    unit, part : torch.Tensor of long, shape (P, W)
        Each token's unit (its pair, or one padding token) and part (prompt, chosen or rejected).
    scored : torch.Tensor of long, shape (U,)
        The flat positions whose logits are needed, once each.
    token_row, token_target : torch.Tensor of long, shape (N,)
        Each scored token's row of ``scored`` and its token id.
    response_slot : torch.Tensor of long, shape (N,)
        Where each scored token goes in an (S, L) array of response tokens.
    counts : torch.Tensor of long, shape (S,)
        The response tokens of each sequence, chosen then rejected.
    """

    input_ids: torch.Tensor  # (P, W) long
    position_ids: torch.Tensor  # (P, W) long: the rejected response continues from the prompt
    attention_mask: torch.Tensor  # (P, W) long: 1 at real tokens (what throughput counts)
    unit: torch.Tensor  # (P, W) long: the unit (pair, or one padding token) of each token
    part: torch.Tensor  # (P, W) long: PROMPT, CHOSEN or REJECTED (padding: PROMPT)
    scored: torch.Tensor  # (U,) long: flat positions p * W + i whose logits are needed, once each
    token_row: torch.Tensor  # (N,) long: each scored token's row of ``scored``
    token_target: torch.Tensor  # (N,) long: each scored token's token id
    response_slot: torch.Tensor  # (N,) long: s * L + k of each scored token
    counts: torch.Tensor  # (S,) long: response tokens of each sequence, chosen then rejected

    def to(self, device: torch.device | str) -> PrefixBatch:
        return PrefixBatch(*(t.to(device) for t in (
            self.input_ids, self.position_ids, self.attention_mask, self.unit, self.part,
            self.scored, self.token_row, self.token_target, self.response_slot, self.counts)))

    @property
    def sequences(self) -> int:
        """S = 2B: the sequences the batch scores (rows of the padded layout)."""
        return self.counts.shape[0]

    @property
    def response_mask(self) -> torch.Tensor:
        """(N,) true per scored token: its sum is the batch's response tokens (the SFT weight;
        the same count as a padded batch's ``response_mask.sum()``)."""
        return torch.ones_like(self.token_target, dtype=torch.bool)


def prefix_preference_batch(pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1,
                            attention: int = ATTENTION_WIDTH) -> PrefixBatch:
    """``pairs`` laid out prefix-shared (module notes); the row width is a multiple of
    ``pad_to_multiple`` and chosen by :func:`~llm.data.packing.pack_rows` with ``attention``.

    Parameters
    ----------
    pairs : list of TokenizedPair
        The B pairs.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        The row width is a multiple of this.
    attention : int, optional
        As for :func:`~llm.data.packing.pack_rows`.

    Returns
    -------
    PrefixBatch
        The prefix-shared rows.
    """
    lengths = [len(p.prompt) + len(p.chosen) + len(p.rejected) for p in pairs]
    rows, width = pack_rows(lengths, pad_to_multiple, attention)
    n = len(pairs)
    longest = max(1, max(max(len(p.chosen), len(p.rejected)) for p in pairs))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    real = torch.zeros((len(rows), width), dtype=torch.long)
    part = torch.zeros((len(rows), width), dtype=torch.long)
    unit = n + torch.arange(len(rows) * width).view(len(rows), width)  # padding: its own unit
    scored: list[int] = []
    token_row: list[int] = []
    targets: list[int] = []
    slots: list[int] = []
    for r, row in enumerate(rows):
        offset = 0
        for j in row:
            pair = pairs[j]
            m, c, k = len(pair.prompt), len(pair.chosen), len(pair.rejected)
            end = offset + lengths[j]
            input_ids[r, offset:end] = torch.tensor(pair.prompt + pair.chosen + pair.rejected)
            positions[r, offset:end] = torch.cat([torch.arange(m + c), torch.arange(m, m + k)])
            real[r, offset:end] = 1
            unit[r, offset:end] = j
            part[r, offset + m: offset + m + c] = CHOSEN
            part[r, offset + m + c: end] = REJECTED
            last_prompt = r * width + offset + m - 1  # predicts both responses' first tokens
            scored.append(last_prompt)
            shared = len(scored) - 1
            for sequence, start, response in ((j, offset + m, pair.chosen),
                                              (n + j, offset + m + c, pair.rejected)):
                # response token t (t >= 1) is predicted at the column of token t - 1
                columns = [r * width + start + t - 1 for t in range(1, len(response))]
                token_row += [shared, *range(len(scored), len(scored) + len(columns))]
                scored += columns
                targets += response
                slots += [sequence * longest + t for t in range(len(response))]
            offset = end
    counts = torch.tensor([len(p.chosen) for p in pairs] + [len(p.rejected) for p in pairs],
                          dtype=torch.long)
    return PrefixBatch(input_ids, positions, real, unit, part, torch.tensor(scored),
                       torch.tensor(token_row), torch.tensor(targets), torch.tensor(slots),
                       counts)


def allowed(unit: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """(P, W, W) bool: whether the query at column q may attend to the key at column k: the
    same unit, k <= q, and the key is a prompt token or of the query's own part.

    Parameters
    ----------
    unit, part : torch.Tensor of long, shape (P, W)
        As in :class:`PrefixBatch`.
    """
    width = unit.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool, device=unit.device).tril()
    same_unit = unit[:, :, None] == unit[:, None, :]
    visible_part = (part[:, None, :] == PROMPT) | (part[:, None, :] == part[:, :, None])
    return same_unit & visible_part & causal


def model_mask(batch: PrefixBatch, implementation: str, dtype: torch.dtype):
    """The batch's attention pattern in the form ``implementation`` takes as a custom 4-D mask:
    a FlexAttention ``BlockMask`` for ``flex_attention``, an additive ``dtype`` mask (0 where
    attended, the dtype's minimum elsewhere, as transformers' own ``eager_mask``) for ``eager``,
    else (SDPA) a boolean (P, 1, W, W) mask, true where attended.

    Parameters
    ----------
    batch : PrefixBatch
        The batch.
    implementation : str
        The model's attention implementation (``flex_attention``, ``eager``, ``sdpa``).
    dtype : torch.dtype
        The dtype of an additive mask.
    """
    if implementation == "flex_attention":
        return flex_block_mask(batch)
    mask = allowed(batch.unit, batch.part)[:, None]  # (P, 1, W, W)
    if implementation == "eager":
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            ~mask, torch.finfo(dtype).min)
    return mask


def flex_block_mask(batch: PrefixBatch):
    """:func:`allowed` as a FlexAttention ``BlockMask`` (computed per block, never dense).

    Parameters
    ----------
    batch : PrefixBatch
        The batch.
    """
    from torch.nn.attention.flex_attention import create_block_mask

    rows, width = batch.unit.shape
    return create_block_mask(mask_mod(batch.unit, batch.part), rows, None, width, width,
                             device=batch.unit.device)


def mask_mod(unit: torch.Tensor, part: torch.Tensor):
    """:func:`allowed` as FlexAttention's ``mask_mod(b, h, q, k)``, one query and key at a time.

    Parameters
    ----------
    unit, part : torch.Tensor of long, shape (P, W)
        As in :class:`PrefixBatch`.
    """

    def allowed_at(b, h, q, k):
        return ((unit[b, q] == unit[b, k]) & (k <= q)
                & ((part[b, k] == PROMPT) | (part[b, k] == part[b, q])))

    return allowed_at
