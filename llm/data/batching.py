"""Tokenised pairs and the padded batches the trainer feeds the model.

Truncation (within ``max_length`` tokens of prompt + response): when the prompt and the longer
response do not fit, the prompt keeps its last ``max_length // 2`` tokens, then each response
keeps its first ``max_length - len(prompt)`` tokens. Every response ends with the end-of-text
token (when it fits); an empty prompt becomes the end-of-text token (GPT-2's
beginning of text). A pair whose response would be left empty, or whose two responses become
identical after truncation, is dropped and counted.

A :class:`Batch` lays rows out right-padded, shape (R, T), with ``targets[r, i]`` the token at
position ``i + 1`` and ``response_mask[r, i]`` true when that token is a response token: the
positions whose next-token log-probability enters ``log π(y|x)``. For a preference batch the R = 2B
rows are the B chosen sequences followed by the B rejected ones (one concatenated forward).

Order: global batch number k of a stage is :func:`batch_indices` ``(n, size, seed, k)``, a seeded
permutation per epoch (drop last), so a resumed run draws exactly the batches it would have drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .chat import chat_token_ids
from .pairs import PreferencePair


@dataclass(frozen=True)
class TokenizedPair:
    """Token ids of one pair after truncation.

    Parameters
    ----------
    prompt, chosen, rejected : list of int
        The token ids of the prompt and of the two responses.
    """

    prompt: list[int]
    chosen: list[int]
    rejected: list[int]

    @property
    def length(self) -> int:
        """Positions of the pair's longer row (what its padded batch width must hold)."""
        return len(self.prompt) + max(len(self.chosen), len(self.rejected))


@dataclass
class TokenizeReport:
    """How many pairs were kept, and how many dropped (empty or identical after truncation).

    Parameters
    ----------
    kept : int
        The pairs kept.
    dropped_empty, dropped_identical : int
        The pairs dropped because a response was empty, or the two were identical, after
        truncation.
    """

    kept: int = 0
    dropped_empty: int = 0
    dropped_identical: int = 0


def truncate(prompt: list[int], responses: list[list[int]], max_length: int
             ) -> tuple[list[int], list[list[int]]]:
    """Keep the prompt from its end and the responses from their start within ``max_length``.

    Parameters
    ----------
    prompt : list of int
        The prompt's token ids.
    responses : list of list of int
        The responses' token ids.
    max_length : int
        The most tokens of prompt plus the longest response.

    Returns
    -------
    prompt, responses
        The truncated ids (the prompt keeps at most half of ``max_length`` when they must be cut).
    """
    longest = max(len(r) for r in responses)
    if len(prompt) + longest > max_length:
        prompt = prompt[-(max_length // 2):]
        budget = max_length - len(prompt)
        responses = [r[:budget] for r in responses]
    return prompt, responses


def tokenize_pairs(
    pairs: list[PreferencePair], tokenizer, max_length: int, chat: bool = False
) -> tuple[list[TokenizedPair], TokenizeReport]:
    """Tokenise prompt and responses separately, append end-of-text, truncate, drop and count.

    With ``chat``, the pairs are rendered through the tokenizer's chat template instead
    (:func:`llm.data.chat.chat_token_ids`), whose turns end without an appended end-of-text.

    Parameters
    ----------
    pairs : list of PreferencePair
        The pairs as text.
    tokenizer : transformers tokenizer
        The model's tokenizer.
    max_length : int
        The most tokens of a prompt and a response (:func:`truncate`).
    chat : bool, optional
        Render through the tokenizer's chat template.

    Returns
    -------
    pairs : list of TokenizedPair
        The pairs kept.
    report : TokenizeReport
        How many were kept and dropped.
    """
    eos = [tokenizer.eos_token_id]
    ending = [] if chat else eos
    report = TokenizeReport()
    kept: list[TokenizedPair] = []
    if chat:
        columns = list(zip(*chat_token_ids(pairs, tokenizer), strict=True)) or [[], [], []]
    else:
        columns = [_token_ids(tokenizer, [getattr(p, name) for p in pairs])
                   for name in ("prompt", "chosen", "rejected")]
    for prompt, chosen, rejected in zip(*columns, strict=True):
        prompt, (chosen, rejected) = truncate(prompt or eos, [chosen + ending,
                                                              rejected + ending], max_length)
        if not chosen or not rejected or chosen[0] == eos[0] or rejected[0] == eos[0]:
            report.dropped_empty += 1
        elif chosen == rejected:
            report.dropped_identical += 1
        else:
            kept.append(TokenizedPair(prompt, chosen, rejected))
    report.kept = len(kept)
    return kept, report


def _token_ids(tokenizer, texts: list[str], chunk: int = 4096) -> list[list[int]]:
    """Token ids of ``texts``, tokenised in batches (a fast tokenizer runs them in parallel)."""
    ids: list[list[int]] = []
    for start in range(0, len(texts), chunk):
        ids += tokenizer(texts[start: start + chunk], add_special_tokens=False)["input_ids"]
    return ids


@dataclass
class Batch:
    """Right-padded rows (R, T) with next-token targets and the response positions.

    Parameters
    ----------
    input_ids, attention_mask : torch.Tensor of long, shape (R, T)
        The token ids, right-padded, and 1 at the real tokens.
    targets : torch.Tensor of long, shape (R, T)
        ``input_ids`` shifted left by one: the next token at each position.
    response_mask : torch.Tensor of bool, shape (R, T)
        Whether ``targets[r, i]`` is a response token.
    """

    input_ids: torch.Tensor  # (R, T) long
    attention_mask: torch.Tensor  # (R, T) long
    targets: torch.Tensor  # (R, T) long: input_ids shifted left by one
    response_mask: torch.Tensor  # (R, T) bool: targets[r, i] is a response token

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask,
                                                 self.targets, self.response_mask)))

    @property
    def sequences(self) -> int:
        """The sequences the batch scores: its rows."""
        return self.input_ids.shape[0]

    @property
    def response_tokens(self) -> torch.Tensor:
        """Response tokens per row, shape (R,)."""
        return self.response_mask.sum(dim=1)


def collate(sequences: list[tuple[list[int], list[int]]], pad_id: int,
            pad_to_multiple: int = 1) -> Batch:
    """Batch ``(prompt ids, response ids)`` rows, right-padded to the longest (rounded up to a
    multiple of ``pad_to_multiple``, which bounds the shapes a compiled model sees).

    Parameters
    ----------
    sequences : list of (list of int, list of int)
        ``(prompt ids, response ids)`` of each row.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        Round the width up to a multiple of this.

    Returns
    -------
    Batch
        The padded rows.
    """
    longest = max(len(p) + len(r) for p, r in sequences)
    width = -(-longest // pad_to_multiple) * pad_to_multiple
    rows = len(sequences)
    input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
    attention = torch.zeros((rows, width), dtype=torch.long)
    response = torch.zeros((rows, width), dtype=torch.bool)
    for r, (prompt, answer) in enumerate(sequences):
        ids = prompt + answer
        input_ids[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention[r, : len(ids)] = 1
        # position i predicts token i + 1: response tokens sit at len(prompt) .. len(ids) - 1
        response[r, len(prompt) - 1 : len(ids) - 1] = True
    targets = torch.roll(input_ids, shifts=-1, dims=1)
    return Batch(input_ids, attention, targets, response)


def preference_batch(pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1
                     ) -> Batch:
    """Chosen rows then rejected rows of ``pairs``: R = 2B rows for one concatenated forward.

    Parameters
    ----------
    pairs : list of TokenizedPair
        The B pairs.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        Round the width up to a multiple of this.

    Returns
    -------
    Batch
        2B rows.
    """
    rows = [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs]
    return collate(rows, pad_id, pad_to_multiple)


def sft_batch(pairs: list[TokenizedPair], pad_id: int, pad_to_multiple: int = 1) -> Batch:
    """Prompt + chosen response rows (prompt tokens masked out of the loss).

    Parameters
    ----------
    pairs : list of TokenizedPair
        The pairs, of which the chosen responses are used.
    pad_id : int
        The padding token's id.
    pad_to_multiple : int, optional
        Round the width up to a multiple of this.

    Returns
    -------
    Batch
        One row per pair.
    """
    return collate([(p.prompt, p.chosen) for p in pairs], pad_id, pad_to_multiple)


def batch_indices(n: int, batch_size: int, seed: int, position: int) -> list[int]:
    """Global batch number ``position`` of a seeded, per-epoch reshuffled order (drop last).

    Parameters
    ----------
    n : int
        The number of pairs.
    batch_size : int
        The pairs per batch.
    seed : int
        The seed of the order (reshuffled with each epoch).
    position : int
        The batch's number from the start of training.

    Returns
    -------
    list of int
        The positions of its pairs.
    """
    per_epoch = n // batch_size
    epoch, slot = divmod(position, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[slot * batch_size: (slot + 1) * batch_size].tolist()


def visited_pairs(n: int, batch_size: int, seed: int, steps: int) -> list[int]:
    """The pairs that ``steps`` batches visit, sorted (all of them after one epoch).

    Parameters
    ----------
    n, batch_size, seed : int
        As for :func:`batch_indices`.
    steps : int
        How many batches.

    Returns
    -------
    list of int
        The positions of the pairs visited.
    """
    if steps >= n // batch_size:
        return list(range(n))
    return sorted({i for s in range(steps) for i in batch_indices(n, batch_size, seed, s)})


def length_groups(lengths: list[int], size: int) -> list[list[int]]:
    """Positions ``0..n-1`` in groups of at most ``size``, longest first (``size`` 0: one group
    in the given order). Micro-batches of similar lengths waste little compute on padding.

    Parameters
    ----------
    lengths : list of int
        The length of each item.
    size : int
        The most items per group (0: one group).

    Returns
    -------
    list of list of int
        The groups of positions.
    """
    if size <= 0 or size >= len(lengths):
        return [list(range(len(lengths)))]
    order = sorted(range(len(lengths)), key=lambda k: -lengths[k])
    return [order[k: k + size] for k in range(0, len(order), size)]
