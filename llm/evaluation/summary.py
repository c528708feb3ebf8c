"""A trained run's summary, the step after the loop: ``summary.json``, ``curves.png`` and, for the
offline task, the evaluation against the true reward (``truth.json``) and the Bayes accuracy of
its labels.

:func:`write_summary` works from what the run holds in memory: its config (and the
:class:`upo_theory.LossSpec` resolved in it), its metric history
(:attr:`llm.engine.metrics.MetricsLogger.history`, restored from ``metrics.jsonl`` once when a run
resumes), its model and its data; it reads nothing back from the run folder.
"""

from __future__ import annotations

import json
import time

from upo_theory.cli import write_atomically

from ..engine.session import TrainingSession
from .curves import method_label, preference_curve
from .figures import plot_curves
from .truth_probe import TruthProbe


def write_summary(session: TrainingSession, truth: TruthProbe) -> None:
    """``summary.json``, ``curves.png`` and, for the offline task, ``truth.json`` (the ``truth``
    probe's evaluation of the trained policy)."""
    config, history, folder = session.config, session.logger.history, session.folder
    offline_rows = session.data.offline_eval_rows
    final_eval = next((r for r in reversed(history) if r["split"] == "eval"), {})
    summary = {"run": folder.name, "loss": config.spec.name, "beta": config.beta,
               "final_eval": final_eval, "eval_pairs": len(session.data.eval)}
    if "pref" in {r["stage"] for r in history}:
        label = {"method": method_label(config.spec), "beta": config.beta, "seed": config.seed,
                 "run": str(folder)}
        plot_curves(preference_curve(history, label), folder / "curves.png")
        if offline_rows is not None and config.truth_eval_prompts > 0:
            summary["truth"] = truth_evaluation(session, truth)
    if offline_rows is not None:
        from ..data.offline_task import best_accuracy, realised_accuracy

        summary["best_eval_accuracy"] = best_accuracy(offline_rows)
        summary["true_reward_eval_accuracy"] = realised_accuracy(offline_rows)
    summary["seconds"] = round(time.perf_counter() - session.started, 1)
    # the experiment takes summary.json as "this run finished": never a torn one
    write_atomically(folder / "summary.json", json.dumps(summary, indent=2))
    print(f"final eval: {json.dumps(final_eval)}", flush=True)
    if "best_eval_accuracy" in summary and "rewards/accuracies" in final_eval:
        print(f"eval accuracy {final_eval['rewards/accuracies']:.3f}; best "
              f"achievable (Bayes, r* itself) {summary['best_eval_accuracy']:.3f}, r* on these "
              f"labels {summary['true_reward_eval_accuracy']:.3f}", flush=True)
    print(f"run folder: {folder}", flush=True)


def truth_evaluation(session: TrainingSession, truth: TruthProbe) -> dict[str, float]:
    """The trained policy against π_ref under the offline task's true reward; ``truth.json``."""
    scores = truth.final(session.config.pref_steps)
    write_atomically(session.folder / "truth.json", json.dumps(scores, indent=2))
    print("truth: " + json.dumps(scores), flush=True)
    return scores
