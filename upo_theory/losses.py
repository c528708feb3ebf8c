"""The loss family of offline preference optimisation, parameterised by (Ψ, f, form).

Per preference pair (x, y_w, y_l) with log-probabilities under the policy and π_ref, and
``t_w = log π(y_w) − log π_ref(y_w)``, ``t_l`` likewise, and ``k(t) = f'(e^t)``:

=========================  ===  ============================================  ===================
loss                       Ψ    pair statistic s                              per-pair loss
=========================  ===  ============================================  ===================
DPO (eq. 4)                σ⁻¹  t_w − t_l                                     −log σ(β s)
f-DPO (eq. 5)              σ⁻¹  k(t_w) − k(t_l)                               −log σ(β s)
IPO (eq. 10)               id   t_w − t_l                                     (s − 1/(2β))²
IUPO paper form (23–24)    id   k(log π(y_w)/π(y_l)) − k(log π_ref ratio)     (s − 1/(2β))²
IUPO per-response form     id   k(t_w) − k(t_l)                               (s − 1/(2β))²
=========================  ===  ============================================  ===================

DPO and IPO are the reverse-KL members (k(t) = t + 1, so k(t_w) − k(t_l) = t_w − t_l). Everything
is computed from log-probabilities; every function here takes NumPy arrays or torch tensors alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .admission import get_divergence
from .divergences import Divergence
from .errors import UserError
from .kernels import LogSpaceKernel, kernel_for
from .stable_lambdify import is_torch

Psi = Literal["identity", "logit"]
Form = Literal["per_response", "paper"]
PSIS: tuple[str, ...] = ("identity", "logit")
"""The maps Ψ of preference probabilities: ``identity`` (IPO, IUPO) and ``logit`` (DPO, f-DPO)."""
FORMS: tuple[str, ...] = ("per_response", "paper")
"""The pair statistic's forms: per response (eqs. 5, 17) or as eq. 23 writes it."""
LOSS_NAMES: tuple[str, ...] = ("dpo", "ipo", "fdpo", "iupo")
"""The losses of the family (eqs. 4, 5, 10, 24), by the names the command lines take."""
FIXED_DIVERGENCE: dict[str, str] = {"dpo": "rkl", "ipo": "rkl"}
"""The losses whose f is fixed (reverse KL, per-response form); ``fdpo`` and ``iupo`` take f."""


class LossSpecError(UserError):
    """An unknown loss name, Ψ or form, or a divergence the loss cannot use."""


@dataclass(frozen=True)
class LossSpec:
    """One member of the family: Ψ, the divergence and the form of the pair statistic.

    Parameters
    ----------
    psi : {"identity", "logit"}
        Ψ: the squared loss (IPO eq. 10, IUPO eq. 24) or the logistic one (DPO eq. 4, f-DPO
        eq. 5).
    divergence : Divergence
        The generator f of the pair statistic.
    form : {"per_response", "paper"}
        The statistic: the per-response one of eq. 17 or the paper's of eq. 23.

    Raises
    ------
    LossSpecError
        For an unknown Ψ or form.
    """

    psi: Psi
    divergence: Divergence
    form: Form = "per_response"

    def __post_init__(self) -> None:
        if self.psi not in PSIS:
            raise LossSpecError(f"psi={self.psi!r} is unknown; choose one of {PSIS}")
        if self.form not in FORMS:
            raise LossSpecError(f"form={self.form!r} is unknown; choose one of {FORMS}")

    @property
    def kernel(self) -> LogSpaceKernel:
        return kernel_for(self.divergence)

    @property
    def name(self) -> str:
        """A readable name: DPO, IPO, f-DPO[js], IUPO[js, paper], ..."""
        rkl = self.divergence.name == "rkl"
        if self.psi == "logit":
            return "DPO" if rkl else f"f-DPO[{self.divergence.label}]"
        if rkl and self.form == "per_response":
            return "IPO"
        return f"IUPO[{self.divergence.label}, {self.form}]"


def loss_spec(
    loss: str = "iupo", f: str | Divergence = "js", form: str = "per_response",
    alpha: float | None = None,
) -> LossSpec:
    """Resolve a CLI-style loss name: ``dpo``/``ipo`` fix f = reverse KL; ``fdpo``/``iupo`` use f.

    ``psi`` follows from the name: logit for dpo/fdpo, identity for ipo/iupo. This is the one
    place where a loss name becomes a :class:`LossSpec`; every layer passes the spec on whole.

    Parameters
    ----------
    loss : str
        One of :data:`LOSS_NAMES`.
    f : str or Divergence
        The generator, for ``fdpo`` and ``iupo`` (ignored for ``dpo``, ``ipo``).
    form : str
        One of :data:`FORMS` (``dpo``, ``ipo`` are per response).
    alpha : float, optional
        The α of the α-divergence.

    Returns
    -------
    LossSpec

    Raises
    ------
    LossSpecError
        An unknown loss or form.
    ExpressionError
        An f that :func:`get_divergence` refuses.
    """
    name = loss.strip().lower().replace("-", "")
    if name not in LOSS_NAMES:
        raise LossSpecError(f"loss={loss!r} is unknown; choose one of {LOSS_NAMES}")
    if name in FIXED_DIVERGENCE:
        divergence = get_divergence(FIXED_DIVERGENCE[name])
        form = "per_response"
    else:
        divergence = get_divergence(f, alpha)
    psi: Psi = "logit" if name in ("dpo", "fdpo") else "identity"
    spec = LossSpec(psi, divergence, form)  # type: ignore[arg-type]
    _ = spec.kernel  # fails now, with the reason, for a generator without f'
    return spec


def pair_statistic(
    spec: LossSpec, policy_w: Any, policy_l: Any, ref_w: Any, ref_l: Any
) -> Any:
    """The pair statistic s of ``spec`` from the four log-probabilities (any shape, broadcast).

    A difference of kernel values, taken by :meth:`LogSpaceKernel.difference` so that k's
    constant cancels exactly (JS pairs with log-ratios above 37 would otherwise tie at 0).

    Parameters
    ----------
    spec : LossSpec
        The family member (Ψ, f, form).
    policy_w, policy_l, ref_w, ref_l : array or Tensor
        log π(y_w), log π(y_l), log π_ref(y_w), log π_ref(y_l); NumPy or torch.

    Returns
    -------
    array or Tensor
        s: eq. 17's per-response statistic or eq. 23's, as ``spec.form`` says.
    """
    k = spec.kernel
    if spec.form == "paper":
        return k.difference(policy_w - policy_l, ref_w - ref_l)
    return k.difference(policy_w - ref_w, policy_l - ref_l)


def pair_statistic_grads(
    spec: LossSpec, policy_w: Any, policy_l: Any, ref_w: Any, ref_l: Any
) -> tuple[Any, Any]:
    """∂s/∂log π(y_w) and ∂s/∂log π(y_l), for analytic gradients (via f'' in the slope).

    Parameters
    ----------
    spec : LossSpec
        The family member; its f and form matter here.
    policy_w, policy_l : array or Tensor
        log π(y_w) and log π(y_l).
    ref_w, ref_l : array or Tensor
        log π_ref(y_w) and log π_ref(y_l).

    Returns
    -------
    tuple of array or Tensor
        The two partial derivatives, each the shape of the inputs.
    """
    k = spec.kernel
    if spec.form == "paper":
        g = k.slope(policy_w - policy_l)
        return g, -g
    return k.slope(policy_w - ref_w), -k.slope(policy_l - ref_l)


def pair_loss(spec: LossSpec, statistic: Any, beta: float) -> Any:
    """Per-pair loss: −log σ(β s) for Ψ = logit (eqs. 4, 5); (s − 1/(2β))² for Ψ = id (10, 24).

    Parameters
    ----------
    spec : LossSpec
        The family member; only its Ψ matters here.
    statistic : array or Tensor
        The pair statistic s (:func:`pair_statistic`).
    beta : float
        The regularisation strength β > 0.

    Returns
    -------
    array or Tensor
        The loss of each pair, the shape of ``statistic``.
    """
    if spec.psi == "logit":
        return _softplus(-beta * statistic)
    return (statistic - 1.0 / (2.0 * beta)) ** 2


def pair_loss_grad(spec: LossSpec, statistic: Any, beta: float) -> Any:
    """d(per-pair loss)/ds.

    Parameters
    ----------
    spec : LossSpec
        The family member; only its Ψ matters here.
    statistic : array or Tensor
        The pair statistic s.
    beta : float
        The regularisation strength β > 0.

    Returns
    -------
    array or Tensor
        The derivative of each pair's loss in s, the shape of ``statistic``.
    """
    if spec.psi == "logit":
        return -beta * _sigmoid(-beta * statistic)
    return 2.0 * (statistic - 1.0 / (2.0 * beta))


def _softplus(x: Any) -> Any:
    if is_torch(x):
        import torch

        return -torch.nn.functional.logsigmoid(-x)
    return np.logaddexp(0.0, x)


def _sigmoid(x: Any) -> Any:
    if is_torch(x):
        return x.sigmoid()
    import scipy.special

    return scipy.special.expit(x)
