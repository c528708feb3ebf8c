"""Every loss of the family against the exact UPO optimum, on one problem or across β.

For each loss (DPO, f-DPO, IPO, IUPO paper form, IUPO per-response form) the minimiser is trained
(:func:`upo_theory.minimise`) and compared with its *own* UPO optimum, the one of its (f, Ψ)
(DPO: reverse KL, logit; f-DPO: f, logit; IPO: reverse KL, identity; IUPO: f, identity), and with
the headline optimum π* of the requested (f, Ψ): TV distances, the objective J(π) of eq. (11)
under the headline (f, Ψ), and the loss's gradient norm at its own optimum (zero iff that
optimum is stationary for the loss). Where the own optimum does not exist (Ψ = logit with
p* ∈ {0, 1}, as in Azar et al.'s dataset) its distances are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from upo_theory import (
    Divergence,
    LossSpec,
    Minimum,
    OptimumResult,
    Problem,
    ProblemError,
    admissible_kernel,
    get_divergence,
    gradient_norm_at,
    loss_spec,
    minimise,
    total_variation,
    upo_optimum,
)

from .problems import Pairs
from .training import Trajectory, table_loss, trajectory
from .value import upo_value

REACHED_TV = 1e-6
"""Total-variation distance below which a trained policy counts as having reached its optimum."""
LOSSES: tuple[tuple[str, str], ...] = (
    ("dpo", "per_response"), ("fdpo", "per_response"), ("ipo", "per_response"),
    ("iupo", "paper"), ("iupo", "per_response"),
)
"""The family's members as (loss, form); duplicates (f = reverse KL) are dropped by name."""


@dataclass(frozen=True)
class LossOutcome:
    """One trained loss: its own optimum, the minimiser and how far apart they are.

    Parameters
    ----------
    spec : LossSpec
        The loss.
    own_optimum : OptimumResult or None
        The optimum the loss targets (None where the loss has no such optimum).
    trained : Minimum
        The loss's minimiser.
    tv_own, tv_headline : float
        Total variation (worst context) from the minimiser to its own optimum (NaN without one)
        and to the headline π*.
    objective : float
        J of eq. (11) at the minimiser, averaged over contexts.
    grad_at_own : float
        ‖∂L/∂θ‖₂ at the own optimum (NaN without one).
    trajectory : Trajectory, optional
        The GD/Adam path, where steps were asked for.
    """

    spec: LossSpec
    own_optimum: OptimumResult | None
    trained: Minimum
    tv_own: float
    tv_headline: float
    objective: float
    grad_at_own: float
    trajectory: Trajectory | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Comparison:
    """The headline optimum π* of (f, Ψ) and every loss's outcome on one problem.

    Parameters
    ----------
    problem : Problem
        The problem.
    divergence : Divergence
        The generator f.
    psi : str
        Ψ of the headline optimum.
    optimum : OptimumResult
        The headline π* of (f, Ψ).
    j_star, j_ref : float
        J of eq. (11) at π* and at π_ref, averaged over contexts.
    outcomes : tuple of LossOutcome
        One per loss of the family.
    pairs : Pairs or None
        The finite dataset, or None for the population.
    """

    problem: Problem
    divergence: Divergence
    psi: str
    optimum: OptimumResult
    j_star: float
    j_ref: float
    outcomes: tuple[LossOutcome, ...]
    pairs: Pairs | None

    def to_json(self) -> dict:
        """Inputs and every result as plain Python values."""
        return {
            "problem": self.problem.to_json(),
            "f": self.divergence.label, "psi": self.psi,
            "regime": "population" if self.pairs is None else f"dataset of {len(self.pairs)} pairs",
            "optimum": {"policy": self.optimum.policy.tolist(), "lam": self.optimum.lam.tolist(),
                        "converged": self.optimum.converged,
                        "iterations": self.optimum.iterations,
                        "kkt_residual": self.optimum.residuals.worst(),
                        "J": self.j_star},
            "J_ref": self.j_ref,
            "losses": [_outcome_json(o) for o in self.outcomes],
        }


@dataclass(frozen=True)
class Sweep:
    """Across β: the headline optimum and each loss's minimiser, arrays (B, C, K), TVs (B,).

    Parameters
    ----------
    betas : numpy.ndarray, shape (B,)
        The values of β.
    optimum : numpy.ndarray, shape (B, C, K)
        π* at each β.
    policies : dict of str to numpy.ndarray
        Each loss's minimiser, shape (B, C, K), by the loss's name.
    tv_own : dict of str to numpy.ndarray
        Each loss's total variation to its own optimum, shape (B,) (NaN without one).
    """

    betas: np.ndarray
    optimum: np.ndarray
    policies: dict[str, np.ndarray]
    tv_own: dict[str, np.ndarray]

    def to_json(self) -> dict:
        return {"betas": self.betas.tolist(), "optimum": self.optimum.tolist(),
                "policies": {k: v.tolist() for k, v in self.policies.items()},
                "tv_own": {k: v.tolist() for k, v in self.tv_own.items()}}


def family(f: str | Divergence = "js", alpha: float | None = None) -> list[LossSpec]:
    """The five members of :data:`LOSSES` for generator f, without duplicates.

    Parameters
    ----------
    f : str or Divergence, optional
        The generator: a registered name, an expression in ``u`` or a divergence.
    alpha : float, optional
        α of the α-divergence.

    Returns
    -------
    list of LossSpec
        The losses, each once.
    """
    divergence = get_divergence(f, alpha)
    admissible_kernel(divergence)
    specs: dict[str, LossSpec] = {}
    for loss, form in LOSSES:
        spec = loss_spec(loss, divergence, form)
        specs.setdefault(spec.name, spec)
    return list(specs.values())


def compare(
    problem: Problem, f: str | Divergence = "js", psi: str = "identity",
    alpha: float | None = None, pairs: Pairs | None = None, steps: int = 0, lr: float = 0.05,
    optimiser: str = "adam", progress: bool = False,
) -> Comparison:
    """Train every loss on ``problem`` (population, or the dataset ``pairs``) and compare.

    ``steps > 0`` also records a GD/Adam trajectory per loss (loss and TV to its own optimum).

    Parameters
    ----------
    problem : Problem
        The problem.
    f : str or Divergence, optional
        The generator of the headline optimum and of the family.
    psi : str, optional
        Ψ of the headline optimum.
    alpha : float, optional
        α of the α-divergence.
    pairs : Pairs, optional
        A finite dataset to train on instead of the population.
    steps : int, optional
        GD/Adam steps to record per loss (0: none).
    lr : float, optional
        The trajectories' learning rate.
    optimiser : {"adam", "gd"}, optional
        The trajectories' optimiser.
    progress : bool, optional
        Show the trajectories' progress.

    Returns
    -------
    Comparison
        The headline optimum and each loss's outcome.

    Raises
    ------
    ProblemError
        When the objective cannot be trusted in float64 (:func:`check_objective`).
    """
    divergence = get_divergence(f, alpha)
    optimum = upo_optimum(problem, divergence, psi)
    outcomes = []
    for spec in family(divergence):
        own = _own_optimum(problem, spec)
        reference = optimum.policy if own is None else own.policy
        loss = table_loss(spec, problem, pairs)
        trained = minimise(loss, max_iter=2000)
        path = (trajectory(loss, steps, reference, lr, optimiser, progress)
                if steps > 0 else None)
        outcomes.append(LossOutcome(
            spec, own, trained,
            float(total_variation(trained.policy, reference).max()) if own else float("nan"),
            float(total_variation(trained.policy, optimum.policy).max()),
            float(upo_value(problem, divergence, psi, trained.policy).mean()),
            gradient_norm_at(loss, own.policy) if own else float("nan"), path,
        ))
    j_star, j_ref = (float(upo_value(problem, divergence, psi, policy).mean())
                     for policy in (optimum.policy, problem.pi_ref))
    check_objective(problem, divergence, psi, j_star, j_ref)
    return Comparison(problem, divergence, psi, optimum, j_star, j_ref, tuple(outcomes), pairs)


TRUSTED = 1e-9
"""Slack, relative to the objective's scale, for :func:`check_objective`'s two bounds."""


def check_objective(problem: Problem, divergence: Divergence, psi: str, j_star: float,
                    j_ref: float) -> None:
    """Refuse an optimum whose objective cannot be trusted in float64, before it is printed.

    π* maximises J of eq. (11) over the simplex, where π_ref is feasible, so J(π*) ≥ J(π_ref);
    and the divergence is never negative (Jensen: Σ π_ref f(π/π_ref) ≥ f(1) = 0), so J(π*) is at
    most the best reward max_y Ψ̄(y). An f whose values near u = 1 cancel catastrophically
    (``exp(50*u) - exp(50)``) breaks one of the two; its numbers say nothing.

    Parameters
    ----------
    problem : Problem
        The problem.
    divergence : Divergence
        The generator f (named in the message).
    psi : str
        Ψ, for the best reward max Ψ̄.
    j_star, j_ref : float
        J(π*) and J(π_ref), averaged over contexts.

    Raises
    ------
    ProblemError
        When either bound fails by more than :data:`TRUSTED` of the objective's scale.
    """
    best = float(problem.psibar(psi).max(axis=1).mean())
    scale = TRUSTED * max(1.0, abs(j_ref), abs(best))
    if not (math.isfinite(j_star) and j_ref - scale <= j_star <= best + scale):
        raise ProblemError(
            f"f {divergence.label!r} cannot be evaluated precisely enough in float64: J(pi*) = "
            f"{j_star:.6g} against J(pi_ref) = {j_ref:.6g} and a best reward of {best:.6g} "
            "(the optimum maximises J and the divergence is never negative); rescale f so "
            "that its values near u = 1 do not cancel")


def beta_sweep(
    problem: Problem, betas: np.ndarray, f: str | Divergence = "js", psi: str = "identity",
    alpha: float | None = None, pairs: Pairs | None = None,
) -> Sweep:
    """π* of (f, Ψ) and each loss's minimiser for every β in ``betas``.

    Parameters
    ----------
    problem : Problem
        The problem (its β is replaced by each of ``betas``).
    betas : numpy.ndarray
        The values of β.
    f : str or Divergence, optional
        The generator.
    psi : str, optional
        Ψ of the headline optimum.
    alpha : float, optional
        α of the α-divergence.
    pairs : Pairs, optional
        A finite dataset instead of the population.

    Returns
    -------
    Sweep
        The optima and minimisers, by β.
    """
    divergence = get_divergence(f, alpha)
    betas = np.asarray(betas, dtype=np.float64)
    optima, policies, tvs = [], {}, {}
    for beta in betas:
        scaled = problem.with_beta(float(beta))
        optima.append(upo_optimum(scaled, divergence, psi).policy)
        for spec in family(divergence):
            trained = minimise(table_loss(spec, scaled, pairs), max_iter=2000).policy
            own = _own_optimum(scaled, spec)
            policies.setdefault(spec.name, []).append(trained)
            tvs.setdefault(spec.name, []).append(
                np.nan if own is None else total_variation(trained, own.policy).max())
    return Sweep(betas, np.array(optima), {k: np.array(v) for k, v in policies.items()},
                 {k: np.array(v) for k, v in tvs.items()})


def _own_optimum(problem: Problem, spec: LossSpec) -> OptimumResult | None:
    """The UPO optimum of the loss's (f, Ψ); None where Ψ = logit meets p* ∈ {0, 1}."""
    try:
        return upo_optimum(problem, spec.divergence, spec.psi)
    except ProblemError:
        return None


def _outcome_json(o: LossOutcome) -> dict:
    return {
        "loss": o.name, "psi": o.spec.psi, "f": o.spec.divergence.label, "form": o.spec.form,
        "policy": o.trained.policy.tolist(),
        "own_optimum": None if o.own_optimum is None else o.own_optimum.policy.tolist(),
        "tv_to_own_optimum": o.tv_own, "tv_to_headline_optimum": o.tv_headline, "J": o.objective,
        "grad_norm_at_own_optimum": o.grad_at_own, "converged": o.trained.converged,
        "grad_norm": o.trained.grad_norm, "iterations": o.trained.iterations,
        "trajectory": None if o.trajectory is None else {
            "optimiser": o.trajectory.optimiser, "lr": o.trajectory.lr,
            "loss": o.trajectory.loss.tolist(), "tv": o.trajectory.tv.tolist()},
    }
