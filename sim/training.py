"""Softmax policies trained step by step on the loss family, on a population or a finite dataset.

The loss and its minimiser are the core's (:class:`upo_theory.TableLoss`,
:func:`upo_theory.minimise`); :func:`table_loss` picks the population of pairs or a sampled
dataset (:class:`~sim.problems.Pairs`), and :func:`trajectory` records loss and TV to a
reference policy per step of gradient descent or Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax
from tqdm import tqdm

from upo_theory import LossSpec, Problem, TableLoss, UserError, population_loss, total_variation

from .problems import Pairs

OPTIMISERS = ("adam", "gd")


class TrainingError(UserError):
    """A training run that produced NaN/inf, or a bad training setting."""


@dataclass(frozen=True)
class Trajectory:
    """Per step (steps + 1 entries, step 0 = start): the loss and TV to the reference policy.

    Parameters
    ----------
    loss, tv : numpy.ndarray, shape (steps + 1,)
        The loss and the total variation (worst context) to the reference at each step.
    policy : numpy.ndarray, shape (C, K)
        The policy after the last step.
    optimiser : str
        ``"adam"`` or ``"gd"``.
    lr : float
        The learning rate.
    """

    loss: np.ndarray
    tv: np.ndarray
    policy: np.ndarray
    optimiser: str
    lr: float


def table_loss(spec: LossSpec, problem: Problem, pairs: Pairs | None = None) -> TableLoss:
    """The population loss of ``spec`` on ``problem``, or its loss on the dataset ``pairs``.

    Parameters
    ----------
    spec : LossSpec
        The loss.
    problem : Problem
        The problem.
    pairs : Pairs, optional
        A finite dataset (its empirical pair weights) instead of the population.

    Returns
    -------
    TableLoss
        L(θ) with its gradient.
    """
    if pairs is None:
        return population_loss(spec, problem)
    return TableLoss(spec, pairs.table(problem), np.log(problem.pi_ref), problem.beta)


def trajectory(
    table: TableLoss, steps: int, reference: np.ndarray, lr: float = 0.05,
    optimiser: str = "adam", progress: bool = False,
) -> Trajectory:
    """Gradient descent or Adam (β₁ = 0.9, β₂ = 0.999) from θ = log π_ref for ``steps`` steps.

    Parameters
    ----------
    table : TableLoss
        The loss.
    steps : int
        How many steps.
    reference : numpy.ndarray, shape (C, K)
        The policy the total variation is measured to (the loss's own optimum).
    lr : float, optional
        The learning rate.
    optimiser : {"adam", "gd"}, optional
        The optimiser.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    Trajectory
        The loss and total variation at each step.

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
    theta = table.log_ref.copy()
    first, second = np.zeros_like(theta), np.zeros_like(theta)
    losses, tvs = np.empty(steps + 1), np.empty(steps + 1)
    for step in tqdm(range(steps + 1), desc=table.spec.name, disable=not progress):
        value, grad = table(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            raise TrainingError(f"{table.spec.name}: loss or gradient is not finite at step "
                                f"{step}; lower lr={lr}")
        policy = np.exp(log_softmax(theta, axis=1))
        losses[step], tvs[step] = value, total_variation(policy, reference).max()
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
