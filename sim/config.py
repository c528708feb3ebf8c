"""The options of ``python -m sim.bandit`` as one validated dataclass, and the problem they name.

:class:`BanditConfig` is what the command line is generated from (one flag per field, by
:func:`upo_theory.config_parser`); :func:`load_problem` turns it into the problem and the
(optional) finite dataset. The docs use the same two to show the command's default problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .problems import (
    CATALOGUE,
    GENERATORS,
    PSIS,
    Pairs,
    Problem,
    ProblemError,
    from_json,
    generate,
    sample_pairs,
)
from .training import OPTIMISERS, TrainingError


def _opt(help_text: str, **extra: object) -> dict:
    return {"metadata": {"help": help_text, **extra}}


@dataclass(frozen=True)
class BanditConfig:
    """Everything one run needs; each field is one command-line flag."""

    f: str = field(default="js", **_opt("generator f: a registered name or an expression in u"))
    alpha: float | None = field(default=None, **_opt("alpha for the alpha-divergence, in (0, 1)"))
    beta: float | None = field(default=None, **_opt("beta > 0 (default 0.2, or the file's)"))
    psi: str = field(default="identity", **_opt("Psi of the headline optimum", choices=PSIS))
    actions: int = field(default=4, **_opt("number of actions K >= 2"))
    contexts: int = field(default=1, **_opt("number of contexts C >= 1"))
    prefs: str = field(default="bt", **_opt("preference generator", choices=tuple(GENERATORS)))
    mu: str = field(default="uniform", **_opt("behaviour policy", choices=("uniform", "ref")))
    pairs: int = field(default=0, **_opt("finite dataset of N sampled pairs (0: population)"))
    steps: int = field(default=200, **_opt("GD/Adam steps for the training curves (0: none)"))
    lr: float = field(default=0.05, **_opt("learning rate of the trajectories"))
    optimiser: str = field(default="adam", **_opt("trajectory optimiser", choices=OPTIMISERS))
    seed: int = field(default=0, **_opt("seed of the problem and the dataset"))
    problem: str | None = field(default=None, **_opt("problem file (JSON: pi_ref, mu, prefs, "
                                                      "beta, optional pairs)"))
    scenario: str | None = field(default=None, **_opt("a named scenario",
                                                      choices=tuple(CATALOGUE)))
    sweep: str | None = field(default=None, **_opt("comma-separated betas for a beta sweep"))
    json: bool = field(default=False, **_opt("print inputs and every result as JSON"))
    plot: str | None = field(default=None, **_opt("write figures: PATH (policies), "
                                                  "PATH_curves, PATH_sweep"))

    def __post_init__(self) -> None:
        for name in ("actions", "contexts"):
            if getattr(self, name) < (2 if name == "actions" else 1):
                raise ProblemError(f"--{name} {getattr(self, name)} is too small; give "
                                   f"{'K >= 2' if name == 'actions' else 'C >= 1'}")
        for name in ("pairs", "steps"):
            if getattr(self, name) < 0:
                raise ProblemError(f"--{name} {getattr(self, name)} is negative; give 0 or more")
        if self.beta is not None and not 0 < self.beta < math.inf:
            raise ProblemError(f"--beta {self.beta} must be positive and finite, e.g. --beta 0.1")
        if not self.lr > 0:
            raise TrainingError(f"--lr {self.lr} must be positive, e.g. --lr 0.05")
        if self.problem is not None and self.scenario is not None:
            raise ProblemError("give --problem or --scenario, not both")
        self.betas()

    def betas(self) -> np.ndarray | None:
        """The β values of ``--sweep`` (validated), or None."""
        if self.sweep is None:
            return None
        try:
            values = np.array([float(v) for v in self.sweep.split(",")])
        except ValueError:
            raise ProblemError(f"--sweep {self.sweep!r} is not a list of numbers; give e.g. "
                               "--sweep 0.05,0.1,0.2") from None
        if values.size < 2 or np.any(~np.isfinite(values)) or np.any(values <= 0):
            raise ProblemError(f"--sweep {self.sweep!r}: give two or more positive betas")
        return np.sort(values)


def load_problem(config: BanditConfig) -> tuple[Problem, Pairs | None]:
    """The problem and (optionally) the finite dataset that ``config`` asks for."""
    if config.scenario is not None or config.problem is not None:
        scenario = (CATALOGUE[config.scenario]() if config.scenario is not None
                    else from_json(config.problem))
        problem = scenario.problem
        if config.beta is not None:
            problem = problem.with_beta(config.beta)
        pairs = scenario.pairs
    else:
        beta = 0.2 if config.beta is None else config.beta
        problem = generate(config.prefs, actions=config.actions, contexts=config.contexts,
                           beta=beta, seed=config.seed, mu=config.mu)
        pairs = None
    if config.pairs > 0:
        pairs = sample_pairs(problem, config.pairs, config.seed)
    return problem, pairs
