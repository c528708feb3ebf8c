"""The default ``python -m llm.train`` over seeds and CPU thread counts: what a user will see.

    python bench/default_run_spread.py                    # 5 seeds x threads 1, 2; 2 at a time
    python bench/default_run_spread.py --write docs/results/default_run.json

One float rounding can move a run of a small randomly initialised model a long way (two CPUs of
one kind once gave the same command true-reward gains of +0.62 and +0.01), so a figure quoted for
the default run is a mean and a spread over runs, not one run. Each run is the default command
with only ``--seed`` and ``--threads`` changed, in a process of its own (``/usr/bin/time``'s peak
resident memory is read from ``resource``); the table gives each run's eval accuracy, true reward
of π and π_ref, the gain, win rate and KL, then the mean and standard deviation over the runs and
the smallest gain. ``--write`` saves the runs, the default config and the summary as JSON (the
file ``llm/README.md`` quotes, checked by ``tests/test_measured_figures.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FIGURES = ("eval_accuracy", "reward_policy", "reward_reference", "gain", "win_rate", "kl")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--write", help="save the runs and their summary to this JSON file")
    parser.add_argument("extra", nargs="*", help="further llm.train options (after --)")
    return parser.parse_args(argv)


def one_run(seed: int, threads: int, out: Path, extra: list[str]) -> dict:
    """The default command with ``--seed`` and ``--threads``; its figures and its cost."""
    command = [sys.executable, "-m", "llm.train", "--seed", str(seed), "--threads",
               str(threads), "--out-dir", str(out), "--run-name", f"s{seed}-t{threads}", *extra]
    started = time.perf_counter()
    wrapped = [sys.executable, "-c", _PEAK, *command]
    done = subprocess.run(wrapped, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"run seed {seed} threads {threads} failed:\n{done.stderr[-2000:]}")
    summary = json.loads((out / f"s{seed}-t{threads}" / "summary.json").read_text())
    final, truth = summary["final_eval"], summary["truth"]
    return {"seed": seed, "threads": threads,
            "wall_seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mib": round(json.loads(done.stdout.splitlines()[-1])["peak_mib"]),
            "eval_accuracy": final["rewards/accuracies"],
            "reward_policy": truth["reward_policy"], "reward_reference": truth["reward_reference"],
            "gain": truth["reward_policy"] - truth["reward_reference"],
            "win_rate": truth["win_rate"], "kl": truth["kl"], "n_samples": truth["n_samples"]}


_PEAK = """
import json, resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"peak_mib": peak}))
sys.exit(code)
"""
"""Runs the command and prints its peak resident memory (Linux: ru_maxrss in KiB)."""


def spread(runs: list[dict]) -> dict:
    """Mean and standard deviation of each figure over the runs, and the smallest gain."""
    out = {name: {"mean": statistics.fmean(r[name] for r in runs),
                  "sd": statistics.stdev(r[name] for r in runs) if len(runs) > 1 else 0.0}
           for name in (*FIGURES, "wall_seconds", "peak_rss_mib")}
    out["smallest_gain"] = min(r["gain"] for r in runs)
    out["runs"] = len(runs)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    pairs = [(s, t) for t in args.threads for s in args.seeds]
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda st: one_run(*st, Path(folder), args.extra), pairs))
        config = json.loads((Path(folder) / "s{}-t{}".format(*pairs[0]) / "config.json")
                            .read_text())
    print(f"{'seed':>4} {'thr':>3} " + " ".join(f"{n:>16}" for n in FIGURES) + f"{'wall s':>8}")
    for r in runs:
        print(f"{r['seed']:>4} {r['threads']:>3} " + " ".join(f"{r[n]:>16.3f}" for n in FIGURES)
              + f"{r['wall_seconds']:>8.0f}")
    summary = spread(runs)
    print(f"{'mean':>8} " + " ".join(f"{summary[n]['mean']:>16.3f}" for n in FIGURES))
    print(f"{'sd':>8} " + " ".join(f"{summary[n]['sd']:>16.3f}" for n in FIGURES))
    print(f"smallest gain {summary['smallest_gain']:+.3f} over {len(runs)} runs")
    if args.write:
        config.pop("out_dir"), config.pop("run_name"), config.pop("seed"), config.pop("threads")
        record = {"command": "python -m llm.train",
                  "measured_by": "python bench/default_run_spread.py --write ... (each run "
                                 "the default command with --seed and --threads; "
                                 f"{args.jobs} at a time on this machine)",
                  "varied": {"seed": args.seeds, "threads": args.threads}, "jobs": args.jobs,
                  "config": config, "summary": summary, "runs": runs}
        Path(args.write).write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
