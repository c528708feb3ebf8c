"""The options of ``python -m sim.bandit`` as one validated dataclass, and the problem they name.

:class:`BanditConfig` is what the command line is generated from (one flag per field, by
:func:`upo_theory.cli.config_parser`); :func:`load_problem` turns it into the problem and the
(optional) finite dataset. The docs use the same two to show the command's default problem.

The size guard: the command's work grows with the C·K² entries of the preference arrays
(every loss is trained on the population or dataset table of shape (C, K, K)), so
:func:`estimate_cost` predicts memory and time from C, K, the steps, the β sweep and the pairs,
and :func:`check_cost` refuses, before any work, a problem that needs more memory than the machine
has available or more than :data:`REFUSE_SECONDS`; ``--no-size-guard`` runs it anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from upo_theory import PSIS, Problem, ProblemError
from upo_theory.cli import available_memory, check_figure_path, option

from .problems import (
    CATALOGUE,
    GENERATORS,
    Pairs,
    from_json,
    generate,
    sample_pairs,
)
from .training import OPTIMISERS, TrainingError


@dataclass(frozen=True)
class BanditConfig:
    """Everything one run needs; each field is one command-line flag.

    Parameters
    ----------
    f : str
        The generator f: a registered name or an expression in ``u``.
    alpha : float, optional
        α of the α-divergence, in (0, 1).
    beta : float, optional
        β > 0 (0.2 by default, or the problem file's).
    psi : {"identity", "logit"}
        Ψ of the headline optimum.
    actions, contexts : int
        K ≥ 2 and C ≥ 1.
    prefs : str
        The preference generator (``sim.problems.GENERATORS``).
    mu : {"uniform", "ref"}
        The behaviour policy.
    pairs : int
        A finite dataset of this many sampled pairs (0: the population).
    steps : int
        GD/Adam steps for the training curves (0: none).
    lr : float
        The learning rate of the trajectories.
    optimiser : str
        The trajectories' optimiser.
    seed : int
        The seed of the problem and the dataset.
    problem : str, optional
        A problem file (JSON), instead of a generator.
    scenario : str, optional
        A named scenario (``sim.problems.CATALOGUE``), instead of a generator.
    sweep : str, optional
        Comma-separated values of β for a sweep.
    json : bool
        Print the inputs and every result as JSON.
    plot : str, optional
        Write the figures: PATH (policies), PATH_curves, PATH_sweep.
    size_guard : bool
        Refuse a problem estimated to exceed the available memory or 30 minutes.

    Raises
    ------
    ProblemError, TrainingError
        For a value out of range or a problem too large (one line, naming the flag).
    """

    f: str = option("js", "generator f: a registered name or an expression in u")
    alpha: float | None = option(None, "alpha for the alpha-divergence, in (0, 1)")
    beta: float | None = option(None, "beta > 0 (default 0.2, or the file's)")
    psi: str = option("identity", "Psi of the headline optimum", choices=PSIS)
    actions: int = option(4, "number of actions K >= 2")
    contexts: int = option(1, "number of contexts C >= 1")
    prefs: str = option("bt", "preference generator", choices=tuple(GENERATORS))
    mu: str = option("uniform", "behaviour policy", choices=("uniform", "ref"))
    pairs: int = option(0, "finite dataset of N sampled pairs (0: population)")
    steps: int = option(200, "GD/Adam steps for the training curves (0: none)")
    lr: float = option(0.05, "learning rate of the trajectories")
    optimiser: str = option("adam", "trajectory optimiser", choices=OPTIMISERS)
    seed: int = option(0, "seed of the problem and the dataset")
    problem: str | None = option(None, "problem file (JSON: pi_ref, mu, prefs, beta, optional "
                                       "pairs and name; no other key)")
    scenario: str | None = option(None, "a named scenario", choices=tuple(CATALOGUE))
    sweep: str | None = option(None, "comma-separated betas for a beta sweep")
    json: bool = option(False, "print inputs and every result as JSON")
    plot: str | None = option(None, "write figures: PATH (policies), PATH_curves, PATH_sweep")
    size_guard: bool = option(
        True, "refuse a problem estimated to exceed the available memory or 30 minutes")

    def __post_init__(self) -> None:
        for name in ("actions", "contexts"):
            if getattr(self, name) < (2 if name == "actions" else 1):
                raise ProblemError(f"--{name} {getattr(self, name)} is too small; give "
                                   f"{'K >= 2' if name == 'actions' else 'C >= 1'}")
        for name in ("pairs", "steps", "seed"):
            if getattr(self, name) < 0:
                raise ProblemError(f"--{name} {getattr(self, name)} is negative; give 0 or more")
        if self.beta is not None and not 0 < self.beta < math.inf:
            raise ProblemError(f"--beta {self.beta} must be positive and finite, e.g. --beta 0.1")
        if not 0 < self.lr < math.inf:
            raise TrainingError(f"--lr {self.lr} must be positive and finite, e.g. --lr 0.05")
        if self.problem is not None and self.scenario is not None:
            raise ProblemError("give --problem or --scenario, not both")
        self.betas()
        for path in self.plot_paths().values():
            check_figure_path(path, "--plot")
        if self.size_guard and self.problem is None and self.scenario is None:
            by_pairs = 16.0 * self.pairs * self.actions > BYTES_PER_ENTRY * self.contexts * (
                float(self.actions) ** 2)  # the dataset's memory is most of it
            check_cost(self.cost(self.contexts, self.actions),
                       f"--pairs {self.pairs}" if by_pairs
                       else f"--actions {self.actions} --contexts {self.contexts}",
                       "lower --pairs" if by_pairs else "lower --actions or --contexts")

    def check_given(self, given: frozenset[str] | set[str]) -> None:
        """Refuse an option the run would ignore (``given``: the fields the command line set,
        from :func:`upo_theory.cli.parse_config`): what a problem file or a scenario fixes (the
        actions, contexts, preferences and behaviour policy; the seed too, unless ``--pairs``
        samples a dataset), and the trajectories' settings with ``--steps 0`` (no trajectory)."""
        source = (f"--problem {self.problem}" if self.problem is not None
                  else None if self.scenario is None else f"--scenario {self.scenario}")
        fixed = ("actions", "contexts", "prefs", "mu") + (("seed",) if not self.pairs else ())
        for name in fixed if source else ():
            if name in given:
                raise ProblemError(f"--{name} is ignored with {source}, which fixes the problem "
                                   f"(pi_ref, mu, prefs): drop --{name}")
        for name in ("lr", "optimiser"):
            if name in given and self.steps == 0:
                raise TrainingError(f"--{name} is ignored with --steps 0, which trains no "
                                    f"trajectory: drop --{name}, or give --steps N")

    def plot_paths(self) -> dict[str, Path]:
        """The figures ``--plot PATH`` writes: policies, and curves and sweep when asked for."""
        if self.plot is None:
            return {}
        base = Path(self.plot)
        paths = {"policies": base}
        for wanted, name in ((self.steps > 0, "curves"), (self.sweep is not None, "sweep")):
            if wanted:
                paths[name] = base.with_name(f"{base.stem}_{name}{base.suffix or '.png'}")
        return paths

    def cost(self, contexts: int, actions: int) -> Cost:
        """The estimated cost of this command on a problem of ``contexts`` × ``actions``."""
        betas = self.betas()
        return estimate_cost(contexts, actions, self.steps, 0 if betas is None else len(betas),
                             self.pairs)

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


BYTES_PER_ENTRY = 168
"""Peak working memory per entry of the (C, K, K) arrays: about 21 float64 arrays of that shape
live at once (``bench/bench_sim_size.py``: K = 1600, C = 1 peaks 410 MiB above the interpreter)."""
SECONDS_PER_ENTRY = 14e-6
"""Seconds per entry for the optimum and the five minimisers, one CPU core (K = 1600: 37 s).
These time constants are measured by ``bench/bench_sim_size.py``, within 20 % of it."""
SECONDS_PER_ENTRY_BETA = 9e-6
"""Seconds per entry for each β of ``--sweep`` (K = 800 with four β: 30 s)."""
SECONDS_PER_ENTRY_STEP = 0.3e-6
"""Seconds per entry for each trajectory step of the five losses (K = 400, 200 steps: 13 s)."""
REFUSE_SECONDS = 1800.0
WARN_SECONDS = 60.0
"""Above this estimate the command says how long it expects to take before it starts."""


@dataclass(frozen=True)
class Cost:
    """Estimated peak memory (bytes) and time (seconds) of one ``sim.bandit`` command.

    Parameters
    ----------
    memory : float
        Peak memory in bytes.
    seconds : float
        Time in seconds.
    """

    memory: float
    seconds: float

    def __str__(self) -> str:
        minutes = self.seconds / 60
        time = f"{self.seconds:.0f} s" if minutes < 2 else (
            f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.3g} hours")
        return f"about {self.memory / 2**30:.3g} GiB of memory and {time}"


def estimate_cost(contexts: int, actions: int, steps: int, sweep_betas: int,
                  pairs: int) -> Cost:
    """Memory and time of the command from the problem's size (constants measured above).

    Parameters
    ----------
    contexts, actions : int
        C and K.
    steps : int
        The trajectory steps.
    sweep_betas : int
        How many values of β a sweep solves.
    pairs : int
        The size of the finite dataset (0 for the population).

    Returns
    -------
    Cost
        The estimate.
    """
    entries = float(contexts) * float(actions) ** 2
    memory = entries * BYTES_PER_ENTRY + 16.0 * pairs * actions
    seconds = entries * (SECONDS_PER_ENTRY + SECONDS_PER_ENTRY_BETA * sweep_betas
                         + SECONDS_PER_ENTRY_STEP * steps)
    return Cost(memory, seconds)


def check_cost(cost: Cost, what: str, fix: str = "lower --actions or --contexts") -> None:
    """Refuse ``cost`` beyond the available memory or :data:`REFUSE_SECONDS`, with the figure.

    Parameters
    ----------
    cost : Cost
        The estimate.
    what : str
        What would cost it, for the message.
    fix : str, optional
        How to lower it, for the message.

    Raises
    ------
    ProblemError
        When the cost is too high.
    """
    available = available_memory()
    if cost.memory > available or cost.seconds > REFUSE_SECONDS:
        limit = (f"more than the {available / 2**30:.3g} GiB available"
                 if cost.memory > available else f"more than {REFUSE_SECONDS / 60:.0f} minutes")
        raise ProblemError(f"{what} needs {cost}, {limit}; the simulator is for small problems "
                           f"(C·K² up to about 10^7): {fix} (or pass --no-size-guard)")


def load_problem(config: BanditConfig) -> tuple[Problem, Pairs | None]:
    """The problem and (optionally) the finite dataset that ``config`` asks for.

    Parameters
    ----------
    config : BanditConfig
        The run.

    Returns
    -------
    problem : Problem
        The problem.
    pairs : Pairs or None
        The finite dataset, or None for the population.
    """
    if config.scenario is not None or config.problem is not None:
        if config.problem is not None and config.size_guard:
            _check_file_size(config)
        scenario = (CATALOGUE[config.scenario]() if config.scenario is not None
                    else from_json(config.problem))
        problem = scenario.problem
        if config.size_guard:
            check_cost(config.cost(problem.contexts, problem.actions),
                       f"problem {problem.name} (K={problem.actions}, C={problem.contexts})",
                       "give a smaller problem")
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


BYTES_PER_NUMBER = 4
"""Fewest bytes a number of a problem file usually takes (``0.5,`` as ``json.dumps`` writes)."""


def _check_file_size(config: BanditConfig) -> None:
    """Refuse a problem file too large to read and solve, before reading it: its size bounds
    the C·K² numbers of its ``prefs``."""
    try:
        size = Path(config.problem).stat().st_size
    except OSError:
        return  # from_json names the problem with the file
    entries = size // BYTES_PER_NUMBER
    actions = max(2, int(entries ** 0.5))
    check_cost(config.cost(1, actions), f"problem file {config.problem} ({size / 2**20:.3g} MiB, "
                                        f"up to {entries:.2g} preference entries)",
               "give a smaller problem")
