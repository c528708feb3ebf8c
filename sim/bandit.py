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

import dataclasses
import json
import math
import sys

import numpy as np

from upo_theory import ProblemError, admissible_kernel, get_divergence
from upo_theory.cli import config_parser, parse_config, run_cli

from .compare import Comparison, Sweep, beta_sweep, compare
from .config import WARN_SECONDS, BanditConfig, load_problem
from .plots import plot_curves, plot_policies, plot_sweep

PROG = "python -m sim.bandit"


def build_parser():
    """The command line, one flag per :class:`BanditConfig` field."""
    return config_parser(BanditConfig, prog=PROG, description=__doc__.split("\n")[0])


def parse_args(argv: list[str] | None = None) -> BanditConfig:
    """The validated :class:`BanditConfig` of a command line (exit 2, one line, on a mistake).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    BanditConfig
        The run they ask for.
    """
    return parse_config(BanditConfig, argv, build_parser())


def run(config: BanditConfig) -> tuple[Comparison, Sweep | None]:
    """Solve, train and compare (and sweep β if asked). NumPy's overflow warnings are silenced:
    a non-finite loss or objective is refused explicitly, in one line, where it matters.

    Parameters
    ----------
    config : BanditConfig
        The run.

    Returns
    -------
    comparison : Comparison
        Every loss of the family against its own optimum and the headline π*.
    sweep : Sweep or None
        The β sweep, where ``config.sweep`` asks for one.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _run(config)


def _run(config: BanditConfig) -> tuple[Comparison, Sweep | None]:
    divergence = get_divergence(config.f, config.alpha)
    admissible_kernel(divergence)
    problem, pairs = load_problem(config)
    cost = config.cost(problem.contexts, problem.actions)
    if cost.seconds > WARN_SECONDS:
        print(f"{PROG}: note: K={problem.actions}, C={problem.contexts} needs {cost} "
              "(estimated)", file=sys.stderr, flush=True)
    comparison = compare(problem, divergence, config.psi, pairs=pairs, steps=config.steps,
                         lr=config.lr, optimiser=config.optimiser, progress=not config.json)
    betas = config.betas()
    sweep = None if betas is None else beta_sweep(problem, betas, divergence, config.psi,
                                                  pairs=pairs)
    return comparison, sweep


def format_table(comparison: Comparison, sweep: Sweep | None = None) -> str:
    """The readable report: policies per context, then one row per loss.

    Parameters
    ----------
    comparison : Comparison
        What :func:`run` compared.
    sweep : Sweep, optional
        The β sweep, printed after the table where given.

    Returns
    -------
    str
        The report as text.
    """
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


def json_safe(value):
    """``value`` with every non-finite float as None: JSON has no NaN or infinity (a distance to
    an optimum that does not exist is NaN in the results, ``null`` in the JSON).

    Parameters
    ----------
    value : object
        A float, or a dict, list or tuple of such values (nested), or anything else (kept).

    Returns
    -------
    object
        The same structure, with dicts and lists for its containers.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.bandit``: parse the command line, run it and report; the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0, or 2 after a user's mistake (one line on stderr).
    """
    config = parse_args(argv)
    return run_cli(PROG, lambda: report(config))


def report(config: BanditConfig) -> int:
    """Solve and compare, print the report, then write the figures asked for.

    Parameters
    ----------
    config : BanditConfig
        The run.

    Returns
    -------
    int
        The exit status, 0.
    """
    comparison, sweep = run(config)
    if config.json:
        out = {"config": dataclasses.asdict(config), **comparison.to_json()}
        if sweep is not None:
            out["sweep"] = sweep.to_json()
        print(json.dumps(json_safe(out), indent=1, allow_nan=False))
    else:
        print(format_table(comparison, sweep))
    paths = config.plot_paths()  # after the report: a failed write loses no result
    try:
        if "policies" in paths:
            plot_policies(comparison, paths["policies"])
        if "curves" in paths:
            plot_curves(comparison, paths["curves"])
        if "sweep" in paths:
            plot_sweep(sweep, paths["sweep"])
    except OSError as error:
        raise ProblemError(f"--plot: cannot write {error.filename or config.plot} "
                           f"({error.strerror or error}); the report above is complete") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
