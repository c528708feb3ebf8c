"""The figures ``llm/README.md`` quotes for the default run are those of the committed run.

``docs/results/default_run.json`` holds the default ``python -m llm.train`` run as measured (its
config, its summary and the wall time and peak memory ``/usr/bin/time -v`` reported). A default
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
NOT_SETTINGS = {"out_dir"}  # where the run was written says nothing about what it did


def _section(title: str) -> str:
    text = (ROOT / "llm" / "README.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start:end if end >= 0 else None].split())


def default_run_sentence(measured: dict) -> str:
    """How the README states the committed default run (one line, whitespace collapsed)."""
    final, truth = measured["summary"]["final_eval"], measured["summary"]["truth"]
    pairs = measured["config"]["eval_pairs"]
    right = round(final["rewards/accuracies"] * pairs)
    minutes, seconds = divmod(round(measured["wall_seconds"]), 60)
    return (
        f"{minutes} min {seconds:02d} s wall, {measured['peak_rss_mib'] / 1024:.1f} GiB peak "
        f"resident. Final eval accuracy {final['rewards/accuracies']:.3f} ({right} of {pairs} "
        f"held-out pairs) against the best achievable "
        f"{measured['summary']['best_eval_accuracy']:.3f} (the Bayes accuracy of r*); truth "
        f"evaluation on {truth['n_samples']:.0f} prompts (± one standard error): true reward "
        f"{truth['reward_policy']:.2f} ± {truth['reward_policy_se']:.2f} (π) against "
        f"{truth['reward_reference']:.2f} ± {truth['reward_reference_se']:.2f} (π_ref), win rate "
        f"{truth['win_rate']:.2f} ± {truth['win_rate_se']:.2f}, "
        f"{100 * truth['correct_policy']:.0f} % correct answers against "
        f"{100 * truth['correct_reference']:.0f} %, KL {truth['kl']:.2f} ± {truth['kl_se']:.2f}, "
        f"JS {truth['f_divergence']:.2f} ± {truth['f_divergence_se']:.2f}."
    )


def test_the_committed_default_run_was_made_with_todays_defaults():
    today = {k: v for k, v in json.loads(TrainConfig().to_json()).items() if k not in NOT_SETTINGS}
    then = {k: v for k, v in MEASURED["config"].items() if k not in NOT_SETTINGS}
    # a field newer than the measured run had its default then, as a --resume reads it
    then = {**{k: v for k, v in TrainConfig.defaults().items() if k in today}, **then}
    changed = sorted(k for k in today.keys() | then.keys() if today.get(k) != then.get(k))
    assert not changed, (f"defaults {changed} changed since docs/results/default_run.json was "
                         f"measured: re-run `{MEASURED['command']}` and update it and the README")


def test_the_readme_quotes_the_committed_default_run():
    section = _section("Measured here")
    assert default_run_sentence(MEASURED) in section
    assert f"`{MEASURED['command']}`" in section
    quoted = re.findall(r"accuracy (0\.\d{3})", section)
    assert quoted and set(quoted) <= {
        f"{MEASURED['summary']['final_eval']['rewards/accuracies']:.3f}"}
