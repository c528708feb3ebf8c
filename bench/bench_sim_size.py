"""The size guard of ``python -m sim.bandit`` against measurement: estimated and measured cost.

    python bench/bench_sim_size.py [--quick]

Runs the command (one CPU thread, ``--json`` output discarded) on problems of growing C·K² and
prints, per problem, the estimate of :func:`sim.config.estimate_cost` beside the measured wall
time and the peak memory above the interpreter's own (the same command on K = 2, measured
first). The constants of the estimate come from this table; an estimate well below a measurement
means the guard lets through problems it should refuse.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from sim.config import estimate_cost

PROBLEMS: tuple[tuple[int, int, int, int], ...] = (
    # (K, C, steps, betas in --sweep)
    (200, 1, 200, 0), (400, 1, 200, 0), (800, 1, 200, 0), (1600, 1, 0, 0), (1600, 1, 20, 0),
    (100, 16, 200, 0), (800, 1, 0, 4),
)
QUICK = PROBLEMS[:2] + PROBLEMS[5:6]


def measure(actions: int, contexts: int, steps: int, betas: int) -> tuple[float, float]:
    """(seconds, peak resident bytes) of one ``sim.bandit`` process."""
    args = [sys.executable, "-m", "sim.bandit", "--actions", str(actions), "--contexts",
            str(contexts), "--steps", str(steps), "--json", "--no-size-guard"]
    if betas:
        args += ["--sweep", ",".join(str(0.1 * (i + 1)) for i in range(betas))]
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status:
        raise RuntimeError(f"sim.bandit {args[3:]} failed with status {status}")
    return seconds, usage.ru_maxrss * 1024.0  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three small problems only")
    problems = QUICK if parser.parse_args().quick else PROBLEMS
    base_seconds, base_memory = measure(2, 1, 0, 0)
    print(f"interpreter and imports: {base_seconds:.1f} s, {base_memory / 2**20:.0f} MiB "
          "(subtracted below)")
    print(f"{'K':>6}{'C':>5}{'steps':>7}{'betas':>6}{'C·K²':>10}  {'estimate':>18}"
          f"  {'measured':>18}")
    for actions, contexts, steps, betas in problems:
        cost = estimate_cost(contexts, actions, steps, betas, 0)
        seconds, memory = measure(actions, contexts, steps, betas)
        print(f"{actions:>6}{contexts:>5}{steps:>7}{betas:>6}{contexts * actions**2:>10.2g}  "
              f"{cost.seconds:7.1f} s {cost.memory / 2**20:6.0f} MiB  "
              f"{seconds - base_seconds:7.1f} s {(memory - base_memory) / 2**20:6.0f} MiB",
              flush=True)


if __name__ == "__main__":
    main()
