"""The preference loss of the trainer: a thin torch-facing wrapper over ``upo_theory.losses``.

No formula lives here. The pair statistic and the per-pair loss come from
:func:`upo_theory.pair_statistic` and :func:`upo_theory.pair_loss` (the family written out on the
docs' Mathematics page: DPO eq. 4, f-DPO eq. 5, IPO eq. 10, IUPO eqs. 23–26), evaluated in log
space by the SymPy-derived kernel ``k(t) = f'(e^t)``, finite with finite gradients for
``|t| <= 1e4``. The trainer passes its resolved :class:`upo_theory.LossSpec` to
:func:`pair_losses`; :func:`preference_loss` is the same with keyword arguments, for users' own
training loops.

Precision
---------
The statistic and the per-pair loss are computed in float64 whatever the dtype of the
log-probabilities (float32, or bfloat16 under autocast): the kernels are exact in the dtype they
run in only up to ``|k(t)| <= e^cap`` (e^27 in float32, where Neyman's k(t) = 1 − e^{−2t} is
continued beyond t ≈ −13; e^337 in float64, see :mod:`upo_theory.kernels`), and sequence
log-ratios reach that range. The losses come back in float64; their gradients flow back into the
log-probabilities in their own dtype, exact to its rounding, and saturate at its largest finite
value where the true gradient is not representable in it (rather than becoming inf and then NaN
in the gradient clipping).

Length handling
---------------
The sequence log-probabilities passed in are either sums over response tokens (``length="sum"``,
the paper's ``log π(y|x)``) or per-token means (``length="mean"``). The mean is taken in
:mod:`llm.engine.scoring` on the log-probabilities of policy and reference alike, *before* the
f-transform: the statistic is ``k(mean log-ratio)``, not ``mean of k``.

TRL's ``DPOTrainer`` does otherwise (read in its source, releases 0.29 and 1.0–1.16): with
``loss_type="ipo"`` it f-transforms the *summed* log-ratio and divides that score by the number of
completion tokens, ``k(t)/n`` per response, while its ``sigmoid`` loss uses the sums unchanged.
For reverse KL the two orders coincide (``k(t) = t + 1`` is affine), so TRL's ``ipo`` is
``length="mean"`` here; for JS and α they differ, and :mod:`llm.trl` reproduces TRL's convention
(``length="score_per_token"``). llm/README.md, "Length handling", maps every TRL member onto
the family. TRL has no paper form (eqs. 23–26).
"""

from __future__ import annotations

import torch

from upo_theory import (
    Condition,
    Divergence,
    LossSpec,
    UserError,
    derive,
    get_divergence,
    pair_loss,
    pair_statistic,
)


def pair_losses(
    spec: LossSpec,
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair losses and pair statistics of the family member ``spec``, shapes (B,) and (B,).

    Parameters
    ----------
    spec : upo_theory.LossSpec
        The family member: (Ψ, f, form) passed whole (:func:`upo_theory.loss_spec`).
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps : Tensor
        Sequence log-probabilities of shape (B,), as for :func:`preference_loss`.
    beta : float
        The regularisation strength β > 0.

    Returns
    -------
    losses, statistics : tuple of Tensor
        Each of shape (B,), float64 (see the module notes on precision).
    """
    logps = (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)
    statistic = pair_statistic(spec, *(to_float64(x) for x in logps))
    return pair_loss(spec, statistic, beta), statistic


def to_float64(x: torch.Tensor) -> torch.Tensor:
    """``x`` as float64; its gradient returns in ``x``'s dtype, saturating at ±its largest
    finite value instead of overflowing to ±inf.

    Parameters
    ----------
    x : Tensor
        Any floating tensor.

    Returns
    -------
    Tensor
        ``x`` itself when already float64, else a float64 copy in the autograd graph.
    """
    if x.dtype == torch.float64:
        return x
    if not (x.requires_grad and torch.is_grad_enabled()):
        return x.to(torch.float64)
    return _SaturatingUpcast.apply(x)


class _SaturatingUpcast(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.dtype = x.dtype
        return x.to(torch.float64)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        largest = torch.finfo(ctx.dtype).max
        return grad.clamp(-largest, largest).to(ctx.dtype)


def preference_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float,
    psi: str = "identity",
    f: str | Divergence = "rkl",
    form: str = "per_response",
    alpha: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair losses and pair statistics of one member (Ψ, f, form) of the loss family.

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : torch.Tensor, shape (B,)
        ``log π(y_w|x)`` and ``log π(y_l|x)`` (summed or per-token mean, see the module notes).
    ref_chosen_logps, ref_rejected_logps : torch.Tensor, shape (B,)
        The same under the frozen reference ``π_ref``.
    beta : float
        Regularisation strength β > 0.
    psi : {"identity", "logit"}
        ``logit``: loss ``−log σ(β s)`` (DPO eq. 4, f-DPO eq. 5); ``identity``: ``(s − 1/(2β))²``
        (IPO eq. 10, IUPO eq. 24).
    f : str or Divergence
        Divergence generator: a name, an expression in ``u`` or a resolved
        :class:`~upo_theory.Divergence` (``rkl`` gives DPO and IPO).
    form : {"per_response", "paper"}
        ``per_response``: ``s = k(t_w) − k(t_l)``; ``paper``: ``s = k(log π(y_w)/π(y_l)) −
        k(log π_ref(y_w)/π_ref(y_l))`` (eqs. 23, 26).
    alpha : float, optional
        Parameter of the α-divergence.

    Returns
    -------
    losses : torch.Tensor, shape (B,), float64
        Per-pair loss.
    statistic : torch.Tensor, shape (B,), float64
        The pair statistic ``s`` (logged as ``statistic``; TRL's ``rewards/margins`` is
        ``β (t_w − t_l)``, the same for every member).

    Examples
    --------
    >>> import torch
    >>> losses, s = preference_loss(torch.tensor([-3.0]), torch.tensor([-5.0]),
    ...                             torch.tensor([-4.0]), torch.tensor([-4.0]), beta=0.1,
    ...                             f="js", psi="identity")
    >>> losses.shape, bool(s > 0)
    (torch.Size([1]), True)
    """
    spec = LossSpec(psi, get_divergence(f, alpha), form)  # type: ignore[arg-type]
    return pair_losses(spec, policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
                       ref_rejected_logps, beta)


class InadmissibleFError(UserError):
    """An f that fails Theorem 3.1's conditions, for a loss whose minimiser then misses π*."""


def check_admissible(spec: LossSpec, allow: bool = False) -> None:
    """Refuse an f-DPO/IUPO member whose f fails Theorem 3.1's conditions (f(1) = 0,
    differentiable, convex, f''(1) > 0, f' strictly increasing, f'(0+) = −∞), unless ``allow``
    (research on purpose); DPO and IPO fix f = reverse KL, which passes. ``llm.train`` and
    :class:`llm.trl.UPOTrainer` apply the same rule.

    Parameters
    ----------
    spec : upo_theory.LossSpec
        The family member whose f is checked.
    allow : bool
        Accept an inadmissible f (``TrainConfig.allow_inadmissible_f``).

    Raises
    ------
    InadmissibleFError
        When a condition of Theorem 3.1 fails or cannot be decided; the message names it.
    """
    if allow:
        return
    failed = derive(spec.divergence).failure()
    if failed is None:
        return
    verdict = "could not be decided" if failed.method == "undecided" else "fails"
    meaning = (
        "the loss (eqs. 5, 24) cannot express those zeros, so its minimiser is not the UPO "
        "optimum"
        if failed.condition is Condition.INFINITE_AT_ZERO else
        "the UPO objective then has no optimum of Theorem 3.1 for the loss to recover")
    raise InadmissibleFError(f"f={spec.divergence.label!r}: {failed.name} {verdict} "
                             f"({failed.detail}); {meaning}")
