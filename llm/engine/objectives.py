"""What each stage optimises: a stage is a value (steps, batch size, learning rate, objective).

An objective turns the summed response log-probabilities of a (micro-)batch into the sum of its
losses and the sums of its metrics; its weight (response tokens for SFT, pairs for the preference
stage) normalises both. The trainer divides by the weight of the whole global batch, so that
micro-batches accumulate to exactly the global batch's mean, and it averages metrics over batches
and processes without knowing which stage it runs:

- :class:`SupervisedObjective`: token-mean negative log-likelihood of the chosen responses;
- :class:`PreferenceObjective`: the loss family's member (:class:`upo_theory.LossSpec`) against
  π_ref, a pure function of the policy's log-probs and π_ref's, which it is given as data
  (:class:`~llm.engine.reference.ReferenceLogps`, computed or loaded once before the stage:
  :meth:`Stage.with_reference`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from upo_theory import LossSpec

from ..config import TrainConfig
from ..data.batching import TokenizedPair
from ..data.layout import AnyBatch, BatchLayout
from ..data.packing import ATTENTION_WIDTH
from ..losses import pair_losses
from .reference import ReferenceLogps
from .scoring import sequence_logps


@dataclass
class Scored:
    """One batch through an objective: the sum of its losses and the sums of its metrics."""

    loss: torch.Tensor
    sums: dict[str, torch.Tensor]


class SupervisedObjective:
    """Token-mean NLL of the chosen responses over the global batch (prompt tokens masked)."""

    evaluates_start = False
    """Whether the stage's curves start with an evaluation at step 0."""
    needs_reference = False
    """Whether the objective compares with π_ref's log-probs (:class:`ReferenceLogps`)."""

    def batch(self, pairs: Sequence[TokenizedPair], pad_id: int, layout: BatchLayout,
              pad_to_multiple: int = 1, attention: int = ATTENTION_WIDTH) -> AnyBatch:
        """Prompt + chosen sequences of ``pairs`` in ``layout`` (:meth:`BatchLayout.sft_batch`)."""
        return layout.sft_batch(list(pairs), pad_id, pad_to_multiple, attention)

    def weight(self, batch: AnyBatch) -> float:
        """What the loss is a mean over: the batch's response tokens."""
        return float(batch.response_mask.sum())

    def __call__(self, sums: torch.Tensor, counts: torch.Tensor, ids: Sequence[int],
                 split: str) -> Scored:
        nll = -sums.sum()
        return Scored(nll, {"loss": nll.detach()})


@dataclass(frozen=True)
class PreferenceObjective:
    """The preference loss of ``spec`` at ``beta`` against π_ref's log-probs ``reference``."""

    spec: LossSpec
    beta: float
    length: str
    reference: ReferenceLogps | None = dataclasses.field(default=None, repr=False)

    evaluates_start = True
    needs_reference = True

    @classmethod
    def of(cls, config: TrainConfig) -> PreferenceObjective:
        return cls(config.spec, config.beta, config.length)

    def with_reference(self, reference: ReferenceLogps) -> PreferenceObjective:
        """This objective against ``reference``."""
        return dataclasses.replace(self, reference=reference)

    def batch(self, pairs: Sequence[TokenizedPair], pad_id: int, layout: BatchLayout,
              pad_to_multiple: int = 1, attention: int = ATTENTION_WIDTH) -> AnyBatch:
        """Chosen then rejected sequences of ``pairs`` in ``layout``
        (:meth:`BatchLayout.preference_batch`)."""
        return layout.preference_batch(list(pairs), pad_id, pad_to_multiple, attention)

    def weight(self, batch: AnyBatch) -> float:
        """What the loss is a mean over: the batch's pairs (half its sequences)."""
        return batch.sequences / 2

    def __call__(self, sums: torch.Tensor, counts: torch.Tensor, ids: Sequence[int],
                 split: str) -> Scored:
        policy_c, policy_r = sequence_logps(sums, counts, self.length).chunk(2)
        if self.reference is None:
            raise ValueError("the preference objective needs pi_ref's log-probs: "
                             "Stage.with_reference(reference) first")
        ref = self.reference.rows(split, ids).to(sums.device)  # float64, as pair_losses works
        ref_c = sequence_logps(ref[:, 0], ref[:, 2], self.length)
        ref_r = sequence_logps(ref[:, 1], ref[:, 3], self.length)
        losses, statistic = pair_losses(self.spec, policy_c, policy_r, ref_c, ref_r, self.beta)
        t_w, t_l = (policy_c - ref_c).detach(), (policy_r - ref_r).detach()
        chosen, rejected = self.beta * t_w, self.beta * t_l
        columns = {
            "loss": losses.detach(), "rewards/accuracies": (t_w > t_l).to(t_w.dtype),
            "rewards/chosen": chosen, "rewards/rejected": rejected,
            "rewards/margins": chosen - rejected, "statistic": statistic.detach(),
            "logps/chosen": policy_c.detach(), "logps/rejected": policy_r.detach(),
        }
        return Scored(losses.sum(), {name: column.sum() for name, column in columns.items()})


@dataclass(frozen=True)
class Stage:
    """One stage of a run: its name, length, batch size, learning rate and objective."""

    name: str
    steps: int
    batch_size: int
    lr: float
    objective: SupervisedObjective | PreferenceObjective
    first_step: int
    """Global steps of the run's stages before this one (``stop_after`` counts globally)."""
    batch_flag: str
    """The option that sets ``batch_size``, for messages."""
    saves_to: str | None = None
    """Folder (in the run folder) where the model is saved when the stage ends."""

    def with_reference(self, reference: ReferenceLogps | None) -> Stage:
        """This stage with its objective given π_ref's log-probs (None: the stage needs none)."""
        if reference is None:
            return self
        return dataclasses.replace(self, objective=self.objective.with_reference(reference))


def plan(config: TrainConfig) -> list[Stage]:
    """The stages ``config`` trains, in order."""
    stages = {
        "sft": Stage("sft", config.sft_steps, config.sft_batch_size, config.sft_lr,
                     SupervisedObjective(), 0, "--sft-batch-size", saves_to="sft"),
        "pref": Stage("pref", config.pref_steps, config.batch_size, config.lr,
                      PreferenceObjective.of(config),
                      config.sft_steps if config.stage == "both" else 0, "--batch-size"),
    }
    names = ("sft", "pref") if config.stage == "both" else (config.stage,)
    return [stages[name] for name in names]
