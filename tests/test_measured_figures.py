"""The figures ``llm/README.md`` quotes for the default run are those of the committed run.

``docs/results/default_run.json`` holds the default ``python -m llm.train`` over seeds and thread
counts as measured by ``bench/default_run_spread.py`` (its config, each run's figures, wall time
and peak memory, and their mean and spread). A default
that changes fails the first test until the run is re-measured; a README figure that drifts from
the committed run fails the second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from llm.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
MEASURED = json.loads((ROOT / "docs" / "results" / "default_run.json").read_text())
NOT_SETTINGS = {"out_dir", "run_name", "seed", "threads"}
"""Not what the default run does: where it was written, and what the runs varied."""


def _section(title: str) -> str:
    text = (ROOT / "llm" / "README.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start:end if end >= 0 else None].split())


def default_run_sentence(measured: dict) -> str:
    """How the README states the committed default runs (one line, whitespace collapsed): the
    mean ± standard deviation over the runs, never one run's outcome."""
    summary, runs = measured["summary"], measured["runs"]

    def both(name: str, digits: int = 2) -> str:
        return f"{summary[name]['mean']:.{digits}f} ± {summary[name]['sd']:.{digits}f}"

    seeds, threads = measured["varied"]["seed"], measured["varied"]["threads"]
    minutes, seconds = divmod(round(summary["wall_seconds"]["mean"]), 60)
    return (
        f"Over {summary['runs']} runs (seeds {seeds[0]} to {seeds[-1]}, each with "
        f"{' and '.join(map(str, threads))} CPU threads), mean ± standard deviation: eval "
        f"accuracy {both('eval_accuracy', 3)} on {measured['config']['eval_pairs']} held-out "
        f"pairs; truth evaluation on {runs[0]['n_samples']:.0f} prompts: true reward "
        f"{both('reward_policy')} (π) against {both('reward_reference')} (π_ref), a gain of "
        f"{both('gain')}, positive in every run (smallest {summary['smallest_gain']:+.2f}); "
        f"win rate {both('win_rate')}; KL {both('kl')}. A run took {minutes} min "
        f"{seconds:02d} s wall on average ({measured['jobs']} at a time), "
        f"{summary['peak_rss_mib']['mean'] / 1024:.1f} GiB peak resident."
    )


def test_the_committed_default_runs_were_made_with_todays_defaults():
    today = {k: v for k, v in json.loads(TrainConfig().to_json()).items() if k not in NOT_SETTINGS}
    then = {k: v for k, v in MEASURED["config"].items() if k not in NOT_SETTINGS}
    # a field newer than the measured run had its default then, as a --resume reads it
    then = {**{k: v for k, v in TrainConfig.defaults().items() if k in today}, **then}
    for name in TrainConfig.marked("auto"):  # the runs saved what the default chose
        then[name] = today[name]
    changed = sorted(k for k in today.keys() | then.keys() if today.get(k) != then.get(k))
    assert not changed, (f"defaults {changed} changed since docs/results/default_run.json was "
                         f"measured: re-run `python bench/default_run_spread.py --write "
                         f"docs/results/default_run.json` and update the README")


def test_the_default_runs_gain_true_reward_in_every_run():
    """The default is robust to float rounding: every seed and thread count gains (issue 28)."""
    runs = MEASURED["runs"]
    assert len(runs) >= 10 and {r["threads"] for r in runs} >= {1, 2}
    assert all(r["reward_policy"] > r["reward_reference"] for r in runs)
    assert MEASURED["summary"]["smallest_gain"] == min(r["gain"] for r in runs)


def test_the_readme_quotes_the_committed_default_run():
    section = _section("Measured here")
    assert default_run_sentence(MEASURED) in section
    assert f"`{MEASURED['command']}`" in section
    quoted = re.findall(r"eval accuracy (0\.\d{3})", section)
    assert quoted and set(quoted) <= {f"{MEASURED['summary']['eval_accuracy']['mean']:.3f}"}
