"""The experiment's statistics over seeds: estimates, paired differences against the baseline,
and Holm's correction of a family of comparisons.

Over the seeds of a (method, β) — each seed its own SFT model, data order and evaluation noise, so
the spread over seeds holds all of them: the mean, the sample standard deviation and the
confidence interval of the mean, t-distributed with n − 1 degrees of freedom
(:class:`Estimate`). Methods are compared seed by seed against the baseline (:data:`BASELINE`;
same seed: same SFT model, data order and reference samples) with a paired t-test
(:func:`paired_differences`); a family of comparisons (one metric of one method over the β
compared, or over the divergences matched) is corrected for its size m: its verdicts by Holm's
step-down adjustment of the p-values (:func:`holm`), its intervals at the 1 − 0.05/m level
(Bonferroni, simultaneous, so each contains the difference with the family's confidence of 95 %).

A test is a function of an :class:`Estimate`'s mean, standard error and degrees of freedom
(:func:`t_p_value` for a zero mean); another test of the same differences, such as an
equivalence test (TOST: the larger of two one-sided p-values against ± a margin), is one more
such function, and :func:`holm` corrects its family as it does this one's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

BASELINE = "IPO"
"""The method every other is compared to, seed by seed, and the one whose rate is the equal
rate."""
METRICS: tuple[tuple[str, str, int], ...] = (
    ("eval_accuracy", "eval accuracy", 3), ("eval_loss", "eval loss", 2),
    ("reward_policy", "true reward r*", 2), ("win_rate", "win rate vs π_ref", 3),
    ("correct_policy", "correct answers", 2), ("kl", "KL(π ‖ π_ref)", 2),
    ("f_divergence", "JS(π, π_ref)", 3),
)
"""(column of runs.csv, label, decimals) of what the table reports, where the runs have it."""
COMPARED = ("eval_accuracy", "reward_policy", "win_rate", "kl")
"""The figures compared seed by seed against the baseline."""
LEVEL = 0.05
"""The family-wise error rate of every family of comparisons (95 % confidence)."""


def t_p_value(mean: float, scale: float, dof: int) -> float:
    """The two-sided p-value of a zero mean from ``mean``, its standard error ``scale`` and
    ``dof`` degrees of freedom (Student's t); a zero ``scale`` decides by the mean alone."""
    if scale > 0:
        return float(2 * scipy.stats.t.sf(abs(mean) / scale, dof))
    return 1.0 if mean == 0 else 0.0


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its spread: sample s.d., the half-width of its confidence interval
    (t, n − 1; at level 1 − 0.05/``family`` for a family of that many comparisons) and the
    two-sided p-value of a zero mean (the paired t-test, for differences)."""

    mean: float
    sd: float
    n: int
    half_width: float
    p_value: float = math.nan
    family: int = 1

    @classmethod
    def of(cls, values: Sequence[float], family: int = 1) -> Estimate:
        x = np.asarray(values, dtype=float)
        if x.size < 2:
            return cls(float(x.mean()), math.nan, int(x.size), math.nan, math.nan, family)
        sd = float(x.std(ddof=1))
        scale = sd / math.sqrt(x.size)
        half = float(scipy.stats.t.ppf(1 - LEVEL / (2 * family), x.size - 1) * scale)
        p = t_p_value(float(x.mean()), scale, x.size - 1)
        return cls(float(x.mean()), sd, int(x.size), half, p, family)

    def text(self, decimals: int, signed: bool = False) -> str:
        sign = "+" if signed else ""
        if math.isnan(self.half_width):
            return f"{self.mean:{sign}.{decimals}f}"
        return (f"{self.mean:{sign}.{decimals}f} [{self.mean - self.half_width:{sign}.{decimals}f},"
                f" {self.mean + self.half_width:{sign}.{decimals}f}]")

    @property
    def scale(self) -> float:
        """The standard error of the mean, s.d./√n."""
        return self.sd / math.sqrt(self.n) if self.n > 1 else math.nan

    @property
    def excludes_zero(self) -> bool:
        return not math.isnan(self.half_width) and abs(self.mean) > self.half_width


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of a family (NaN stays NaN and is not counted).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    known = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (len(known) - rank) * p))
        adjusted[i] = round(running, 12)
    return adjusted


def method_order(rows: Sequence[dict]) -> list[str]:
    """Methods in the order they first appear (the experiment's order), the baseline first."""
    names = list(dict.fromkeys(r["method"] for r in rows))
    return sorted(names, key=lambda name: (name != BASELINE, names.index(name)))


def curves_of(curves: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """The points of ``curves`` that belong to the runs in ``rows`` (a run: method, β, seed and
    learning rate)."""
    def run(r: dict) -> tuple:
        return r["method"], r["beta"], r["seed"], r["lr"]

    runs = {run(r) for r in rows}
    return [c for c in curves if run(c) in runs]


def summarise(rows: Sequence[dict]) -> list[dict]:
    """Per (β, method): the number of seeds and an :class:`Estimate` of every metric it has."""
    groups: dict[tuple[float, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["beta"], row["method"]].append(row)
    order = method_order(rows)
    out = []
    for beta, method in sorted(groups, key=lambda g: (g[0], order.index(g[1]))):
        members = groups[beta, method]
        entry: dict = {"beta": beta, "method": method, "seeds": len(members)}
        for name, _, _ in METRICS:
            if all(name in m for m in members):
                entry[name] = Estimate.of([m[name] for m in members])
        out.append(entry)
    return out


def paired_differences(rows: Sequence[dict]) -> list[dict]:
    """Per β and method other than the baseline: the per-seed difference to the baseline, each
    metric's family (one method, the β compared) corrected: intervals for its size, and the
    Holm-adjusted p-values in ``holm``."""
    by_key = {(r["beta"], r["method"], r["seed"]): r for r in rows}
    betas = sorted({r["beta"] for r in rows})
    out = []
    for method in method_order(rows)[1:]:
        mine = []
        for beta in betas:
            seeds = sorted(s for b, m, s in by_key if b == beta and m == method
                           and (beta, BASELINE, s) in by_key)
            if seeds:
                mine.append((beta, seeds))
        entries = []
        for beta, seeds in mine:
            entry: dict = {"beta": beta, "method": method, "seeds": len(seeds), "holm": {}}
            for name in COMPARED:
                pairs = [(by_key[beta, method, s], by_key[beta, BASELINE, s]) for s in seeds]
                if all(name in a and name in b for a, b in pairs):
                    entry[name] = Estimate.of([a[name] - b[name] for a, b in pairs], len(mine))
            entries.append(entry)
        for name in COMPARED:
            family = [e for e in entries if name in e]
            for e, p in zip(family, holm([e[name].p_value for e in family]), strict=True):
                e["holm"][name] = p
        out.extend(entries)
    return sorted(out, key=lambda e: (e["beta"], method_order(rows).index(e["method"])))


def tost_p_value(mean: float, scale: float, dof: int, margin: float) -> float:
    """The p-value of an equivalence test (TOST, two one-sided t-tests): the larger of the
    one-sided p-values of H₀: mean ≤ −``margin`` and of H₀: mean ≥ ``margin``; below α it says
    the mean lies within ± ``margin`` (equivalently: the 1 − 2α interval lies inside it). A zero
    ``scale`` decides by the mean alone.

    Examples
    --------
    >>> round(tost_p_value(0.0, 0.01, 9, 0.05), 6), round(tost_p_value(0.04, 0.01, 9, 0.05), 3)
    (0.000369, 0.172)
    """
    if not margin > 0:
        raise ValueError(f"margin={margin} must be > 0")
    if scale > 0:
        below = scipy.stats.t.sf((mean + margin) / scale, dof)  # H₀: mean ≤ −margin
        above = scipy.stats.t.cdf((mean - margin) / scale, dof)  # H₀: mean ≥ +margin
        return float(max(below, above))
    return 0.0 if abs(mean) < margin else 1.0


VERDICTS = ("equivalent within the margin", "better", "worse", "inconclusive")
"""The outcomes of a pre-registered comparison against a margin (:func:`equivalence_verdict`)."""


def equivalence_verdict(estimate: Estimate, margin: float, level: float = LEVEL) -> str:
    """One of :data:`VERDICTS` for a mean difference over seeds (``estimate``, one comparison):
    *equivalent within the margin* where TOST at ``level`` rejects both one-sided nulls (its
    1 − 2·level interval lies inside ± ``margin``); else *better* or *worse* where the two-sided
    1 − ``level`` interval excludes 0; else *inconclusive*. Equivalence is decided first: a
    difference inside the margin is equivalent even where it is also distinguishable from 0."""
    if estimate.n < 2:
        return "inconclusive"
    if tost_p_value(estimate.mean, estimate.scale, estimate.n - 1, margin) < level:
        return "equivalent within the margin"
    half = float(scipy.stats.t.ppf(1 - level / 2, estimate.n - 1) * estimate.scale)
    if estimate.mean - half > 0:
        return "better"
    if estimate.mean + half < 0:
        return "worse"
    return "inconclusive"


def seeds_for_half_width(sd: float, half_width: float, level: float = LEVEL) -> int:
    """The fewest seeds n ≥ 2 whose two-sided 1 − ``level`` t interval of a mean has a
    half-width t(1 − level/2, n − 1)·sd/√n of at most ``half_width``, for a per-seed standard
    deviation ``sd`` (the power calculation of a fixed-N design).

    Examples
    --------
    >>> seeds_for_half_width(0.04, 0.03)
    10
    """
    if not (sd > 0 and half_width > 0 and 0 < level < 1):
        raise ValueError(f"sd={sd} and half_width={half_width} must be > 0 and level={level} "
                         "in (0, 1)")
    z = scipy.stats.norm.ppf(1 - level / 2)  # t > z at every dof: no n below (z·sd/h)² will do
    n = max(2, math.ceil((z * sd / half_width) ** 2) - 1)
    while scipy.stats.t.ppf(1 - level / 2, n - 1) * sd / math.sqrt(n) > half_width:
        n += 1
    return n
