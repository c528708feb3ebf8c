"""Padding-free batches: many sequences end to end in a few token rows.

A :class:`PackedBatch` holds the S sequences of a batch (for a preference batch the B prompt +
chosen sequences, then the B prompt + rejected ones, as :func:`~llm.data.batching.preference_batch`
orders its rows) in P rows of one width W, packed first-fit decreasing (:func:`pack_rows`). Its
position ids restart at 0 at each sequence's first token, and the model is called with them and
without an attention mask: transformers (5.x, ``masking_utils.find_packed_sequence_indices``) reads
a position id that does not follow its left neighbour as the start of a new sequence and builds a
block-causal mask, so no token attends across a sequence boundary (SDPA, eager and flex get the
mask; flash-attention-2 runs varlen). Positions after a row's last sequence hold padding with
position id 0, each its own one-token sequence, never scored.

``targets[p, i]`` is the token at ``i + 1`` of the same row, as in a padded :class:`Batch`; the
sequence that starts at column ``o`` with prompt length ``m`` and ``n`` response tokens has its
response scored at columns ``o + m - 1 .. o + m + n - 2``: its last column predicts the next
sequence's first token and is not a response position. ``response_slot`` places each scored
position (row-major order) at ``s * L + k`` of an (S, L) table, sequence ``s``'s ``k``-th
response token (L the longest response), whose row sums are ``log π(y|x) = Σ_k log π(y_k | x,
y_<k)`` of each sequence in the batch's order; :class:`~llm.engine.scoring.SequenceScorer`
computes them. The values equal the padded layout's up to float rounding
(tests/llm/test_packing.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .batching import TokenizedPair

ATTENTION_WIDTH = 6 * 768
"""Row width at which one position's attention scores cost as much as its projections, 6 d for a
model of width d (:func:`attention_width`; this one GPT-2 124M's). :func:`pack_rows` weighs a
wider row's quadratic attention with it when it trades rows for width; any layout gives the same
log-probabilities."""


PACKED_MODEL_TYPES: tuple[str, ...] = ("gpt2", "llama", "qwen2", "gpt_neox")
"""The ``model_type`` of every architecture whose packed log-probabilities and gradients are
tested equal to the padded layout's (``tests/llm/test_packing.py``); ``--layout auto``
(:func:`llm.data.layout.choose`) packs only these (a model whose attention ignored restarting
position ids would let sequences see each other, silently)."""


def attention_width(model) -> int:
    """6 d for ``model`` of hidden size d: per position and layer the projections cost 24 d²
    FLOPs, the attention scores and their weighted sum 4 d W over a row of width W.

    Parameters
    ----------
    model : transformers model
        A model whose config has ``hidden_size``.
    """
    return 6 * int(model.config.hidden_size)


@dataclass
class PackedBatch:
    """S sequences in P rows of width W: token ids, restarting positions and scored positions.

    Parameters
    ----------
    input_ids : torch.Tensor of long, shape (P, W)
        The token ids.
    position_ids : torch.Tensor of long, shape (P, W)
        0 at each sequence's first token and at padding.
    attention_mask : torch.Tensor of long, shape (P, W)
        1 at real tokens.
    targets : torch.Tensor of long, shape (P, W)
        ``input_ids`` shifted left by one within the row.
    response_mask : torch.Tensor of bool, shape (P, W)
        Whether ``targets[p, i]`` is a response token.
    response_slot : torch.Tensor of long, shape (N,)
        Where each scored position goes in an (S, L) array of response tokens, row-major.
    counts : torch.Tensor of long, shape (S,)
        The response tokens of each sequence.
    """

    input_ids: torch.Tensor  # (P, W) long
    position_ids: torch.Tensor  # (P, W) long: 0 at each sequence's first token and at padding
    attention_mask: torch.Tensor  # (P, W) long: 1 at real tokens (what throughput counts)
    targets: torch.Tensor  # (P, W) long: input_ids shifted left by one within the row
    response_mask: torch.Tensor  # (P, W) bool: targets[p, i] is a response token
    response_slot: torch.Tensor  # (N,) long: s * L + k of each scored position, row-major
    counts: torch.Tensor  # (S,) long: response tokens of each sequence, in the batch's order

    def to(self, device: torch.device | str) -> PackedBatch:
        return PackedBatch(*(t.to(device) for t in (
            self.input_ids, self.position_ids, self.attention_mask, self.targets,
            self.response_mask, self.response_slot, self.counts)))

    @property
    def sequences(self) -> int:
        """S: the sequences the batch scores (rows of the padded layout)."""
        return self.counts.shape[0]


def pack_rows(lengths: list[int], multiple: int = 1, attention: int = ATTENTION_WIDTH
              ) -> tuple[list[list[int]], int]:
    """Sequences of ``lengths`` in rows of one width (a multiple of ``multiple``), first-fit
    decreasing; of the widths from the longest sequence up to the whole batch in one row, the
    one of least cost: positions, each with attention over the row weighed by ``attention``
    (:data:`ATTENTION_WIDTH`). Returns the rows (positions into ``lengths``) and the width.

    Parameters
    ----------
    lengths : list of int
        The sequences' lengths.
    multiple : int, optional
        The row width is a multiple of this.
    attention : int, optional
        The weight of attention per pair of positions (:func:`attention_width`).

    Returns
    -------
    rows : list of list of int
        The positions into ``lengths`` in each row.
    width : int
        The rows' width.
    """
    longest = _round_up(max(lengths), multiple)
    total = sum(lengths)
    best: tuple[float, list[list[int]], int] | None = None
    for count in range(-(-total // longest), 0, -1):
        width = max(longest, _round_up(-(-total // count), multiple))
        rows = _first_fit_decreasing(lengths, width)
        while True:
            cost = len(rows) * width * (1 + width / attention)
            if best is None or cost < best[0]:
                best = (cost, rows, width)
            if len(rows) <= count:
                break
            width = _round_up(width + max(1, width // 100), multiple)  # widen until they fit
            rows = _first_fit_decreasing(lengths, width)
        if count > 1 and total * (1 + total / (count - 1) / attention) >= best[0]:
            break  # fewer, wider rows cannot cost less
    assert best is not None
    return best[1], best[2]


def _first_fit_decreasing(lengths: list[int], width: int) -> list[list[int]]:
    rows: list[list[int]] = []
    free: list[int] = []
    for k in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        slot = next((r for r, room in enumerate(free) if room >= lengths[k]), None)
        if slot is None:
            rows.append([])
            free.append(width)
            slot = len(rows) - 1
        rows[slot].append(k)
        free[slot] -= lengths[k]
    return rows


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def pack(sequences: list[tuple[list[int], list[int]]], pad_id: int, pad_to_multiple: int = 1,
         attention: int = ATTENTION_WIDTH) -> PackedBatch:
    """``(prompt ids, response ids)`` sequences packed padding-free (module notes); the row
    width is a multiple of ``pad_to_multiple`` (bounding the shapes a compiled model sees) and
    chosen by :func:`pack_rows` with ``attention``.

    Parameters
    ----------
    sequences : list of (list of int, list of int)
        ``(prompt ids, response ids)`` of each sequence.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        The row width is a multiple of this.
    attention : int, optional
        As for :func:`pack_rows`.

    Returns
    -------
    PackedBatch
        The packed rows.
    """
    lengths = [len(p) + len(r) for p, r in sequences]
    rows, width = pack_rows(lengths, pad_to_multiple, attention)
    longest_response = max(1, max(len(r) for _, r in sequences))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    response = torch.zeros((len(rows), width), dtype=torch.bool)
    slots = torch.full((len(rows), width), -1, dtype=torch.long)
    for r, row in enumerate(rows):
        offset = 0
        for s in row:
            prompt, answer = sequences[s]
            end = offset + lengths[s]
            input_ids[r, offset:end] = torch.tensor(prompt + answer, dtype=torch.long)
            positions[r, offset:end] = torch.arange(lengths[s])
            attention[r, offset:end] = 1
            # column i predicts column i + 1: the response sits at offset + m .. end - 1
            scored = slice(offset + len(prompt) - 1, end - 1)
            response[r, scored] = True
            slots[r, scored] = s * longest_response + torch.arange(len(answer))
            offset = end
    targets = torch.roll(input_ids, shifts=-1, dims=1)
    counts = torch.tensor([len(r) for _, r in sequences], dtype=torch.long)
    return PackedBatch(input_ids, positions, attention, targets, response, slots[response],
                       counts)


def packed_preference_batch(pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1,
                            attention: int = ATTENTION_WIDTH) -> PackedBatch:
    """Chosen sequences then rejected ones of ``pairs``, packed: S = 2B sequences.

    Parameters
    ----------
    pairs : list of TokenizedPair
        The B pairs.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        The row width is a multiple of this.
    attention : int, optional
        As for :func:`pack_rows`.

    Returns
    -------
    PackedBatch
        2B sequences.
    """
    rows = [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs]
    return pack(rows, pad_id, pad_to_multiple, attention)


def packed_sft_batch(pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1,
                     attention: int = ATTENTION_WIDTH) -> PackedBatch:
    """Prompt + chosen response sequences, packed (prompt tokens are not scored).

    Parameters
    ----------
    pairs : list of TokenizedPair
        The pairs, of which the chosen responses are used.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        The row width is a multiple of this.
    attention : int, optional
        As for :func:`pack_rows`.

    Returns
    -------
    PackedBatch
        One sequence per pair.
    """
    return pack([(p.prompt, p.chosen) for p in pairs], pad_id, pad_to_multiple, attention)

