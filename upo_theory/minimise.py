"""The minimiser of a loss of the family on a tabular problem (:class:`~upo_theory.TableLoss`).

L-BFGS from θ = log π_ref, finished by Newton steps on the K × K blocks of the Hessian, so that
convergence (‖∂L/∂θ‖₂ < gtol) does not hinge on the last bits of one BLAS; a loss without a
minimiser (π running off to the boundary of the simplex) is reported as not converged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from .errors import UserError
from .table_loss import TableLoss

BOUNDARY = 1e-12
"""A minimiser with some π(y|x) below this is on its way to the simplex boundary, not converged."""
POLISH_MAX_ACTIONS = 200
"""Above this many actions the Newton polish (2K gradients and C pseudo-inverses of K × K per
step) would cost more than L-BFGS itself; the L-BFGS point then stands."""


class MinimiseError(UserError):
    """A minimisation that reached a non-finite loss."""


@dataclass(frozen=True)
class Minimum:
    """A converged (or not) minimiser, like SciPy's ``OptimizeResult``: policy (C, K), θ, loss,
    ‖∂L/∂θ‖, L-BFGS's iterations and why it stopped.

    Parameters
    ----------
    policy : numpy.ndarray, shape (C, K)
        softmax(θ) at the end.
    theta : numpy.ndarray, shape (C, K)
        The logits θ at the end.
    loss : float
        L(θ) there.
    grad_norm : float
        ‖∂L/∂θ‖₂ there.
    converged : bool
        Whether ‖∂L/∂θ‖₂ < ``gtol`` (False also where the loss has no minimiser).
    iterations : int
        L-BFGS's iterations.
    message : str
        Why it stopped.
    """

    policy: np.ndarray
    theta: np.ndarray
    loss: float
    grad_norm: float
    converged: bool
    iterations: int
    message: str


def minimise(
    table: TableLoss, gtol: float = 1e-8, max_iter: int = 5000,
    theta0: np.ndarray | None = None,
) -> Minimum:
    """Minimise L(θ) by L-BFGS from θ = log π_ref, then Newton; converged means ‖∂L/∂θ‖₂ < gtol.

    L-BFGS may stop on a relative reduction of L at the last bits of float64 (which bits depends
    on the BLAS) with ‖∂L/∂θ‖ just above ``gtol``; a few Newton steps (:func:`_polish`) then
    finish the job, so convergence does not hinge on one machine's rounding.

    A loss without a minimiser (DPO on a finite dataset where a pair is never reversed) drives
    some π(y|x) towards 0 while its gradient vanishes: it is returned with ``converged=False``
    (and a message saying why) when a probability falls below :data:`BOUNDARY` or the loss is
    lower still at twice the distance from the start.

    Parameters
    ----------
    table : TableLoss
        The loss L(θ) to minimise.
    gtol : float, optional
        The gradient norm below which the minimiser has converged.
    max_iter : int, optional
        The most L-BFGS iterations.
    theta0 : numpy.ndarray, shape (C, K), optional
        The starting logits (log π_ref by default).

    Returns
    -------
    Minimum
        The minimiser, with whether it converged and why it stopped.
    """
    # imported here: at import time of the core it made the forked child that admits a user's f
    # (upo_theory.budget.within_budget) hang, seen with python -m upo_theory --f "Abs(u-1)**3"
    import scipy.optimize

    shape = table.table.shape
    start = table.log_ref if theta0 is None else theta0

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = table(flat.reshape(shape))
        return loss, grad.ravel()

    out = scipy.optimize.minimize(
        fun, start.ravel(), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "maxcor": 30, "ftol": 0.0, "gtol": gtol / 10},
    )
    theta = out.x.reshape(shape)
    loss, grad = table(theta)
    message = out.message if isinstance(out.message, str) else str(out.message)
    if np.all(np.isfinite(grad)) and np.linalg.norm(grad) >= gtol:
        theta, loss, grad, steps = _polish(table, theta, gtol)
        message = f"{message}; then {steps} Newton step(s)"
    grad_norm = float(np.linalg.norm(grad))
    if not np.isfinite(loss) or not np.isfinite(grad_norm):
        raise MinimiseError(f"L-BFGS reached a non-finite loss after {out.nit} iterations; "
                            "a small beta overflows the loss's target 1/(2 beta): give a larger "
                            "beta, or check the problem")
    policy = np.exp(log_softmax(theta, axis=1))
    runaway = policy.min() < BOUNDARY or _still_descending(table, start, theta, loss)
    if runaway:
        message = ("the loss keeps decreasing as theta moves further from log pi_ref (towards the "
                   f"boundary of the simplex): it has no minimiser ({message})")
    return Minimum(policy, theta, loss, grad_norm, grad_norm < gtol and not runaway,
                   int(out.nit), message)


def _polish(
    table: TableLoss, theta: np.ndarray, gtol: float, max_steps: int = 8
) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Newton steps θ ← θ − t H⁺ ∇L, each kept only if it lowers ‖∂L/∂θ‖ (t halved until it
    does, :func:`_shortened`); stops below ``gtol``.

    L is a sum over contexts of terms in θ_x alone, so its Hessian is C blocks of K × K
    (:func:`_hessian_blocks`). Softmax is unchanged by adding a constant to θ_x, so each block
    has the constants as null direction: the step is the least-squares (pseudo-inverse) solution
    with that direction projected out. Beyond :data:`POLISH_MAX_ACTIONS` actions the L-BFGS
    point is returned as it is. Returns (θ, L, ∂L/∂θ, steps taken).
    """
    loss, grad = table(theta)
    norm = float(np.linalg.norm(grad))
    actions = theta.shape[1]
    if actions > POLISH_MAX_ACTIONS:
        return theta, loss, grad, 0
    project = np.eye(actions) - 1 / actions  # onto the θ_x that change the policy
    taken = 0
    for _ in range(max_steps):
        if norm < gtol:
            break
        hessian = project @ _hessian_blocks(table, theta) @ project  # (C, K, K)
        inverse = np.linalg.pinv(hessian, rcond=1e-12, hermitian=True)
        step = -np.einsum("cij,cj->ci", inverse, grad @ project)
        found = _shortened(table, theta, step, norm)
        if found is None:
            break
        theta, loss, grad = found
        norm, taken = float(np.linalg.norm(grad)), taken + 1
    return theta, loss, grad, taken


def _shortened(
    table: TableLoss, theta: np.ndarray, step: np.ndarray, norm: float, halvings: int = 10
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(θ + t·step, L, ∂L/∂θ) for the longest t ∈ {1, ½, ¼, …} that lowers ‖∂L/∂θ‖ below
    ``norm`` (far from a minimiser the full Newton step can overshoot); None if none does."""
    for t in 0.5 ** np.arange(halvings):
        candidate = theta + t * step
        loss, grad = table(candidate)
        if np.isfinite(loss) and np.linalg.norm(grad) < norm:
            return candidate, loss, grad
    return None


def _hessian_blocks(table: TableLoss, theta: np.ndarray) -> np.ndarray:
    """∂²L/∂θ_x² per context by central differences of the analytic gradient, symmetrised,
    shape (C, K, K): bumping action k in every context at once gives column k of every block."""
    step = 1e-5 * np.maximum(1.0, np.abs(theta))
    blocks = np.empty(theta.shape + theta.shape[1:])
    for k in range(theta.shape[1]):
        bump = np.zeros_like(theta)
        bump[:, k] = step[:, k]
        up, down = table(theta + bump)[1], table(theta - bump)[1]
        blocks[:, :, k] = (up - down) / (2 * step[:, k:k + 1])
    return 0.5 * (blocks + blocks.transpose(0, 2, 1))


def _still_descending(table: TableLoss, start: np.ndarray, theta: np.ndarray,
                      loss: float) -> bool:
    """Whether L is lower at start + 2 (θ − start): then θ is no minimiser, only a flat stretch
    on the way to infinity (the gradient of −log σ vanishes there)."""
    farther = table(start + 2 * (theta - start))[0]
    return bool(farther < loss - 1e-9 * abs(loss))
