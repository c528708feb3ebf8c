"""Softmax policies trained on the loss family, with analytic gradients.

The policy is ``π_θ(·|x) = softmax(θ_x)``, θ of shape (C, K). A loss is a weighted sum over pairs
(x, y_w, y_l) of the family's per-pair loss ℓ(s) (:mod:`upo_theory.losses`: eqs. 4, 5, 10, 23–24):

* population regime: every (x, y, y') with weight ``2 μ(y|x) μ(y'|x) p*(y ≻ y'|x) / C`` (y wins);
* finite dataset: the N sampled triples, weight 1/N each (where DPO can overfit).

Both are a weight array W[x, y_w, y_l] (:class:`PairTable`).

The gradient is the chain rule through the family's own derivatives:
``∂L/∂log π(y_w) = w ℓ'(s) ∂s/∂log π(y_w)`` (likewise y_l), then through log-softmax,
``∂L/∂θ = G − π Σ_y G(y)``. :func:`minimise` runs L-BFGS to a gradient norm below ``gtol``;
:func:`trajectory` records loss and TV to a reference policy per step of gradient descent or Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.special import log_softmax
from tqdm import tqdm

from upo_theory import (
    LossSpec,
    UserError,
    pair_loss,
    pair_loss_grad,
    pair_statistic,
    pair_statistic_grads,
)

from .objective import total_variation
from .problems import Pairs, Problem, check_beta

OPTIMISERS = ("adam", "gd")
BOUNDARY = 1e-12
"""A minimiser with some π(y|x) below this is on its way to the simplex boundary, not converged."""


class TrainingError(UserError):
    """A training run that produced NaN/inf, or a bad training setting."""


@dataclass(frozen=True)
class PairTable:
    """Pair weights W[x, y_w, y_l], shape (C, K, K), summing to 1: the loss is Σ W ℓ(s).

    A finite dataset is its empirical weights (count / N), so both regimes share one code path.
    """

    weight: np.ndarray

    @classmethod
    def population(cls, problem: Problem) -> PairTable:
        """W = 2 μ(y|x) μ(y'|x) p*(y ≻ y'|x) / C: the exact expectation over pairs and winners.

        The triple (y_w, y_l) = (y, y') comes from the draw (y, y') with y winning and from the
        draw (y', y) with y winning, each with probability μ(y) μ(y') p*(y ≻ y'); hence the 2
        (on the diagonal, 2 μ(y)² · ½ = μ(y)²). W sums to 1 since p + pᵀ = 1.
        """
        mu = problem.mu
        return cls(2 * mu[:, :, None] * mu[:, None, :] * problem.prefs / problem.contexts)

    @classmethod
    def dataset(cls, pairs: Pairs, problem: Problem) -> PairTable:
        """The finite dataset: each of the N triples with weight 1/N."""
        c, k = problem.contexts, problem.actions
        pairs.check(c, k)
        flat = (pairs.context * k + pairs.winner) * k + pairs.loser
        return cls(np.bincount(flat, minlength=c * k * k).reshape(c, k, k) / len(pairs))

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape[:2]


@dataclass(frozen=True)
class Objective:
    """The loss L(θ) of one member of the family on one pair table, with its gradient."""

    spec: LossSpec
    table: PairTable
    log_ref: np.ndarray
    beta: float

    def __post_init__(self) -> None:
        check_beta(self.beta)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """L(θ) and ∂L/∂θ, θ of shape (C, K).

        The four log-probabilities broadcast as (C, K, 1) for y_w and (C, 1, K) for y_l, so a
        per-response kernel is evaluated K times per context and the paper form K² times.
        """
        weight = self.table.weight  # (C, K, K)
        log_pi = log_softmax(theta, axis=1)  # (C, K)
        args = (log_pi[:, :, None], log_pi[:, None, :],
                self.log_ref[:, :, None], self.log_ref[:, None, :])
        stat = pair_statistic(self.spec, *args)  # (C, K, K)
        loss = float((weight * pair_loss(self.spec, stat, self.beta)).sum())
        outer = weight * pair_loss_grad(self.spec, stat, self.beta)
        ds_w, ds_l = pair_statistic_grads(self.spec, *args)
        grad_log_pi = (outer * ds_w).sum(axis=2) + (outer * ds_l).sum(axis=1)  # (C, K)
        grad = grad_log_pi - np.exp(log_pi) * grad_log_pi.sum(axis=1, keepdims=True)
        return loss, grad


@dataclass(frozen=True)
class TrainResult:
    """A converged (or not) minimiser: policy (C, K), θ, loss, ‖∂L/∂θ‖, L-BFGS's iterations."""

    policy: np.ndarray
    theta: np.ndarray
    loss: float
    grad_norm: float
    converged: bool
    iterations: int
    message: str


@dataclass(frozen=True)
class Trajectory:
    """Per step (steps + 1 entries, step 0 = start): the loss and TV to the reference policy."""

    loss: np.ndarray
    tv: np.ndarray
    policy: np.ndarray
    optimiser: str
    lr: float


def objective_for(
    spec: LossSpec, problem: Problem, pairs: Pairs | None = None
) -> Objective:
    """The population loss of ``spec`` on ``problem``, or its loss on the dataset ``pairs``."""
    table = PairTable.population(problem) if pairs is None else PairTable.dataset(pairs, problem)
    return Objective(spec, table, np.log(problem.pi_ref), problem.beta)


def minimise(
    objective: Objective, gtol: float = 1e-8, max_iter: int = 5000,
    theta0: np.ndarray | None = None,
) -> TrainResult:
    """Minimise L(θ) by L-BFGS from θ = log π_ref, then Newton; converged means ‖∂L/∂θ‖₂ < gtol.

    L-BFGS may stop on a relative reduction of L at the last bits of float64 (which bits depends
    on the BLAS) with ‖∂L/∂θ‖ just above ``gtol``; a few Newton steps (:func:`_polish`) then
    finish the job, so convergence does not hinge on one machine's rounding.

    A loss without a minimiser (DPO on a finite dataset where a pair is never reversed) drives
    some π(y|x) towards 0 while its gradient vanishes: it is returned with ``converged=False``
    (and a message saying why) when a probability falls below :data:`BOUNDARY` or the loss is
    lower still at twice the distance from the start.
    """
    shape = objective.table.shape
    start = objective.log_ref if theta0 is None else theta0

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = objective(flat.reshape(shape))
        return loss, grad.ravel()

    out = scipy.optimize.minimize(
        fun, start.ravel(), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "maxcor": 30, "ftol": 0.0, "gtol": gtol / 10},
    )
    theta = out.x.reshape(shape)
    loss, grad = objective(theta)
    message = out.message if isinstance(out.message, str) else str(out.message)
    if np.all(np.isfinite(grad)) and np.linalg.norm(grad) >= gtol:
        theta, loss, grad, steps = _polish(objective, theta, gtol)
        message = f"{message}; then {steps} Newton step(s)"
    grad_norm = float(np.linalg.norm(grad))
    if not np.isfinite(loss) or not np.isfinite(grad_norm):
        raise TrainingError(f"L-BFGS reached a non-finite loss after {out.nit} iterations; "
                            "lower beta's range or check the problem")
    policy = np.exp(log_softmax(theta, axis=1))
    runaway = policy.min() < BOUNDARY or _still_descending(objective, start, theta, loss)
    if runaway:
        message = ("the loss keeps decreasing as theta moves further from log pi_ref (towards the "
                   f"boundary of the simplex): it has no minimiser ({message})")
    return TrainResult(policy, theta, loss, grad_norm, grad_norm < gtol and not runaway,
                       int(out.nit), message)


def _polish(
    objective: Objective, theta: np.ndarray, gtol: float, max_steps: int = 8
) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Newton steps θ ← θ − H⁺ ∇L, each kept only if it lowers ‖∂L/∂θ‖; stops below ``gtol``.

    H is the (CK × CK) Hessian by central differences of the analytic gradient. Softmax is
    unchanged by adding a constant to θ_x, so H has one null direction per context: the step is
    the least-squares solution with those directions projected out. Returns (θ, L, ∂L/∂θ, steps).
    """
    loss, grad = objective(theta)
    norm = float(np.linalg.norm(grad))
    contexts, actions = theta.shape
    centre = np.kron(np.eye(contexts), np.full((actions, actions), 1 / actions))
    project = np.eye(theta.size) - centre  # onto the θ that change the policy
    taken = 0
    for _ in range(max_steps):
        if norm < gtol:
            break
        hessian = project @ _hessian(objective, theta) @ project
        step = np.linalg.lstsq(hessian, -(project @ grad.ravel()), rcond=1e-12)[0]
        candidate = theta + step.reshape(theta.shape)
        new_loss, new_grad = objective(candidate)
        new_norm = float(np.linalg.norm(new_grad))
        if not (np.isfinite(new_loss) and new_norm < norm):
            break
        theta, loss, grad, norm, taken = candidate, new_loss, new_grad, new_norm, taken + 1
    return theta, loss, grad, taken


def _hessian(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """∂²L/∂θ² by central differences of the analytic gradient, symmetrised, shape (CK, CK)."""
    flat = theta.ravel()
    step = 1e-5 * np.maximum(1.0, np.abs(flat))
    columns = []
    for index in range(flat.size):
        bump = np.zeros_like(flat)
        bump[index] = step[index]
        up = objective((flat + bump).reshape(theta.shape))[1].ravel()
        down = objective((flat - bump).reshape(theta.shape))[1].ravel()
        columns.append((up - down) / (2 * step[index]))
    hessian = np.stack(columns, axis=1)
    return 0.5 * (hessian + hessian.T)


def _still_descending(objective: Objective, start: np.ndarray, theta: np.ndarray,
                      loss: float) -> bool:
    """Whether L is lower at start + 2 (θ − start): then θ is no minimiser, only a flat stretch
    on the way to infinity (the gradient of −log σ vanishes there)."""
    farther = objective(start + 2 * (theta - start))[0]
    return bool(farther < loss - 1e-9 * abs(loss))


def gradient_at(objective: Objective, policy: np.ndarray) -> float:
    """‖∂L/∂θ‖₂ at θ = log π (NaN where π has zeros: softmax cannot represent them)."""
    if np.any(policy <= 0):
        return float("nan")
    return float(np.linalg.norm(objective(np.log(policy))[1]))


def trajectory(
    objective: Objective, steps: int, reference: np.ndarray, lr: float = 0.05,
    optimiser: str = "adam", progress: bool = False,
) -> Trajectory:
    """Gradient descent or Adam (β₁ = 0.9, β₂ = 0.999) from θ = log π_ref for ``steps`` steps.

    Raises
    ------
    TrainingError
        For an unknown optimiser, steps < 1, lr ≤ 0, or a NaN/inf loss (naming the step).
    """
    if optimiser not in OPTIMISERS:
        raise TrainingError(f"optimiser={optimiser!r} is unknown; choose one of {OPTIMISERS}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise TrainingError(f"steps={steps!r} must be a positive integer")
    if not lr > 0:
        raise TrainingError(f"lr={lr!r} must be positive, e.g. lr=0.05")
    theta = objective.log_ref.copy()
    first, second = np.zeros_like(theta), np.zeros_like(theta)
    losses, tvs = np.empty(steps + 1), np.empty(steps + 1)
    for step in tqdm(range(steps + 1), desc=objective.spec.name, disable=not progress):
        loss, grad = objective(theta)
        if not np.isfinite(loss) or not np.all(np.isfinite(grad)):
            raise TrainingError(f"{objective.spec.name}: loss or gradient is not finite at step "
                                f"{step}; lower lr={lr}")
        policy = np.exp(log_softmax(theta, axis=1))
        losses[step], tvs[step] = loss, total_variation(policy, reference).max()
        if step == steps:
            break
        # --- update ---
        if optimiser == "gd":
            theta = theta - lr * grad
        else:
            first = 0.9 * first + 0.1 * grad
            second = 0.999 * second + 0.001 * grad**2
            unbiased = first / (1 - 0.9 ** (step + 1))
            scale = np.sqrt(second / (1 - 0.999 ** (step + 1))) + 1e-12
            theta = theta - lr * unbiased / scale
    return Trajectory(losses, tvs, policy, optimiser, lr)
