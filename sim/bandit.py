"""``python -m sim.bandit --f js``: which losses reach the UPO optimum π*, how far others land.

The command line is generated from :class:`BanditConfig` (one flag per field), validated before
any work starts; a user error prints one line and exits 2.

Examples
--------
``python -m sim.bandit --f js`` (the default problem: Bradley–Terry, 4 actions, β = 0.2)
``python -m sim.bandit --f pearson --psi logit`` (π* with exact zeros)
``python -m sim.bandit --prefs cyclic --actions 3 --pairs 50 --json``
``python -m sim.bandit --scenario azar --f rkl --steps 500 --plot out/azar.png``
``python -m sim.bandit --f hellinger --sweep 0.05,0.1,0.2,0.5,1 --plot out/h.png``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from upo_theory import ExpressionError, LossSpecError, NotDifferentiableError, get_divergence

from .compare import Comparison, Sweep, beta_sweep, compare
from .optimum import InadmissibleError, admissible_kernel
from .plots import plot_curves, plot_policies, plot_sweep
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

USER_ERRORS = (ProblemError, ExpressionError, LossSpecError, NotDifferentiableError,
               InadmissibleError, TrainingError)


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
        if self.beta is not None and not self.beta > 0:
            raise ProblemError(f"--beta {self.beta} must be positive, e.g. --beta 0.1")
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one flag per :class:`BanditConfig` field."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.bandit", description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in dataclasses.fields(BanditConfig):
        meta = dict(f.metadata)
        flag = f"--{f.name}"
        if f.type in ("bool",):
            parser.add_argument(flag, action="store_true", help=meta["help"])
            continue
        kind = {"int": int, "float": float, "float | None": float}.get(str(f.type), str)
        parser.add_argument(flag, type=kind, default=f.default, **meta)
    return parser


def load(config: BanditConfig) -> tuple[Problem, Pairs | None]:
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


def run(config: BanditConfig) -> tuple[Comparison, Sweep | None]:
    """Solve, train and compare (and sweep β if asked)."""
    divergence = get_divergence(config.f, config.alpha)
    admissible_kernel(divergence)
    problem, pairs = load(config)
    comparison = compare(problem, divergence, config.psi, pairs=pairs, steps=config.steps,
                         lr=config.lr, optimiser=config.optimiser, progress=not config.json)
    betas = config.betas()
    sweep = None if betas is None else beta_sweep(problem, betas, divergence, config.psi,
                                                  pairs=pairs)
    return comparison, sweep


def format_table(comparison: Comparison, sweep: Sweep | None = None) -> str:
    """The readable report: policies per context, then one row per loss."""
    problem, opt = comparison.problem, comparison.optimum
    regime = "population loss" if comparison.pairs is None else \
        f"finite dataset of {len(comparison.pairs)} pairs"
    lines = [
        f"problem: {problem.name}, C={problem.contexts}, K={problem.actions}, beta={problem.beta}"
        f"; {regime}",
        f"pi*: f={comparison.divergence.label}, psi={comparison.psi}; KKT converged="
        f"{opt.converged} in {opt.iterations} iterations, residual {opt.residuals.worst():.1e}"
        + (f"; {int(opt.zero_mass.sum())} action(s) with exactly zero mass"
           if opt.zero_mass.any() else ""),
        "",
    ]
    width = max(12, *(len(o.name) for o in comparison.outcomes)) + 2
    for x in range(problem.contexts):
        lines.append(f"context {x}".ljust(width) + "".join(f"{f'y={y}':>9}"
                                                          for y in range(problem.actions)))
        rows = [("pi_ref", problem.pi_ref), ("pi*", opt.policy)]
        rows += [(o.name, o.trained.policy) for o in comparison.outcomes]
        for label, policy in rows:
            lines.append(label.ljust(width) + "".join(f"{p:9.4f}" for p in policy[x]))
        lines.append("")
    lines.append("loss".ljust(width) + f"{'own optimum':>18}{'TV own':>10}{'TV pi*':>10}"
                 f"{'J - J*':>11}{'|grad| at own':>15}{'converged':>11}")
    for o in comparison.outcomes:
        own = f"({o.spec.divergence.label}, {o.spec.psi})" if o.own_optimum else "(none)"
        lines.append(o.name.ljust(width) + f"{own:>18}{o.tv_own:10.1e}{o.tv_headline:10.1e}"
                     f"{o.objective - comparison.j_star:11.1e}{o.grad_at_own:15.1e}"
                     f"{o.trained.converged!s:>11}")
    lines.append(f"J(pi*) = {comparison.j_star:.6f}, J(pi_ref) = {comparison.j_ref:.6f}; a loss "
                 "reaches its optimum when 'TV own' is ~0 and its gradient there is ~0")
    if sweep is not None:
        lines += ["", "beta sweep, TV to own optimum:",
                  "beta".ljust(width) + "".join(f"{b:10.3g}" for b in sweep.betas)]
        for name, tv in sweep.tv_own.items():
            lines.append(name.ljust(width) + "".join(f"{v:10.1e}" for v in tv))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = BanditConfig(**vars(args))
        comparison, sweep = run(config)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if config.plot is not None:
        base = Path(config.plot)
        plot_policies(comparison, base)
        if config.steps > 0:
            plot_curves(comparison, base.with_name(f"{base.stem}_curves{base.suffix or '.png'}"))
        if sweep is not None:
            plot_sweep(sweep, base.with_name(f"{base.stem}_sweep{base.suffix or '.png'}"))
    if config.json:
        out = {"config": dataclasses.asdict(config), **comparison.to_json()}
        if sweep is not None:
            out["sweep"] = sweep.to_json()
        print(json.dumps(out, indent=1))
    else:
        print(format_table(comparison, sweep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
