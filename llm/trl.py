"""The loss family inside TRL: :class:`UPOTrainer`, a ``trl.DPOTrainer`` that trains any member.

``UPOTrainer(..., loss="iupo", f="js", form="paper")`` is TRL's ``DPOTrainer`` (its data
preparation, collator, reference model or precomputed reference log-probs, logging, checkpoints,
accelerate/DDP) with one change: the loss of each batch is the family member (Ψ, f, form) resolved
by :func:`upo_theory.loss_spec` — any registered f or the user's own f expression, DPO (eq. 4),
f-DPO (eq. 5), IPO (eq. 10), IUPO in the per-response (eq. 17) or paper form (eqs. 23–26) — and
its pair statistic and per-pair loss come from :func:`llm.losses.pair_losses` (or, for TRL's
length convention, :func:`upo_theory.pair_loss` on the kernel of :class:`upo_theory.LossSpec`);
no formula is written here.

The hook is ``compute_loss(model, inputs, return_outputs, num_items_in_batch)``, the method
``transformers.Trainer`` documents for custom losses, which ``DPOTrainer`` implements in every
tested TRL release; the batch it receives (``input_ids``, ``attention_mask``,
``completion_mask``, chosen rows then rejected rows, and ``ref_chosen_logps`` /
``ref_rejected_logps`` when ``precompute_ref_log_probs=True``) has the same layout from TRL 1.0
through 1.16 (UPOTrainer trains with each). TRL's private loss code (``_compute_loss``), which
changed between those releases, is not used.

Length handling (``length``), with ``t = log π(y|x) − log π_ref(y|x)`` summed over the
completion's ``n`` tokens and ``k(t) = f'(e^t)``:

- ``"sum"`` (default, the paper): the statistic of summed log-probabilities;
- ``"mean"``: of per-token mean log-probabilities, ``k(t / n)`` (``llm.train --length mean``);
- ``"score_per_token"``: TRL's ``loss_type="ipo"``: ``(k(t) − k(0)) / n`` per response, the
  f-transformed sum divided by the token count (``k(0) = f'(1)`` is subtracted, as TRL's scores
  have none: f is defined up to a term ``c (u − 1)``). Per-response form only.

TRL's own losses map as follows (tested to agree in loss and gradients): ``sigmoid`` with
``f_divergence_type`` ``reverse_kl`` / ``js_divergence`` / ``alpha_divergence`` (coefficient c) is
``loss="dpo"`` / ``loss="fdpo", f="js"`` / ``loss="fdpo", f="alpha", alpha=1 − c`` with
``length="sum"``; ``ipo`` with the same divergences is ``loss="ipo"`` / ``loss="iupo", f="js"`` /
``loss="iupo", f="alpha", alpha=1 − c`` with ``length="score_per_token"``. TRL's JS score
``log 2 + log σ(t)`` (TRL >= 1.10; earlier releases dropped the ``log 2``, which changes their
``ipo`` loss, not their ``sigmoid`` one) is exactly this package's ``k`` for ``js`` (the paper's
scale, ``f(u) = u log u − (u + 1) log((u + 1)/2)``).
"""

from __future__ import annotations

from typing import Any

import torch

try:
    from trl import DPOTrainer
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError("llm.trl needs TRL: pip install -e '.[trl]'") from error

from upo_theory import LossSpec, loss_spec, pair_loss

from .engine.scoring import sequence_logps
from .losses import check_admissible, pair_losses, to_float64

LENGTHS: tuple[str, ...] = ("sum", "mean", "score_per_token")
DPO_DEFAULTS: dict[str, Any] = {"loss_type": "sigmoid", "f_divergence_type": "reverse_kl",
                                "ld_alpha": None, "use_weighting": False,
                                "label_smoothing": 0.0}
"""``DPOConfig`` options that change TRL's own loss: :class:`UPOTrainer` needs them unset."""


def family_losses(spec: LossSpec, beta: float, length: str, policy: torch.Tensor,
                  reference: torch.Tensor, tokens: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair losses and statistics of ``spec`` from summed completion log-probabilities.

    Parameters
    ----------
    spec : upo_theory.LossSpec
        The family member (Ψ, f, form).
    beta : float
        The regularisation strength β > 0.
    length : str
        ``"sum"``, ``"mean"`` or ``"score_per_token"``, as the module notes define them.
    policy, reference, tokens : Tensor
        Shape (2, B): chosen row, rejected row; the summed log-probs under π and π_ref, and
        the completions' token counts.

    Returns
    -------
    losses, statistics : tuple of Tensor
        Each of shape (B,).
    """
    if length == "score_per_token":
        t = to_float64(policy) - to_float64(reference)  # in float64, as pair_losses does
        score = spec.kernel.difference(t, torch.zeros_like(t)) / tokens.clamp(min=1)
        statistic = score[0] - score[1]
        return pair_loss(spec, statistic, beta), statistic
    pi = sequence_logps(policy, tokens, length)
    ref = sequence_logps(reference, tokens, length)
    return pair_losses(spec, pi[0], pi[1], ref[0], ref[1], beta)


def completion_logps(model: torch.nn.Module, inputs: dict[str, torch.Tensor]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probs of each row's completion tokens and their counts, shapes (2, B).

    A plain forward of ``model`` (so DDP, PEFT and TRL's patched heads all work as they do in
    TRL); token ``j + 1`` is scored from position ``j`` where ``completion_mask`` marks it.

    Parameters
    ----------
    model : torch.nn.Module
        A causal LM returning ``.logits``.
    inputs : dict of str to Tensor
        TRL's batch: ``input_ids``, ``attention_mask`` and ``completion_mask``, shape (2B, T),
        the B chosen rows first.

    Returns
    -------
    sums, counts : tuple of Tensor
        The summed log-probs and the completion token counts, each of shape (2, B).
    """
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                   use_cache=False).logits[:, :-1]
    targets = inputs["input_ids"][:, 1:]
    mask = inputs["completion_mask"][:, 1:].bool()
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16/fp16 -> fp32
    token_logps = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
    sums = (token_logps * mask).sum(dim=1)
    return sums.view(2, -1), mask.sum(dim=1).view(2, -1)


class UPOTrainer(DPOTrainer):
    """``trl.DPOTrainer`` training one member of the loss family (see the module notes).

    Parameters
    ----------
    *args, **kwargs
        Those of ``DPOTrainer`` (``model``, ``ref_model``, ``args`` (a ``DPOConfig``, whose
        ``beta`` is β), ``train_dataset``, ``processing_class``, ...).
    loss, f, form, alpha
        The member, as ``llm.train`` names it: ``dpo``/``ipo`` (f = reverse KL) or
        ``fdpo``/``iupo`` with ``f`` a registered name or an expression in ``u``, ``form``
        ``per_response`` or ``paper``, ``alpha`` for the α-divergence.
    spec
        A resolved :class:`upo_theory.LossSpec` instead of ``loss``/``f``/``form``/``alpha``.
    length
        ``sum``, ``mean`` or ``score_per_token`` (TRL's IPO convention).
    """

    def __init__(self, *args: Any, loss: str = "iupo", f: str = "js",
                 form: str = "per_response", alpha: float | None = None,
                 spec: LossSpec | None = None, length: str = "sum",
                 allow_inadmissible_f: bool = False, **kwargs: Any) -> None:
        self.spec = spec if spec is not None else loss_spec(loss, f, form, alpha)
        check_admissible(self.spec, allow_inadmissible_f)  # as llm.train does
        if length not in LENGTHS:
            raise ValueError(f"length={length!r} is unknown; choose one of {LENGTHS}")
        if length == "score_per_token" and self.spec.form == "paper":
            raise ValueError("length='score_per_token' divides each response's score by its "
                             "tokens; the paper form has no per-response score: use sum or mean")
        self.length = length
        super().__init__(*args, **kwargs)
        changed = sorted(name for name, default in DPO_DEFAULTS.items()
                         if getattr(self.args, name, default) not in (default, [default]))
        # (loss_type is a list in recent TRL releases, a string in older ones)
        if changed:
            raise ValueError(f"UPOTrainer takes its loss from loss/f/form/length; leave "
                             f"DPOConfig's {changed} at their defaults")
        if self.ref_model is None and not self.precompute_ref_logps:
            raise ValueError("without a ref_model (a PEFT model), pass "
                             "DPOConfig(precompute_ref_log_probs=True)")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The member's mean per-pair loss on TRL's batch; logs TRL's reward metrics."""
        policy, tokens = completion_logps(model, inputs)
        if "ref_chosen_logps" in inputs:
            reference = torch.stack([inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]])
        else:
            with torch.no_grad():
                reference, _ = completion_logps(self.ref_model, inputs)
        losses, statistic = family_losses(self.spec, self.args.beta, self.length, policy,
                                          reference, tokens)
        self._log_pairs(policy.detach(), reference, statistic.detach())
        loss = losses.mean()
        if not return_outputs:
            return loss
        with torch.no_grad():  # evaluation asks for logits; TRL computes them the same way
            outputs = model(input_ids=inputs["input_ids"],
                            attention_mask=inputs["attention_mask"], use_cache=False)
        return loss, outputs

    def _log_pairs(self, policy: torch.Tensor, reference: torch.Tensor,
                   statistic: torch.Tensor) -> None:
        """TRL's ``rewards/*`` and ``logps/*`` metrics (TRL's meanings) and the statistic."""
        mode = "train" if self.model.training else "eval"
        rewards = self.args.beta * (policy - reference)
        gather = self.accelerator.gather
        columns = {"rewards/chosen": rewards[0], "rewards/rejected": rewards[1],
                   "rewards/accuracies": (rewards[0] > rewards[1]).float(),
                   "rewards/margins": rewards[0] - rewards[1], "logps/chosen": policy[0],
                   "logps/rejected": policy[1], "statistic": statistic}
        for name, column in columns.items():
            self._metrics[mode][name].append(gather(column).float().mean().item())
