"""The learning-rate selection rule: which rate each method runs at, and where the grid of rates
tried is extended.

The rule (:func:`chosen_rates`): on the selection seeds' validation pairs, the best final
accuracy, where every rate within one standard error of it counts as tied (binomial, or the
spread between selection seeds where that is larger), and of tied rates the lowest validation
loss wins. A choice on the edge of the rates tried extends the grid
one step past it on the 1, 3, 10, ... ladder (:func:`next_rate`). The experiment
(:mod:`llm.experiments.sweep`) runs the selection runs; the report
(:mod:`llm.experiments.report`) shows the grid and picks the runs at the chosen rates
(:func:`rate_rows`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .statistics import BASELINE


def chosen_rates(selection: Sequence[dict]) -> dict[str, float]:
    """The learning rate each method is run at, from its validation runs (averaged over the
    selection seeds): the rates whose accuracy is within one standard error of the best
    accuracy a tie, and of those the lowest validation loss wins (the experiment's choice and
    the report's column both come from here). The standard error is the larger of the binomial
    one, √(a(1 − a)/n) (n validation pairs in all), and, over several selection seeds, the
    spread between them, s/√k (the s.d. s of the best rate's accuracy over its k seeds).

    Examples
    --------
    >>> rows = [dict(method="m", lr=lr, eval_accuracy=a, eval_loss=l, eval_pairs=1000)
    ...         for lr, a, l in ((1e-4, 0.73, 4.9), (3e-4, 0.72, 4.7), (1e-3, 0.60, 6.0))]
    >>> chosen_rates(rows)
    {'m': 0.0003}
    """
    return {method: min(tied, key=lambda g: (g["loss"], g["lr"]))["lr"]
            for method, tied in tied_rates(selection).items()}


def rate_means(selection: Sequence[dict]) -> list[dict]:
    """Per (method, rate): the validation accuracy and loss averaged over the selection seeds,
    the validation pairs of all of them, and the standard error of the mean accuracy between
    the selection seeds (``seed_se``; 0 for one seed)."""
    grouped: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for row in selection:
        grouped[row["method"], row["lr"]].append(row)
    return [{"method": m, "lr": lr, "accuracy": float(np.mean([r["eval_accuracy"] for r in g])),
             "loss": float(np.mean([r["eval_loss"] for r in g])),
             "pairs": int(sum(r["eval_pairs"] for r in g)),
             "seed_se": (float(np.std([r["eval_accuracy"] for r in g], ddof=1) / math.sqrt(len(g)))
                         if len(g) > 1 else 0.0)}
            for (m, lr), g in grouped.items()]


def tied_rates(selection: Sequence[dict]) -> dict[str, list[dict]]:
    """Per method, the rates tied with its best validation accuracy (see :func:`chosen_rates`)."""
    rates = rate_means(selection)
    out = {}
    for method in dict.fromkeys(r["method"] for r in rates):
        mine = [r for r in rates if r["method"] == method]
        best = max(mine, key=lambda r: r["accuracy"])
        se = max(math.sqrt(best["accuracy"] * (1 - best["accuracy"]) / best["pairs"]),
                 best["seed_se"])
        out[method] = [r for r in mine if best["accuracy"] - r["accuracy"] <= se]
    return out


def rate_rows(rows: Sequence[dict], selection: Sequence[dict], equal: bool) -> list[dict]:
    """The runs at each method's chosen rate, or (``equal``) at the baseline's chosen rate."""
    rates = chosen_rates(selection)
    return [r for r in rows
            if math.isclose(r["lr"], rates[BASELINE] if equal else rates[r["method"]])]


def next_rate(lr: float, up: bool) -> float:
    """The learning rate one step past ``lr`` on the 1, 3, 10, 30, ... ladder.

    Examples
    --------
    >>> next_rate(3e-5, up=False), next_rate(1e-3, up=True), next_rate(1e-4, up=False)
    (1e-05, 0.003, 3e-05)
    """
    exponent = math.floor(math.log10(lr) + 1e-9)
    low = lr / 10**exponent < 2  # a 1 (else a 3) of its decade
    if up:
        mantissa, exponent = (3, exponent) if low else (1, exponent + 1)
    else:
        mantissa, exponent = (3, exponent - 1) if low else (1, exponent)
    return float(f"{mantissa}e{exponent}")
