"""Sequence log-probabilities at response positions only.

:class:`SequenceScorer` runs the transformer body (``model.base_model``, GPT-2's
``model.transformer``) on all tokens, then applies the LM head only to the hidden states at
response positions: the logits are (N, V) for the N response tokens of the batch, never a
(R, T, V) tensor over prompt and padding positions. It returns per-row summed log-probabilities
``log π(y|x) = Σ_i log π(y_i | x, y_<i)`` and the response token counts; :func:`sequence_logps`
turns them into sums or per-token means (``length``). It is an ``nn.Module`` so that
DistributedDataParallel wraps it and synchronises the gradients of its forward.

Rows are right-padded and attention is causal, so no real token ever attends to padding: the body
runs without an attention mask (the mask would change only the outputs at padded positions,
which are never scored), which lets PyTorch's SDPA pick its fused causal kernels (FlashAttention
on CUDA). Per-row sums are taken by placing the token log-probabilities in a dense (R, T) tensor
and summing it, which is deterministic on CUDA (``index_add`` accumulates with atomics).

A :class:`~llm.data.packing.PackedBatch` (the CPU's default, ``--packing``) holds no padding
to speak of: the body runs on its rows with position ids that restart at each sequence, which
transformers turns into a block-causal mask, and each sequence's sum is a row of an (S, L) table
filled at unique slots (deterministic too). A :class:`~llm.data.prefix_sharing.PrefixBatch`
(``--layout prefix``) holds each pair's prompt once: the body runs with its explicit 4-D mask
(:func:`~llm.data.prefix_sharing.model_mask`, in the form the model's attention takes), the
LM head runs once per needed position, and the prompt's last position is scored against both
responses' first tokens.
:func:`score_batches` is the one way a frozen model scores whole batches (π_ref's cached
log-probabilities, the truth evaluation's samples).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from ..data.batching import Batch
from ..data.packing import PackedBatch
from ..data.prefix_sharing import PrefixBatch, model_mask
from .lora import causal_lm


class SequenceScorer(nn.Module):
    """Wraps a causal LM; ``forward(batch)`` gives (summed response log-probs, token counts).

    With ``compile``, the transformer body runs through ``torch.compile`` (the LM head and the
    gather at response positions, whose shapes depend on the data, stay eager).
    """

    def __init__(self, model: nn.Module, compile: bool = False) -> None:
        super().__init__()
        self.model = model
        body = causal_lm(model).base_model  # with LoRA, the body inside the peft model
        # not a submodule: the compiled wrapper shares the body's parameters, and the model is
        # what is saved and what DDP synchronises
        object.__setattr__(self, "_body", torch.compile(body, dynamic=True) if compile else body)

    @property
    def config(self) -> Any:
        """The wrapped model's config (what :func:`~llm.data.packing.attention_width` reads)."""
        return self.model.config

    def forward(self, batch: Batch | PackedBatch | PrefixBatch, chunk_rows: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sequence sums and counts; a packed or prefix-shared batch runs its rows in one
        pass (:meth:`_score_packed`, :meth:`_score_prefix`). With ``chunk_rows``, the rows of a
        padded batch run sorted by length in chunks of that many, each cut to its longest row
        (:func:`row_chunks`), in one call (one DDP forward) whose outputs are the same as the
        unchunked ones."""
        if isinstance(batch, PackedBatch):
            return self._score_packed(batch)
        if isinstance(batch, PrefixBatch):
            return self._score_prefix(batch)
        input_ids, targets, response_mask = batch.input_ids, batch.targets, batch.response_mask
        chunks = row_chunks(response_mask, chunk_rows)
        if len(chunks) == 1:
            return self._score(input_ids, targets, response_mask)
        sums = torch.zeros(input_ids.shape[0], dtype=torch.float32, device=input_ids.device)
        for rows, width in chunks:
            index = torch.tensor(rows, device=input_ids.device)
            part, _ = self._score(input_ids[index, :width], targets[index, :width],
                                  response_mask[index, :width])
            sums = sums.index_copy(0, index, part)
        return sums, response_mask.sum(dim=1)

    def _score(self, input_ids: torch.Tensor, targets: torch.Tensor,
               response_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self._body(input_ids=input_ids, use_cache=False).last_hidden_state  # (R, T, C)
        token_logps = self._response_logps(hidden, targets, response_mask)  # (N,)
        dense = token_logps.new_zeros(response_mask.shape)  # (R, T)
        dense[response_mask] = token_logps
        return dense.sum(dim=1), response_mask.sum(dim=1)

    def _score_packed(self, batch: PackedBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums of the packed sequences: position ids restarting at each sequence and no
        attention mask, so transformers masks attention block-causally (:mod:`llm.data.packing`);
        each scored position's log-prob goes to its sequence's slot of an (S, L) table."""
        hidden = self._body(input_ids=batch.input_ids, position_ids=batch.position_ids,
                            use_cache=False).last_hidden_state  # (P, W, C)
        token_logps = self._response_logps(hidden, batch.targets, batch.response_mask)  # (N,)
        table = token_logps.new_zeros(batch.sequences * max(1, int(batch.counts.max())))
        table = table.index_put((batch.response_slot,), token_logps)  # unique slots
        return table.view(batch.sequences, -1).sum(dim=1), batch.counts

    def _score_prefix(self, batch: PrefixBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums of the prefix-shared sequences: the body under the batch's block-sparse mask,
        the LM head at each needed position once, each scored token's log-prob read from its
        position's row (the prompt's last row twice: chosen's and rejected's first token)."""
        config = self.model.config
        mask = model_mask(batch, getattr(config, "_attn_implementation", None) or "eager",
                              self.model.get_output_embeddings().weight.dtype)
        hidden = self._body(input_ids=batch.input_ids, position_ids=batch.position_ids,
                            attention_mask=mask, use_cache=False).last_hidden_state  # (P, W, C)
        needed = hidden.flatten(0, 1)[batch.scored]  # (U, C)
        logits = self.model.get_output_embeddings()(needed)  # (U, V)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 -> fp32
        token_logps = torch.log_softmax(logits, dim=-1)[batch.token_row, batch.token_target]
        table = token_logps.new_zeros(batch.sequences * max(1, int(batch.counts.max())))
        table = table.index_put((batch.response_slot,), token_logps)  # unique slots
        return table.view(batch.sequences, -1).sum(dim=1), batch.counts

    def _response_logps(self, hidden: torch.Tensor, targets: torch.Tensor,
                        response_mask: torch.Tensor) -> torch.Tensor:
        """Log-probs of the targets at response positions, the LM head only there: (N,)."""
        logits = self.model.get_output_embeddings()(hidden[response_mask])  # (N, V)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 -> fp32
        token_logps = torch.log_softmax(logits, dim=-1)
        return token_logps.gather(1, targets[response_mask][:, None])[:, 0]

    def score(self, batch: Batch | PackedBatch | PrefixBatch, chunk_rows: int = 0
              ) -> tuple[torch.Tensor, torch.Tensor]:
        return self(batch, chunk_rows)


def row_chunks(response_mask: torch.Tensor, size: int) -> list[tuple[list[int], int]]:
    """Rows sorted by length, longest first, in chunks of at most ``size`` (0: one chunk of all
    rows in order), each with the width it needs: its last response position plus one."""
    rows, width = response_mask.shape
    if size <= 0 or size >= rows:
        return [(list(range(rows)), width)]
    positions = torch.arange(1, width + 1, device=response_mask.device)
    needed = (response_mask * positions).amax(dim=1).tolist()  # last scored position + 1
    order = sorted(range(rows), key=lambda r: -needed[r])
    return [(order[k: k + size], max(1, needed[order[k]])) for k in range(0, rows, size)]


def sequence_logps(sums: torch.Tensor, counts: torch.Tensor, length: str) -> torch.Tensor:
    """``log π(y|x)`` as the sum over response tokens, or the per-token mean (``length="mean"``)."""
    if length == "mean":
        return sums / counts.clamp(min=1)
    return sums


@torch.no_grad()
def score_batches(model: nn.Module, batches: Iterable[Batch | PackedBatch | PrefixBatch],
                  device: torch.device | str,
                  autocast: Callable[[], Any] = contextlib.nullcontext
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per batch, (summed response log-probs as float64, token counts) on the CPU, shape (R,).

    ``model`` is a causal LM or a :class:`SequenceScorer` (an FSDP-sharded one, whose forward
    gathers its shards). It runs in eval mode (its mode is restored after) under ``autocast()``.
    """
    scorer = model if isinstance(model, SequenceScorer) else SequenceScorer(model)
    was_training = model.training
    model.eval()
    try:
        out = []
        for batch in batches:
            with autocast():
                sums, counts = scorer.score(batch.to(device))
            out.append((sums.double().cpu(), counts.cpu()))
        return out
    finally:
        model.train(was_training)


def forward_work(batch: Batch | PackedBatch | PrefixBatch, chunk_rows: int) -> tuple[int, int]:
    """(real tokens, positions) the body computes for ``batch`` (a padded one chunked as
    :func:`row_chunks` says): what throughput and padding are counted from."""
    if isinstance(batch, (PackedBatch, PrefixBatch)):
        return int(batch.attention_mask.sum()), batch.input_ids.numel()
    tokens = positions = 0
    for rows, width in row_chunks(batch.response_mask, chunk_rows):
        tokens += int(batch.attention_mask[rows, :width].sum())
        positions += len(rows) * width
    return tokens, positions
