"""Timings of the simulator: the KKT solve and the population-loss minimiser.

Run ``python bench/bench_sim.py`` (``--quick`` stops the growth table at K = 10⁶). Prints, best of
a few repeats after a warm-up (SymPy compiles each kernel once):

* the KKT solve for one context with K = 10⁶ actions (target ≤ 0.2 s) and for 10⁴ contexts × 100
  actions (target ≤ 0.5 s), for several f, with Ψ̄ the win rates of a random problem scale;
* how the one-context solve grows for K = 10² … 10⁷;
* the population-loss minimiser for K = 100 to ‖∂L/∂θ‖ < 1e-8 (target ≤ 2 s) for each loss.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from sim.problems import bradley_terry
from upo_theory import get_divergence, loss_spec, minimise, population_loss, solve_kkt

DIVERGENCES = ("rkl", "js", "fkl", "hellinger", "alpha", "pearson")
BETA = 0.1


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """The shortest wall and CPU (process) times of ``repeats`` calls, and the last result.

    On a shared machine the CPU time is the fairer figure: it excludes time spent waiting for a
    core that another process holds.
    """
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, out


def kkt_case(
    contexts: int, actions: int, f: str, repeats: int, seed: int = 0
) -> tuple[float, float, int]:
    """Time of one KKT solve on Ψ̄ ~ U(0, 1) (win rates) and π_ref = softmax(N(0, 1))."""
    rng = np.random.default_rng(seed)
    psibar = rng.uniform(0, 1, (contexts, actions))
    logits = rng.standard_normal((contexts, actions))
    log_ref = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    divergence = get_divergence(f)
    solve_kkt(psibar[:1, :8], log_ref[:1, :8], BETA, divergence)  # warm-up: compile the kernel
    wall, cpu, result = best_of(lambda: solve_kkt(psibar, log_ref, BETA, divergence), repeats)
    if not result.converged:
        raise RuntimeError(f"KKT solve did not converge for f={f}, C={contexts}, K={actions}")
    return wall, cpu, result.iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="growth table up to K = 1e6 only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"KKT solve, beta={BETA}, psibar ~ U(0,1); best of {args.repeats}; wall (cpu) seconds, "
          "ratio = cpu / target")
    print(f"{'f':>10} {'1 x 1e6':>15} {'iters':>6} {'/0.2 s':>7} {'1e4 x 100':>15} {'iters':>6} "
          f"{'/0.5 s':>7}")
    for f in DIVERGENCES:
        one, one_cpu, it_one = kkt_case(1, 10**6, f, args.repeats)
        many, many_cpu, it_many = kkt_case(10**4, 100, f, args.repeats)
        print(f"{f:>10} {one:7.3f} ({one_cpu:5.3f}) {it_one:6d} {one_cpu / 0.2:7.2f} "
              f"{many:7.3f} ({many_cpu:5.3f}) {it_many:6d} {many_cpu / 0.5:7.2f}")

    top = 6 if args.quick else 7
    print("\ngrowth of the one-context solve, f=js")
    print(f"{'K':>10} {'wall [s]':>10} {'cpu [s]':>10} {'iters':>6} {'cpu ns/action':>14}")
    for exponent in range(2, top + 1):
        k = 10**exponent
        wall, cpu, iterations = kkt_case(1, k, "js", 1 if exponent == 7 else args.repeats)
        print(f"{k:>10} {wall:10.4f} {cpu:10.4f} {iterations:6d} {1e9 * cpu / k:14.1f}")

    print("\npopulation-loss minimiser (L-BFGS), Bradley-Terry K=100, beta=0.2, target grad < 1e-8")
    print(f"{'loss':>26} {'wall [s]':>9} {'cpu [s]':>8} {'iters':>6} {'grad norm':>10} "
          f"{'cpu/2 s':>8}")
    problem = bradley_terry(100, 1, 0.2, seed=0)
    for loss, form in (("ipo", "per_response"), ("iupo", "per_response"), ("iupo", "paper"),
                       ("dpo", "per_response"), ("fdpo", "per_response")):
        spec = loss_spec(loss, "js", form)
        table = population_loss(spec, problem)
        table(table.log_ref)  # warm-up
        wall, cpu, result = best_of(lambda table=table: minimise(table), args.repeats)
        print(f"{spec.name:>26} {wall:9.3f} {cpu:8.3f} {result.iterations:6d} "
              f"{result.grad_norm:10.1e} {cpu / 2:8.2f}")


if __name__ == "__main__":
    main()
