"""The claims' worked instances: one-context problems whose inputs are exact rationals.

The verification report needs small instances whose numbers a reader can plug in. An
:class:`ExactProblem` keeps its inputs as rationals for display and hands the engine's float64
:class:`~upo_theory.Problem` (``.problem``) to the one tabular engine: the UPO optimum of
eq. (22) by Theorem 3.1 (:func:`~upo_theory.upo_optimum`) and the minimiser of a loss of the
family over the population of pairs (:func:`~upo_theory.minimise`), the same code the
simulator (``sim``) runs at scale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.special import expit

from .kernels import LogSpaceKernel
from .problem import Problem


@dataclass(frozen=True)
class ExactProblem:
    """One context: π_ref, μ and p*(y_i ≻ y_j) as exact rationals, β > 0, and Ψ."""

    pi_ref: tuple[sp.Rational, ...]
    mu: tuple[sp.Rational, ...]
    prefs: tuple[tuple[sp.Expr, ...], ...]
    beta: sp.Rational
    psi: str = "identity"

    @functools.cached_property
    def problem(self) -> Problem:
        """The same problem in float64, shape (1, K), as the engine takes it."""
        def floats(values: tuple[sp.Expr, ...]) -> list[float]:
            return [float(v) for v in values]

        return Problem(floats(self.pi_ref), floats(self.mu), [floats(r) for r in self.prefs],
                       float(self.beta), "exact")

    def describe(self) -> dict[str, str]:
        """The inputs as text a reader can copy."""
        rows = "; ".join(", ".join(str(p) for p in row) for row in self.prefs)
        return {"pi_ref": ", ".join(map(str, self.pi_ref)), "mu": ", ".join(map(str, self.mu)),
                "p*(y_i > y_j), rows i": rows, "beta": str(self.beta)}


def exact_bradley_terry(rewards: tuple[sp.Rational, ...], pi_ref: tuple[sp.Rational, ...],
                        beta: sp.Rational) -> ExactProblem:
    """p*(y_i ≻ y_j) = σ(r_i − r_j), μ uniform, Ψ = logit (Proposition 3.2's setting)."""
    k = len(rewards)
    prefs = tuple(tuple(1 / (1 + sp.exp(rj - ri)) for rj in rewards) for ri in rewards)
    return ExactProblem(pi_ref, (sp.Rational(1, k),) * k, prefs, beta, "logit")


def likelihood_gap(kernel: LogSpaceKernel, problem: ExactProblem, policy: np.ndarray) -> float:
    """max over pairs of |σ(β f'(u_i) − β f'(u_j)) − p*(y_i ≻ y_j)|, u = π/π_ref (eqs. 20, 21),
    for a policy of shape (K,)."""
    floats = problem.problem
    t = np.log(policy) - np.log(floats.pi_ref[0])
    model = expit(floats.beta * (kernel(t)[:, None] - kernel(t)[None, :]))
    return float(np.abs(model - floats.prefs[0]).max())
