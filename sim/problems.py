"""Tabular preference problems: the data of the UPO objective (eq. 11) for C contexts, K actions.

A :class:`Problem` holds, per context x, the reference policy ``π_ref(·|x) > 0``, the behaviour
policy ``μ(·|x) > 0`` that draws the pairs, the preference matrix ``p*(y ≻ y'|x)`` (with
``p + pᵀ = 1`` and ½ on the diagonal) and β. A :class:`Pairs` table is a finite dataset of
(x, y_w, y_l) triples. Both are validated when made, with one-line errors that name the fix.

Generators (each seeded): :func:`bradley_terry`, :func:`cyclic` (rock-paper-scissors-like),
:func:`random_preferences`, :func:`from_json`; the named :data:`CATALOGUE` of scenarios with
known answers (among them Azar et al.'s three-action example) is shared by tests, bench and docs.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit, log_softmax

from upo_theory import (
    PairTable,
    Problem,
    ProblemError,
    check_beta,
    parse_json,
    random_preference_table,
)


@dataclass(frozen=True)
class Pairs:
    """A finite dataset of N preference triples (x, y_w, y_l), as integer arrays of shape (N,).

    Parameters
    ----------
    context, winner, loser : numpy.ndarray of int, shape (N,)
        x, y_w and y_l of each triple.
    """

    context: np.ndarray
    winner: np.ndarray
    loser: np.ndarray

    def __len__(self) -> int:
        return len(self.winner)

    def table(self, problem: Problem) -> PairTable:
        """The dataset as pair weights on ``problem``: each of the N triples with weight 1/N."""
        self.check(problem.contexts, problem.actions)
        return PairTable.empirical(self.context, self.winner, self.loser, problem)

    def check(self, contexts: int, actions: int) -> None:
        """Raise :class:`ProblemError` unless every index is in range."""
        if len(self) == 0:
            raise ProblemError("the dataset has no pairs; give at least one (x, y_w, y_l)")
        for name, arr, n in (("context", self.context, contexts), ("winner", self.winner, actions),
                             ("loser", self.loser, actions)):
            if arr.shape != (len(self),) or arr.min() < 0 or arr.max() >= n:
                raise ProblemError(f"pair {name} indices must lie in 0..{n - 1}; got {arr}")


@dataclass(frozen=True)
class Scenario:
    """A named problem with what is known about it; ``pairs`` set for a finite-dataset scenario.

    Parameters
    ----------
    name : str
        Its name in the catalogue.
    problem : Problem
        The problem.
    description : str
        What is known about it.
    pairs : Pairs, optional
        The finite dataset of a finite-dataset scenario.
    """

    name: str
    problem: Problem
    description: str
    pairs: Pairs | None = None


def _check_sizes(actions: int, contexts: int) -> None:
    if not isinstance(actions, (int, np.integer)) or actions < 2:
        raise ProblemError(f"actions={actions!r}: a preference needs K >= 2 actions")
    if not isinstance(contexts, (int, np.integer)) or contexts < 1:
        raise ProblemError(f"contexts={contexts!r}: give C >= 1 contexts")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _reference(rng: np.random.Generator, contexts: int, actions: int, spread: float) -> np.ndarray:
    """A random full-support π_ref: softmax of N(0, spread²) logits (uniform for spread 0)."""
    return np.exp(log_softmax(spread * rng.standard_normal((contexts, actions)), axis=1))


def _behaviour(mu: str, pi_ref: np.ndarray) -> np.ndarray:
    if mu == "uniform":
        return np.full_like(pi_ref, 1.0 / pi_ref.shape[1])
    if mu == "ref":
        return pi_ref.copy()
    raise ProblemError(f"mu={mu!r} is unknown; choose 'uniform' or 'ref'")


def bradley_terry(
    actions: int = 4, contexts: int = 1, beta: float = 0.2, seed: int = 0, mu: str = "uniform",
    reward_scale: float = 1.0, ref_spread: float = 0.5,
) -> Problem:
    """Bradley–Terry preferences p*(y ≻ y') = σ(r(y) − r(y')) with rewards r ~ N(0, scale²).

    Parameters
    ----------
    actions, contexts : int, optional
        K and C.
    beta : float, optional
        The regularisation β.
    seed : int, optional
        The seed.
    mu : {"uniform", "ref"}, optional
        The behaviour policy: uniform, or π_ref.
    reward_scale : float, optional
        The standard deviation of the rewards.
    ref_spread : float, optional
        The standard deviation of π_ref's logits (0: uniform).

    Returns
    -------
    Problem
        The problem, with its rewards.
    """
    _check_sizes(actions, contexts)
    rng = _rng(seed)
    rewards = reward_scale * rng.standard_normal((contexts, actions))
    pi_ref = _reference(rng, contexts, actions, ref_spread)
    prefs = expit(rewards[:, :, None] - rewards[:, None, :])
    return Problem(pi_ref, _behaviour(mu, pi_ref), prefs, beta, "bradley_terry", rewards)


def cyclic(
    actions: int = 3, contexts: int = 1, beta: float = 0.2, seed: int = 0, mu: str = "uniform",
    strength: float = 0.3, ref_spread: float = 0.5,
) -> Problem:
    """Non-transitive preferences: y_i beats the next ⌊(K−1)/2⌋ actions (cyclically) w.p. ½ + s.

    For K = 3 this is rock–paper–scissors; no reward r makes these Bradley–Terry.

    Parameters
    ----------
    actions, contexts : int, optional
        K and C.
    beta : float, optional
        The regularisation β.
    seed : int, optional
        The seed.
    mu : {"uniform", "ref"}, optional
        The behaviour policy: uniform, or π_ref.
    strength : float, optional
        s: how far above ½ each win is.
    ref_spread : float, optional
        The standard deviation of π_ref's logits (0: uniform).

    Returns
    -------
    Problem
        The problem.
    """
    _check_sizes(actions, contexts)
    if not 0 < strength < 0.5:
        raise ProblemError(f"strength={strength} must lie in (0, 0.5) so that 0 < p* < 1")
    i = np.arange(actions)
    gap = (i[None, :] - i[:, None]) % actions
    half = (actions - 1) // 2
    sign = np.where((gap >= 1) & (gap <= half), 1.0, np.where(gap >= actions - half, -1.0, 0.0))
    prefs = np.broadcast_to(0.5 + strength * sign, (contexts, actions, actions)).copy()
    pi_ref = _reference(_rng(seed), contexts, actions, ref_spread)
    return Problem(pi_ref, _behaviour(mu, pi_ref), prefs, beta, "cyclic")


def random_preferences(
    actions: int = 4, contexts: int = 1, beta: float = 0.2, seed: int = 0, mu: str = "uniform",
    margin: float = 0.05, ref_spread: float = 0.5,
) -> Problem:
    """Random valid preferences: p*(y_i ≻ y_j) ~ U(margin, 1 − margin) for i < j, p + pᵀ = 1.

    Parameters
    ----------
    actions, contexts : int, optional
        K and C.
    beta : float, optional
        The regularisation β.
    seed : int, optional
        The seed.
    mu : {"uniform", "ref"}, optional
        The behaviour policy: uniform, or π_ref.
    margin : float, optional
        How far from 0 and 1 every preference stays.
    ref_spread : float, optional
        The standard deviation of π_ref's logits (0: uniform).

    Returns
    -------
    Problem
        The problem.
    """
    _check_sizes(actions, contexts)
    rng = _rng(seed)
    prefs = random_preference_table(rng, contexts, actions, margin)
    pi_ref = _reference(rng, contexts, actions, ref_spread)
    return Problem(pi_ref, _behaviour(mu, pi_ref), prefs, beta, "random")


GENERATORS: dict[str, Callable[..., Problem]] = {
    "bt": bradley_terry,
    "cyclic": cyclic,
    "random": random_preferences,
}


def generate(prefs: str, **kwargs: object) -> Problem:
    """A problem from the generator named ``prefs`` (one of :data:`GENERATORS`).

    Parameters
    ----------
    prefs : str
        The generator's name.
    **kwargs
        Its arguments (``actions``, ``contexts``, ``beta``, ``seed``, ``mu``, ...).

    Returns
    -------
    Problem
        The problem.
    """
    if prefs not in GENERATORS:
        raise ProblemError(f"prefs={prefs!r} is unknown; choose one of {tuple(GENERATORS)}")
    return GENERATORS[prefs](**kwargs)


def sample_pairs(problem: Problem, n: int, seed: int) -> Pairs:
    """N triples: x uniform, y, y' ~ μ ⊗ μ, y wins with probability p*(y ≻ y'|x).

    Parameters
    ----------
    problem : Problem
        The problem to sample from.
    n : int
        N, the number of triples.
    seed : int
        The seed.

    Returns
    -------
    Pairs
        The dataset.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ProblemError(f"pairs={n!r}: give a positive number of pairs to sample")
    rng = _rng(seed)
    x = rng.integers(problem.contexts, size=n)
    cdf = np.cumsum(problem.mu[x], axis=1)
    first = (rng.random((n, 1)) > cdf).sum(axis=1).clip(max=problem.actions - 1)
    second = (rng.random((n, 1)) > cdf).sum(axis=1).clip(max=problem.actions - 1)
    first_wins = rng.random(n) < problem.prefs[x, first, second]
    winner = np.where(first_wins, first, second)
    loser = np.where(first_wins, second, first)
    return Pairs(x, winner, loser)


PROBLEM_KEYS = ("pi_ref", "mu", "prefs", "beta", "pairs", "name")
"""The keys of a problem file; any other (a misspelt ``"betta"``) is refused, never ignored."""


def from_json(path: str | Path) -> Scenario:
    """Read a problem file: ``{"pi_ref", "mu", "prefs", "beta"}`` and optional ``"pairs"`` and
    ``"name"`` (no other key; a key given twice is refused too).

    ``pi_ref``/``mu`` are (K,) or (C, K) lists, ``prefs`` (K, K) or (C, K, K); ``pairs`` a list
    of ``[x, y_w, y_l]`` index triples (a finite dataset).

    Parameters
    ----------
    path : str or Path
        The problem file.

    Returns
    -------
    Scenario
        The problem, with its dataset where the file gives one.
    """
    try:
        data = parse_json(_read_problem_file(Path(path)))
    except ProblemError:
        raise
    except OSError as err:
        raise ProblemError(f"cannot read problem file {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ProblemError(f"problem file {path} is not valid JSON ({err.msg}, line "
                           f"{err.lineno}); fix the file") from None
    except ValueError as err:
        raise ProblemError(f"problem file {path} cannot be read as data ({err}); fix the "
                           "file") from None
    if not isinstance(data, dict):
        raise ProblemError(f"problem file {path} must hold a JSON object with pi_ref, mu, prefs, "
                           "beta")
    unknown = [key for key in data if key not in PROBLEM_KEYS]
    if unknown:
        raise ProblemError(f"problem file {path} has unknown keys {[key[:40] for key in unknown]}; "
                           f"the keys are {', '.join(PROBLEM_KEYS)}")
    missing = [key for key in ("pi_ref", "mu", "prefs", "beta") if key not in data]
    if missing:
        raise ProblemError(f"problem file {path} lacks {missing}; give pi_ref, mu, prefs and beta")
    try:
        for key in ("pi_ref", "mu", "prefs", "beta"):
            _check_numbers(key, data[key], integers=False)
        if "pairs" in data:
            _check_numbers("pairs", data["pairs"], integers=True)
        problem = Problem(data["pi_ref"], data["mu"], data["prefs"], data["beta"],
                          str(data.get("name", Path(path).stem)))
        pairs = None
        if "pairs" in data:
            triples = np.asarray(data["pairs"], dtype=np.int64)
            if triples.ndim != 2 or triples.shape[1] != 3:
                raise ProblemError("pairs must be a list of [x, y_w, y_l] integer triples")
            pairs = Pairs(triples[:, 0], triples[:, 1], triples[:, 2])
            pairs.check(problem.contexts, problem.actions)
    except ProblemError as err:
        raise ProblemError(f"problem file {path}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ProblemError(f"problem file {path}: malformed arrays ({err}); give numeric lists "
                           "of matching shapes") from None
    return Scenario(problem.name, problem, f"read from {path}", pairs)


MAX_PROBLEM_BYTES = 256 * 2**20
"""The largest problem file read (far past what the size guard lets the simulator solve)."""


def _read_problem_file(path: Path) -> str:
    """The text of a regular file of at most :data:`MAX_PROBLEM_BYTES` (``/dev/zero`` or a
    FIFO never ends: it is refused, never read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO's open must not wait for a writer
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ProblemError(f"problem file {path} is not a regular file; give a JSON file")
        data = handle.read(MAX_PROBLEM_BYTES + 1)
    if len(data) > MAX_PROBLEM_BYTES:
        raise ProblemError(f"problem file {path} is larger than {MAX_PROBLEM_BYTES >> 20} MiB; "
                           "the simulator is for small problems")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(f"problem file {path} is not UTF-8 text; give a JSON file") from None


def _check_numbers(key: str, value: object, *, integers: bool) -> None:
    """Refuse a value of ``key`` that is not a number (or a nested list of numbers) of the right
    kind: ``true`` is no β, and 0.5 no pair index (NumPy would read them as 1 and 0)."""
    if isinstance(value, list):
        for item in value:
            _check_numbers(key, item, integers=integers)
        return
    if isinstance(value, bool) or not isinstance(value, int if integers else (int, float)):
        kind = "integer indices" if integers else "numbers"
        raise ProblemError(f"{key} holds {json.dumps(value)}, not one of the {kind} it needs")


def azar(beta: float = 0.5) -> Scenario:
    """Azar et al. (2023), the IPO paper: 3 actions, uniform π_ref, data {(a,b), (b,c), (a,c)}.

    On this finite dataset DPO's loss has no minimiser (π(a) → 1 for every β), while IPO's
    minimiser is θ_a − θ_b = θ_b − θ_c = 1/(3β): see :func:`azar_ipo_policy`.

    Parameters
    ----------
    beta : float, optional
        The regularisation β.

    Returns
    -------
    Scenario
        The problem and its dataset.
    """
    uniform = np.full(3, 1 / 3)
    observed = np.array([[0.5, 1.0, 1.0], [0.0, 0.5, 1.0], [0.0, 0.0, 0.5]])
    problem = Problem(uniform, uniform, observed, beta, "azar")
    pairs = Pairs(np.zeros(3, dtype=np.int64), np.array([0, 1, 0]), np.array([1, 2, 2]))
    return Scenario("azar", problem, "Azar et al. (2023): DPO collapses, IPO does not", pairs)


def azar_ipo_policy(beta: float) -> np.ndarray:
    """The closed-form IPO minimiser on :func:`azar`: softmax of θ = (2, 1, 0) / (3β), shape (3,).

    With d = θ_a − θ_b = θ_b − θ_c and τ = 1/(2β), the loss (d−τ)² + (d−τ)² + (2d−τ)² is least at
    3d = 2τ, i.e. d = 1/(3β).

    Parameters
    ----------
    beta : float
        The regularisation β.

    Returns
    -------
    numpy.ndarray, shape (3,)
        IPO's minimiser.
    """
    check_beta(beta)
    return np.exp(log_softmax(np.array([2.0, 1.0, 0.0]) / (3 * beta)))


CATALOGUE: dict[str, Callable[[], Scenario]] = {
    "default": lambda: Scenario(
        "default", bradley_terry(4, 1, 0.2, seed=0),
        "Bradley-Terry, 4 actions, non-uniform pi_ref, uniform mu, beta=0.2"),
    "rock_paper_scissors": lambda: Scenario(
        "rock_paper_scissors", cyclic(3, 1, 0.2, seed=0, ref_spread=0.0),
        "cyclic preferences with uniform pi_ref: by symmetry pi* is uniform for every f, psi"),
    "azar": lambda: azar(0.5),
}
