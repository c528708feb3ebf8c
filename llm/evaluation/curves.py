"""The curves of runs: the preference stage's logged points, each labelled by its run's method.

One labeller, :func:`preference_curve`, turns a run's metric rows into the points the curves
(:func:`llm.evaluation.figures.plot_curves`) and the experiment's ``curves.csv`` hold; one loader,
:func:`run_curve`, reads them from a run folder (``python -m llm.plot``, the experiment); a
finishing run labels its rows in memory (:mod:`llm.evaluation.summary`). A run's method is named
one way everywhere: :func:`method_label`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from upo_theory import LossSpec, UserError, loss_spec, parse_json

from ..engine.metrics import read_metrics

CURVE_METRICS: tuple[str, ...] = ("loss", "rewards/accuracies", "rewards/margins", "statistic",
                                  "reward_policy", "reward_reference", "win_rate", "kl",
                                  "f_divergence")
"""The metrics a curve point keeps, where its row has them: the held-out metrics (the figures
draw the first three) and, for rows of ``split`` "truth" (``--truth-every``), the true reward,
the win rate and the divergences from π_ref."""
_SHORT = {"js": "JS", "rkl": "RKL", "fkl": "FKL", "tv": "TV"}
_FORMS = {"paper": "paper form", "per_response": "per-response form"}


class CurveError(UserError):
    """A run folder without the files its curves need."""


def method_label(spec: LossSpec) -> str:
    """The name of a run's method in legends, tables and ``curves.csv``: ``IPO``, ``DPO``,
    ``f-DPO (JS)``, ``JS-IUPO paper form``, ``JS-IUPO per-response form``, ...

    Examples
    --------
    >>> from upo_theory import loss_spec
    >>> method_label(loss_spec("iupo", "js", "paper"))
    'JS-IUPO paper form'
    >>> method_label(loss_spec("ipo"))
    'IPO'
    """
    divergence = spec.divergence
    short = _SHORT.get(divergence.name, divergence.label)
    if spec.psi == "logit":
        return "DPO" if divergence.name == "rkl" else f"f-DPO ({short})"
    if divergence.name == "rkl" and spec.form == "per_response":
        return "IPO"
    return f"{short}-IUPO {_FORMS[spec.form]}"


def preference_curve(rows: Sequence[Mapping], label: Mapping) -> list[dict]:
    """The preference stage's points among a run's metric ``rows`` (step, split and
    :data:`CURVE_METRICS`), each with ``label`` (``method``, ``beta``, ``seed``, ...) first."""
    return [{**label, "step": r["step"], "split": r["split"],
             **{name: r[name] for name in CURVE_METRICS if name in r}}
            for r in rows if r["stage"] == "pref"]


@dataclass(frozen=True)
class SavedRun:
    """What a curve needs of a run's saved settings: its loss-family member, β and seed."""

    spec: LossSpec
    beta: float
    seed: int


def saved_run(folder: Path) -> SavedRun:
    """A run folder's saved settings, read as saved, not validated again: the run may have
    moved, its data and ``--init`` folder need not exist here."""
    if not (folder / "config.json").is_file() or not (folder / "metrics.jsonl").is_file():
        raise CurveError(f"{folder} is not a run folder (no config.json or metrics.jsonl)")
    try:
        settings = parse_json((folder / "config.json").read_text())
        return SavedRun(loss_spec(settings["loss"], settings["f"], settings["form"],
                                  settings["alpha"]),
                        float(settings["beta"]), int(settings["seed"]))
    except UserError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise CurveError(f"{folder / 'config.json'} is not a run's settings ({error!r}); give "
                         "run folders of llm.train") from None


def run_curve(folder: Path, label: Mapping | None = None) -> list[dict]:
    """The preference curve of the run in ``folder``, labelled by ``label`` or, by default, by
    its saved settings: its method (:func:`method_label`), β, seed and folder."""
    folder = Path(folder)
    if label is None:
        saved = saved_run(folder)
        label = {"method": method_label(saved.spec), "beta": saved.beta, "seed": saved.seed,
                 "run": str(folder)}
    return preference_curve(read_metrics(folder), label)
