"""The tabular UPO problem (eq. 11) for C contexts and K actions, and the distance between policies.

A :class:`Problem` holds, per context x, the reference policy ``π_ref(·|x) > 0``, the behaviour
policy ``μ(·|x) > 0`` that draws the pairs, the preference matrix ``p*(y ≻ y'|x)`` (with
``p + pᵀ = 1`` and ½ on the diagonal) and β, validated when made, with one-line errors that name
the fix. It is the one problem of the project: the claims' worked instances
(:mod:`upo_theory.exact_problem`) and the simulator (``sim``) both build it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError
from .losses import PSIS

_ATOL = 1e-9


class ProblemError(UserError):
    """An invalid problem: bad preferences, π_ref, μ, β, sizes or a malformed problem file."""


@dataclass(frozen=True)
class Problem:
    """The UPO problem for C contexts and K actions; arrays are (C, K), ``prefs`` is (C, K, K).

    ``prefs[x, i, j] = p*(y_i ≻ y_j | x)``. Build with a generator or directly; validated here.

    Parameters
    ----------
    pi_ref : numpy.ndarray, shape (C, K)
        The reference policy, each row a distribution.
    mu : numpy.ndarray, shape (C, K)
        The distribution of the compared responses, each row a distribution.
    prefs : numpy.ndarray, shape (C, K, K)
        p*(y_i ≻ y_j | x), with p* + p*ᵀ = 1.
    beta : float
        The regularisation β > 0.
    name : str, optional
        What the problem is called in reports.
    rewards : numpy.ndarray, shape (C, K), optional
        The rewards of a Bradley–Terry problem, where it has them.

    Raises
    ------
    ProblemError
        For shapes that disagree, rows that are not distributions or preferences that are not.
    """

    pi_ref: np.ndarray
    mu: np.ndarray
    prefs: np.ndarray
    beta: float
    name: str = "custom"
    rewards: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pi_ref", _as_policy("pi_ref", self.pi_ref))
        object.__setattr__(self, "mu", _as_policy("mu", self.mu))
        object.__setattr__(self, "prefs", _as_prefs(self.prefs))
        check_beta(self.beta)
        c, k = self.pi_ref.shape
        if self.mu.shape != (c, k):
            raise ProblemError(f"mu has shape {self.mu.shape} but pi_ref has {(c, k)}; match them")
        if self.prefs.shape != (c, k, k):
            raise ProblemError(
                f"prefs has shape {self.prefs.shape}; give one {k}x{k} matrix per context"
            )

    @property
    def contexts(self) -> int:
        return self.pi_ref.shape[0]

    @property
    def actions(self) -> int:
        return self.pi_ref.shape[1]

    def with_beta(self, beta: float) -> Problem:
        """The same problem with another β."""
        return Problem(self.pi_ref, self.mu, self.prefs, beta, self.name, self.rewards)

    def psi_values(self, psi: str) -> np.ndarray:
        """Ψ(p*(y ≻ y')) for Ψ ∈ {identity, logit}, shape (C, K, K)."""
        _check_psi(psi)
        if psi == "identity":
            return self.prefs
        if np.any((self.prefs <= 0) | (self.prefs >= 1)):
            raise ProblemError(
                "psi='logit' needs 0 < p*(y > y') < 1 for every pair (logit of 0 or 1 is "
                "infinite); use psi='identity' or soften the preferences"
            )
        return np.log(self.prefs) - np.log1p(-self.prefs)

    def psibar(self, psi: str) -> np.ndarray:
        """Ψ̄(y|x) = Σ_{y'} μ(y'|x) Ψ(p*(y ≻ y'|x)) (eq. 11), shape (C, K)."""
        return np.einsum("cij,cj->ci", self.psi_values(psi), self.mu)

    def win_rate(self) -> np.ndarray:
        """P(y|x) = E_{y'~μ} p*(y ≻ y'|x), shape (C, K): Ψ̄ for Ψ = identity."""
        return self.psibar("identity")

    def to_json(self) -> dict:
        """The inputs as plain lists, for JSON; ``Problem(**problem.to_json())`` is the same
        problem again."""
        return {"name": self.name, "beta": self.beta, "pi_ref": self.pi_ref.tolist(),
                "mu": self.mu.tolist(), "prefs": self.prefs.tolist()}


def check_beta(beta: float) -> None:
    """Raise :class:`ProblemError` unless β is a finite positive number.

    Parameters
    ----------
    beta : float
        The regularisation strength to check.
    """
    if not isinstance(beta, (int, float)) or not np.isfinite(beta) or beta <= 0:
        raise ProblemError(f"beta={beta!r} must be a positive number, e.g. beta=0.1")


def _check_psi(psi: str) -> None:
    """Raise :class:`ProblemError` unless Ψ is one of :data:`PSIS`."""
    if psi not in PSIS:
        raise ProblemError(f"psi={psi!r} is unknown; choose one of {PSIS}")


def _as_policy(name: str, value: object) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ProblemError(f"{name} must be a (contexts, K >= 2) array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ProblemError(f"{name} has a zero, negative or non-finite entry; every {name}(y|x) "
                           "must be > 0")
    sums = arr.sum(axis=1)
    if np.any(np.abs(sums - 1) > 1e-8):
        raise ProblemError(f"{name} rows sum to {sums.tolist()}, not 1; normalise {name}")
    return arr / sums[:, None]


def _as_prefs(value: object) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise ProblemError(f"prefs must be (contexts, K, K) or (K, K); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ProblemError("prefs has an entry outside [0, 1]; p*(y > y') is a probability")
    gap = np.max(np.abs(arr + arr.transpose(0, 2, 1) - 1))
    if gap > _ATOL:
        raise ProblemError(f"prefs violate p*(y > y') + p*(y' > y) = 1 by {gap:.3g}; make "
                           "p + p^T = 1 (which puts 1/2 on the diagonal)")
    return arr


def random_preference_table(rng: np.random.Generator, contexts: int, actions: int,
                            margin: float = 0.05) -> np.ndarray:
    """Random valid preferences, shape (C, K, K): p*(y_i ≻ y_j) ~ U(margin, 1 − margin) for
    i < j, p* + p*ᵀ = 1, and ½ on the diagonal.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness.
    contexts, actions : int
        C and K.
    margin : float, optional
        How far from 0 and 1 every preference stays.

    Returns
    -------
    numpy.ndarray, shape (C, K, K)
        The preferences p*.
    """
    upper = rng.uniform(margin, 1 - margin, (contexts, actions, actions))
    tri = np.triu(np.ones((actions, actions), dtype=bool), 1)
    prefs = np.where(tri, upper, 1 - upper.transpose(0, 2, 1))
    prefs[:, np.arange(actions), np.arange(actions)] = 0.5
    return prefs


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """TV(p, q) = ½ Σ_y |p(y) − q(y)| per context (last axis).

    Parameters
    ----------
    p, q : numpy.ndarray
        Distributions over the last axis, of the same shape.

    Returns
    -------
    numpy.ndarray
        The total variation of each context (the leading axes).
    """
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)
