"""The comparison at matched divergence: each method's reward frontier and its difference to the
baseline's at KLs both reach.

The runs' truth evaluations over β and over training (``--truth-every``; π_ref itself is the
point at KL 0) are a method's points of (KL from π_ref, true reward) on a seed
(:func:`frontier_points`). Their upper concave envelope R(k) (:func:`envelope`) is reachable: the
mixture of two policies has the mixture's reward and, KL being convex, at most the mixture's KL.
R(k) is held at its peak past it (a policy can always stop earlier), and compared between
methods seed by seed at divergences every seed of both methods reaches (:func:`frontier`), and
as one number per seed: the mean gap of the two frontiers over the KL range [0, K] both reach on
every seed (:func:`integrated_gap`, :func:`primary_endpoint`; the pre-registered study's primary
endpoint).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .statistics import BASELINE, Estimate, curves_of, holm

__all__ = ["MATCHED_FRACTIONS", "envelope", "frontier", "frontier_points", "integrated_gap",
           "primary_endpoint"]


def frontier_points(curves: Sequence[dict], rows: Sequence[dict]
                    ) -> dict[tuple[str, int], np.ndarray]:
    """Per (method, seed): its points (KL, true reward) over β and training, π_ref's at KL 0,
    from the truth rows of ``curves`` of the runs in ``rows`` (a negative Monte-Carlo KL, a
    policy that has hardly moved, counts as 0)."""
    points: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for c in curves_of(curves, rows):
        if c["split"] == "truth":
            key = (c["method"], int(c["seed"]))  # a Monte-Carlo KL can fall below 0: it is 0
            points[key] += [(max(c["kl"], 0.0), c["reward_policy"]), (0.0, c["reward_reference"])]
    return {key: np.unique(np.array(p, dtype=float), axis=0) for key, p in points.items()}


def envelope(points: np.ndarray, k: np.ndarray | float) -> np.ndarray:
    """R(k): the upper concave envelope of the (KL, reward) ``points`` at divergence ``k``, held
    at its peak past it (k between 0 and the largest KL of the points).

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0], [1.0, 0.2], [2.0, 1.0], [3.0, 0.5]])
    >>> envelope(pts, np.array([1.0, 2.0, 3.0])).round(3).tolist()
    [0.5, 1.0, 1.0]
    """
    vertices = _upper_hull(points)
    peak = vertices[np.argmax(vertices[:, 1]), 0]
    return np.interp(np.minimum(k, peak), vertices[:, 0], vertices[:, 1])


def _upper_hull(points: np.ndarray) -> np.ndarray:
    """The vertices of the upper concave hull of ``points``, left to right (Andrew's monotone
    chain); :func:`envelope` is linear between them. Of points at the same KL only the highest
    is a vertex (π_ref and a policy that has hardly moved both sit at KL 0), so no two vertices
    share a KL and the envelope there is their maximum."""
    order = np.lexsort((-points[:, 1], points[:, 0]))  # by KL, the highest reward first
    hull: list[np.ndarray] = []
    for p in points[order]:
        if hull and p[0] == hull[-1][0]:  # below the vertex just placed at this KL
            continue
        while len(hull) >= 2 and _turn(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    return np.array(hull)


def _turn(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """The z of (b − a) × (c − a): ≥ 0 where a, b, c do not turn clockwise (b is not above)."""
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


MATCHED_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
"""Where the methods are compared: these fractions of the largest KL every seed of both reaches."""


def frontier(curves: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """Each method against the baseline at matched KL from π_ref: the per-seed difference of
    their frontiers R(k) (:func:`envelope`) at :data:`MATCHED_FRACTIONS` of the largest KL both
    reach on every seed, the family of those divergences Holm-corrected."""
    points = frontier_points(curves, rows)
    methods = list(dict.fromkeys(m for m, _ in points))
    out = []
    for method in [m for m in methods if m != BASELINE and BASELINE in methods]:
        seeds = sorted(s for m, s in points if m == method and (BASELINE, s) in points)
        if not seeds:
            continue
        reach = min(min(points[method, s][:, 0].max(), points[BASELINE, s][:, 0].max())
                    for s in seeds)
        if not reach > 0:  # some seed of one of them never moved from π_ref
            continue
        targets = [f * reach for f in MATCHED_FRACTIONS]
        entries = []
        for k in targets:
            mine = [float(envelope(points[method, s], k)) for s in seeds]
            base = [float(envelope(points[BASELINE, s], k)) for s in seeds]
            entries.append({"method": method, "kl": k, "seeds": len(seeds),
                            "reward": Estimate.of(mine, len(targets)),
                            "baseline": Estimate.of(base, len(targets)),
                            "difference": Estimate.of(np.subtract(mine, base), len(targets))})
        for e, p in zip(entries, holm([e["difference"].p_value for e in entries]), strict=True):
            e["holm"] = p
        out += entries
    return out


def integrated_gap(points: np.ndarray, baseline: np.ndarray, upper: float) -> float:
    """The mean gap (1/K) ∫₀ᴷ (R(k) − R_baseline(k)) dk of two frontiers (:func:`envelope` of
    ``points`` and of ``baseline``) over [0, K], K = ``upper``: a difference in reward units.
    Exact: both frontiers are linear between their hull vertices and peaks, so the trapezoid rule
    on those divergences integrates them without error.

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> b = np.array([[0.0, 0.0], [1.0, 0.5]])
    >>> integrated_gap(a, b, 1.0)  # the mean of 0.5·k over [0, 1]
    0.25
    """
    if not upper > 0:
        raise ValueError(f"upper={upper} must be > 0: the range [0, K] must have a width")
    knots = [0.0, upper]
    for p in (points, baseline):
        vertices = _upper_hull(p)
        knots += [*vertices[:, 0], vertices[np.argmax(vertices[:, 1]), 0]]
    k = np.unique(np.clip(knots, 0.0, upper))
    gap = envelope(points, k) - envelope(baseline, k)
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(k)) / upper)


def primary_endpoint(curves: Sequence[dict], rows: Sequence[dict], method: str
                     ) -> dict | None:
    """``method`` against the baseline as one number per seed: the mean frontier gap
    (:func:`integrated_gap`) over the KL range [0, K], K the largest KL both reach on every seed
    they share; ``{"method", "kl_range", "seeds", "gaps", "estimate"}``, or None where they share
    no seed or some seed of one never moved from π_ref."""
    points = frontier_points(curves, rows)
    seeds = sorted(s for m, s in points if m == method and (BASELINE, s) in points)
    if not seeds:
        return None
    reach = min(min(points[method, s][:, 0].max(), points[BASELINE, s][:, 0].max())
                for s in seeds)
    if not reach > 0:
        return None
    gaps = [integrated_gap(points[method, s], points[BASELINE, s], reach) for s in seeds]
    return {"method": method, "kl_range": float(reach), "seeds": seeds, "gaps": gaps,
            "estimate": Estimate.of(gaps)}
