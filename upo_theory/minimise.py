"""The minimiser of a loss of the family on a tabular problem (:class:`~upo_theory.TableLoss`).

L-BFGS from θ = log π_ref, finished by Newton steps on the small (CK × CK) Hessian, so that
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


class MinimiseError(UserError):
    """A minimisation that reached a non-finite loss."""


@dataclass(frozen=True)
class Minimum:
    """A converged (or not) minimiser, like SciPy's ``OptimizeResult``: policy (C, K), θ, loss,
    ‖∂L/∂θ‖, L-BFGS's iterations and why it stopped."""

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
                            "lower beta's range or check the problem")
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
    """Newton steps θ ← θ − H⁺ ∇L, each kept only if it lowers ‖∂L/∂θ‖; stops below ``gtol``.

    H is the (CK × CK) Hessian by central differences of the analytic gradient. Softmax is
    unchanged by adding a constant to θ_x, so H has one null direction per context: the step is
    the least-squares solution with those directions projected out. Returns (θ, L, ∂L/∂θ, steps).
    """
    loss, grad = table(theta)
    norm = float(np.linalg.norm(grad))
    contexts, actions = theta.shape
    centre = np.kron(np.eye(contexts), np.full((actions, actions), 1 / actions))
    project = np.eye(theta.size) - centre  # onto the θ that change the policy
    taken = 0
    for _ in range(max_steps):
        if norm < gtol:
            break
        hessian = project @ _hessian(table, theta) @ project
        step = np.linalg.lstsq(hessian, -(project @ grad.ravel()), rcond=1e-12)[0]
        candidate = theta + step.reshape(theta.shape)
        new_loss, new_grad = table(candidate)
        new_norm = float(np.linalg.norm(new_grad))
        if not (np.isfinite(new_loss) and new_norm < norm):
            break
        theta, loss, grad, norm, taken = candidate, new_loss, new_grad, new_norm, taken + 1
    return theta, loss, grad, taken


def _hessian(table: TableLoss, theta: np.ndarray) -> np.ndarray:
    """∂²L/∂θ² by central differences of the analytic gradient, symmetrised, shape (CK, CK)."""
    flat = theta.ravel()
    step = 1e-5 * np.maximum(1.0, np.abs(flat))
    columns = []
    for index in range(flat.size):
        bump = np.zeros_like(flat)
        bump[index] = step[index]
        up = table((flat + bump).reshape(theta.shape))[1].ravel()
        down = table((flat - bump).reshape(theta.shape))[1].ravel()
        columns.append((up - down) / (2 * step[index]))
    hessian = np.stack(columns, axis=1)
    return 0.5 * (hessian + hessian.T)


def _still_descending(table: TableLoss, start: np.ndarray, theta: np.ndarray,
                      loss: float) -> bool:
    """Whether L is lower at start + 2 (θ − start): then θ is no minimiser, only a flat stretch
    on the way to infinity (the gradient of −log σ vanishes there)."""
    farther = table(start + 2 * (theta - start))[0]
    return bool(farther < loss - 1e-9 * abs(loss))
