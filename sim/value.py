r"""The value J(π) of a policy under the UPO objective of eq. (11).

Per context, :math:`J(\pi) = \sum_y \pi(y)\,\bar\Psi(y) - \beta \sum_y \pi_{\mathrm{ref}}(y)\,
f\big(\pi(y)/\pi_{\mathrm{ref}}(y)\big)` with :math:`\bar\Psi(y) = \sum_{y'} \mu(y')\,
\Psi\big(p^*(y \succ y')\big)`; f is evaluated from its SymPy expression, with the limit
f(0+) where π(y) = 0 (finite for Pearson χ², the only case where the optimum has zeros).
"""

from __future__ import annotations

import numpy as np

from upo_theory import Divergence, Problem, generator_function


def upo_value(
    problem: Problem, divergence: Divergence, psi: str, policy: np.ndarray
) -> np.ndarray:
    """J(π) of eq. (11) per context, shape (C,), for a (C, K) policy.

    Parameters
    ----------
    problem : Problem
        The problem.
    divergence : Divergence
        The generator f.
    psi : str
        Ψ.
    policy : numpy.ndarray, shape (C, K)
        The policy π.

    Returns
    -------
    numpy.ndarray, shape (C,)
        J(π) in each context.
    """
    policy = np.atleast_2d(policy)
    reward = (policy * problem.psibar(psi)).sum(axis=1)
    penalty = (problem.pi_ref * generator_function(divergence)(policy / problem.pi_ref)).sum(axis=1)
    return reward - problem.beta * penalty
