"""The loss family on a tabular problem: L(θ) of the softmax policy π_θ(·|x) = softmax(θ_x).

θ has shape (C, K). A loss is a weighted sum over pairs (x, y_w, y_l) of the family's per-pair
loss ℓ(s) (:mod:`upo_theory.losses`: eqs. 4, 5, 10, 23–24), the weights a table W[x, y_w, y_l]
(:class:`PairTable`): the population of pairs (eq. 24's expectation), or a finite dataset.

The gradient is the chain rule through the family's own derivatives:
``∂L/∂log π(y_w) = w ℓ'(s) ∂s/∂log π(y_w)`` (likewise y_l), then through log-softmax,
``∂L/∂θ = G − π Σ_y G(y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from .losses import LossSpec, pair_loss, pair_loss_grad, pair_statistic, pair_statistic_grads
from .problem import Problem, check_beta


@dataclass(frozen=True)
class PairTable:
    """Pair weights W[x, y_w, y_l], shape (C, K, K), summing to 1: the loss is Σ W ℓ(s).

    A finite dataset is its empirical weights (count / N), so both regimes share one code path.

    Parameters
    ----------
    weight : numpy.ndarray, shape (C, K, K)
        W[x, y_w, y_l] ≥ 0, summing to 1.
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
    def empirical(cls, context: np.ndarray, winner: np.ndarray, loser: np.ndarray,
                  problem: Problem) -> PairTable:
        """A finite dataset of N triples (x, y_w, y_l), integer arrays (N,), each weighing 1/N."""
        c, k = problem.contexts, problem.actions
        flat = (context * k + winner) * k + loser
        return cls(np.bincount(flat, minlength=c * k * k).reshape(c, k, k) / len(winner))

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape[:2]


@dataclass(frozen=True)
class TableLoss:
    """L(θ) of one member of the family for the policy softmax(θ) on one pair table, with ∂L/∂θ.

    Parameters
    ----------
    spec : LossSpec
        The family member (Ψ, f, form).
    table : PairTable
        The weights of the pairs.
    log_ref : numpy.ndarray, shape (C, K)
        log π_ref.
    beta : float
        The regularisation β > 0.
    """

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


def population_loss(spec: LossSpec, problem: Problem) -> TableLoss:
    """The population loss of ``spec`` on ``problem`` (eq. 24 per context, averaged).

    Parameters
    ----------
    spec : LossSpec
        The family member (Ψ, f, form).
    problem : Problem
        The problem whose pairs (y, y' ~ μ, the winner drawn from p*) weigh the loss.

    Returns
    -------
    TableLoss
        L(θ) with its gradient.
    """
    return TableLoss(spec, PairTable.population(problem), np.log(problem.pi_ref), problem.beta)


def gradient_norm_at(loss: TableLoss, policy: np.ndarray) -> float:
    """‖∂L/∂θ‖₂ at θ = log π (NaN where π has zeros: softmax cannot represent them).

    Parameters
    ----------
    loss : TableLoss
        The loss L.
    policy : numpy.ndarray, shape (C, K)
        The policy π at which to take the gradient.

    Returns
    -------
    float
        ‖∂L/∂θ‖₂ over every context.
    """
    if np.any(policy <= 0):
        return float("nan")
    return float(np.linalg.norm(loss(np.log(policy))[1]))
