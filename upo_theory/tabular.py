"""A one-context preference problem with exact inputs: its UPO optimum and a loss's minimiser.

The verification report needs small worked instances whose numbers a reader can plug in: the
UPO optimum π* of eq. (22) by Theorem 3.1, and the policy that minimises a member of the loss
family (eq. 24) over the population of pairs. This module computes both in float64 from the
kernels of :mod:`upo_theory.kernels`; the simulator (``sim``) does the same at scale, with
contexts, datasets and trajectories.

With K actions, behaviour policy μ and preferences p*(y_i ≻ y_j) (p* + p*ᵀ = 1), the population
loss of a pair statistic s and per-pair loss ℓ is

    L(π) = Σ_{i, j} μ_i μ_j p*(y_i ≻ y_j) ℓ(s(y_w = y_i, y_l = y_j)),

the expectation over y, y' ~ μ with the winner drawn from p*. The policy is π = softmax(θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.special import expit, log_softmax

from .kernels import LogSpaceKernel
from .losses import LossSpec, pair_loss, pair_loss_grad, pair_statistic, pair_statistic_grads


@dataclass(frozen=True)
class TabularProblem:
    """One context: π_ref, μ and p*(y_i ≻ y_j) as exact rationals, β > 0, and Ψ."""

    pi_ref: tuple[sp.Rational, ...]
    mu: tuple[sp.Rational, ...]
    prefs: tuple[tuple[sp.Expr, ...], ...]
    beta: sp.Rational
    psi: str = "identity"

    @property
    def preferences(self) -> np.ndarray:
        return np.array([[float(p) for p in row] for row in self.prefs])

    @property
    def psibar(self) -> np.ndarray:
        """Ψ̄(y_i) = Σ_j μ_j Ψ(p*(y_i ≻ y_j)) (eq. 11), Ψ = identity or logit."""
        p = self.preferences
        values = p if self.psi == "identity" else np.log(p) - np.log1p(-p)
        return values @ np.array([float(m) for m in self.mu])

    @property
    def weight(self) -> np.ndarray:
        """W[i, j] = μ_i μ_j p*(y_i ≻ y_j): the weight of the pair (y_w, y_l) = (y_i, y_j)."""
        mu = np.array([float(m) for m in self.mu])
        return mu[:, None] * mu[None, :] * self.preferences

    @property
    def log_pi_ref(self) -> np.ndarray:
        return np.log(np.array([float(p) for p in self.pi_ref]))

    def describe(self) -> dict[str, str]:
        """The inputs as text a reader can copy."""
        rows = "; ".join(", ".join(str(p) for p in row) for row in self.prefs)
        return {"pi_ref": ", ".join(map(str, self.pi_ref)), "mu": ", ".join(map(str, self.mu)),
                "p*(y_i > y_j), rows i": rows, "beta": str(self.beta)}


def bradley_terry(rewards: tuple[sp.Rational, ...], pi_ref: tuple[sp.Rational, ...],
                  beta: sp.Rational) -> TabularProblem:
    """p*(y_i ≻ y_j) = σ(r_i − r_j), μ uniform, Ψ = logit (Proposition 3.2's setting)."""
    k = len(rewards)
    prefs = tuple(tuple(1 / (1 + sp.exp(rj - ri)) for rj in rewards) for ri in rewards)
    return TabularProblem(pi_ref, (sp.Rational(1, k),) * k, prefs, beta, "logit")


def upo_optimum(kernel: LogSpaceKernel, problem: TabularProblem) -> tuple[np.ndarray, float]:
    """(π*, λ) of Theorem 3.1 for an admissible f: π* = π_ref (f')⁻¹((Ψ̄ − λ)/β), Σ π* = 1.

    With c = −λ/β, S(c) = Σ π_ref (f')⁻¹(Ψ̄/β + c) is continuous and strictly increasing; it is
    at most 1 at c_lo = f'(1) − max Ψ̄/β (every ratio ≤ 1) and at least 1 at c_hi =
    f'(1/π_ref(top)) − Ψ̄(top)/β (the top action alone has mass 1). Brent's method on log S.
    """
    psibar, beta, log_ref = problem.psibar, float(problem.beta), problem.log_pi_ref
    top = int(np.argmax(psibar))
    c_lo = float(kernel(np.zeros(1))[0]) - psibar.max() / beta
    c_hi = float(kernel(np.array([-log_ref[top]]))[0]) - psibar[top] / beta

    def log_mass(c: float) -> float:
        t = kernel.log_inverse(psibar / beta + c)
        return float(np.logaddexp.reduce(log_ref + t))

    import scipy.optimize  # here: importing it costs a third of a second that most users skip

    if log_mass(c_lo) >= 0:
        c = c_lo
    else:
        c = scipy.optimize.brentq(log_mass, c_lo, c_hi, xtol=1e-15, rtol=1e-15, maxiter=200)
    log_pi = log_ref + kernel.log_inverse(psibar / beta + c)
    log_pi -= np.logaddexp.reduce(log_pi)
    return np.exp(log_pi), -beta * c


def population_loss(spec: LossSpec, problem: TabularProblem,
                    theta: np.ndarray) -> tuple[float, np.ndarray]:
    """L(softmax(θ)) and ∂L/∂θ for the loss ``spec`` (the chain rule through log-softmax)."""
    log_pi = log_softmax(theta)
    log_ref, weight, beta = problem.log_pi_ref, problem.weight, float(problem.beta)
    args = (log_pi[:, None], log_pi[None, :], log_ref[:, None], log_ref[None, :])
    stat = pair_statistic(spec, *args)
    loss = float((weight * pair_loss(spec, stat, beta)).sum())
    outer = weight * pair_loss_grad(spec, stat, beta)
    ds_w, ds_l = pair_statistic_grads(spec, *args)
    grad_log_pi = (outer * ds_w).sum(axis=1) + (outer * ds_l).sum(axis=0)
    return loss, grad_log_pi - np.exp(log_pi) * grad_log_pi.sum()


def minimiser(spec: LossSpec, problem: TabularProblem) -> tuple[np.ndarray, float]:
    """(π, ‖∂L/∂θ‖) at the minimiser of the population loss found by BFGS from π_ref."""
    import scipy.optimize

    out = scipy.optimize.minimize(
        lambda theta: population_loss(spec, problem, theta), problem.log_pi_ref, jac=True,
        method="BFGS", options={"gtol": 1e-13, "maxiter": 2000})
    theta = out.x - out.x.mean()
    return np.exp(log_softmax(theta)), float(np.linalg.norm(population_loss(
        spec, problem, theta)[1]))


def gradient_norm_at(spec: LossSpec, problem: TabularProblem, policy: np.ndarray) -> float:
    """‖∂L/∂θ‖ at θ = log π: zero at every interior minimiser of L."""
    return float(np.linalg.norm(population_loss(spec, problem, np.log(policy))[1]))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(p - q).sum())


def likelihood_gap(kernel: LogSpaceKernel, problem: TabularProblem,
                   policy: np.ndarray) -> float:
    """max over pairs of |σ(β f'(u_i) − β f'(u_j)) − p*(y_i ≻ y_j)|, u = π/π_ref (eqs. 20, 21)."""
    t = np.log(policy) - problem.log_pi_ref
    beta = float(problem.beta)
    model = expit(beta * (kernel(t)[:, None] - kernel(t)[None, :]))
    return float(np.abs(model - problem.preferences).max())
