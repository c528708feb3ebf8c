"""The pre-registered study (``python -m llm.experiment --protocol study``): its design computed
from the pilot, and its report.

The question: does JS-IUPO in the per-response form beat IPO at matched divergence, and by how
much at most? The primary endpoint is the mean gap of the two frontiers over the KL range both
reach on every seed (:func:`llm.experiments.frontier.primary_endpoint`), one number per seed,
judged by a paired t interval and TOST against ± :data:`MARGIN`
(:func:`llm.experiments.statistics.equivalence_verdict`). The design's numbers come from the
pilot's CSV files (``docs/results``) by :func:`pilot_design` and are written into
``docs/results/study/PREREGISTRATION.md`` as :func:`design_text` renders them, so the file and
the calculation cannot drift apart (a test compares them). :func:`study_markdown` puts the
primary verdict first, then the secondary family (:func:`secondary`, Holm over all of it), then
the experiment's own report (with the plateau of KL and true reward,
:func:`llm.experiments.report.plateau`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import scipy.stats

from .frontier import primary_endpoint
from .rates import rate_rows
from .report import markdown
from .statistics import (
    BASELINE,
    LEVEL,
    Estimate,
    curves_of,
    equivalence_verdict,
    holm,
    method_order,
    seeds_for_half_width,
    tost_p_value,
)

PRIMARY = "JS-IUPO per-response form"
"""The method the primary endpoint compares with the baseline (IPO)."""
MARGIN = 0.05
"""The equivalence margin of the primary endpoint, in true-reward units (about a tenth of IPO's
gain over π_ref at β = 0.1 in the pilot, :func:`pilot_design`)."""
HALF_WIDTH = 0.03
"""The largest half-width of the primary endpoint's 95 % interval the number of seeds is sized
for."""
SE_TO_SPACING = 0.15
"""The largest median ratio of a KL point's Monte-Carlo s.e. to the KL distance to its nearest
β neighbour (same method and seed) the number of truth prompts is sized for."""
PILOT_PROMPTS = 128
SECONDS_PER_PROMPT_PROBE = 0.42
"""Measured here (2 shared cores, a load of about 4): one truth probe of the 2 × 128 model costs
this many seconds per prompt (a 40-step run with 2 probes took 150 s at 128 prompts and 475 s
at 512)."""


def pilot_design(pilot: dict, steps: int = 400, betas: int = 5, seeds: int | None = None,
                 select_seeds: int = 3, rates: int = 4, truth_every: int = 50) -> dict:
    """The study's numbers from the pilot's files (``pilot``: ``rows``, ``selection``,
    ``curves`` and ``setup``, as :func:`llm.experiments.report_files.read_results` reads a
    folder's): the margin's reference (IPO's
    gain over π_ref at β = 0.1), the primary endpoint per seed and its s.d., the seeds for
    :data:`HALF_WIDTH`, the truth prompts for :data:`SE_TO_SPACING`, and the study's CPU time
    for ``steps`` preference steps, ``betas`` β, ``select_seeds`` × ``rates`` selection runs per
    method and a truth probe every ``truth_every`` steps."""
    rows = rate_rows(pilot["rows"], pilot["selection"], equal=False)
    curves, setup = pilot["curves"], pilot["setup"]
    ipo = [r for r in rows if r["method"] == BASELINE and math.isclose(r["beta"], 0.1)]
    gain = float(np.mean([r["reward_policy"] - r["reward_reference"] for r in ipo]))
    primary = primary_endpoint(curves, rows, PRIMARY)
    sd = primary["estimate"].sd
    n = seeds_for_half_width(sd, HALF_WIDTH) if seeds is None else seeds
    ratios = []
    for method in (BASELINE, PRIMARY):
        for seed in sorted({r["seed"] for r in rows}):
            mine = [r for r in rows if (r["method"], r["seed"]) == (method, seed)]
            for r in mine:
                spacing = min(abs(r["kl"] - o["kl"]) for o in mine if o is not r)
                ratios.append(r["kl_se"] / spacing)
    ratio = float(np.median(ratios))
    prompts = PILOT_PROMPTS
    while ratio * math.sqrt(PILOT_PROMPTS / prompts) > SE_TO_SPACING:
        prompts *= 2
    pilot_probes = len(pilot["rows"]) * setup["pref_steps"] // setup["truth_every"]
    pilot_truth = pilot_probes * PILOT_PROMPTS * SECONDS_PER_PROMPT_PROBE
    pilot_steps = ((len(setup["seeds"]) + len(setup["select_seeds"])) * setup["sft_steps"]
                   + (len(pilot["selection"]) + len(pilot["rows"])) * setup["pref_steps"])
    per_step = max(setup["run_minutes"] * 60 - pilot_truth, 0.0) / pilot_steps
    sweep = 2 * betas * n
    study_steps = (n + select_seeds) * setup["sft_steps"] + (2 * select_seeds * rates
                                                              + sweep) * steps
    truth = sweep * (steps // truth_every) * prompts * SECONDS_PER_PROMPT_PROBE
    return {"ipo_gain": gain, "margin_share": MARGIN / gain, "kl_range": primary["kl_range"],
            "gaps": primary["gaps"], "estimate": primary["estimate"], "sd": sd, "seeds": n,
            "half_width": _half(sd, n), "ratio": ratio, "prompts": prompts,
            "median_kl_se": float(np.median([r["kl_se"] for r in rows
                                             if r["method"] in (BASELINE, PRIMARY)])),
            "per_step": per_step, "runs": sweep + 2 * select_seeds * rates + n + select_seeds,
            "cpu_hours": (study_steps * per_step + truth) / 3600, "truth_hours": truth / 3600}


def _half(sd: float, n: int) -> float:
    return float(scipy.stats.t.ppf(1 - LEVEL / 2, n - 1) * sd / math.sqrt(n))


def design_text(design: dict) -> str:
    """The calculation as ``PREREGISTRATION.md`` states it (computed, never typed)."""
    gaps = ", ".join(f"{g:+.4f}" for g in design["gaps"])
    e = design["estimate"]
    return (
        f"- Margin: IPO's mean gain in true reward over π_ref at β = 0.1 in the pilot is "
        f"{design['ipo_gain']:.3f}; the margin ± {MARGIN:g} is {100 * design['margin_share']:.1f} "
        f"% of it.\n"
        f"- Pilot primary endpoint (per-response − IPO, each at its own rate, KL range "
        f"[0, {design['kl_range']:.3f}]), per seed: {gaps}; mean {e.text(3, signed=True)}; "
        f"per-seed s.d. {design['sd']:.4f}.\n"
        f"- Seeds: the fewest N with t(0.975, N − 1) · {design['sd']:.4f} / √N ≤ {HALF_WIDTH:g} "
        f"is N = {design['seeds']} (half-width {design['half_width']:.4f}).\n"
        f"- Truth prompts: in the pilot (128 prompts) the median ratio of a KL point's s.e. to "
        f"the KL distance to its nearest β neighbour is {design['ratio']:.3f} (median KL s.e. "
        f"{design['median_kl_se']:.3f}); the s.e. falls as 1/√prompts, and "
        f"{design['prompts']} prompts bring the ratio to "
        f"{design['ratio'] * math.sqrt(PILOT_PROMPTS / design['prompts']):.3f} "
        f"≤ {SE_TO_SPACING:g}.\n"
        f"- CPU time: {design['runs']} runs; training at {design['per_step']:.2f} s per step "
        f"(the pilot's run time less its truth probes, per step) and truth probes at "
        f"{SECONDS_PER_PROMPT_PROBE:g} s per prompt (measured here) give about "
        f"{design['cpu_hours']:.0f} CPU-hours, {design['truth_hours']:.0f} of them truth "
        f"probes: about {design['cpu_hours'] / 2:.0f} hours of wall time at --jobs 2 on this "
        "2-core machine.\n")


def secondary(rows: Sequence[dict]) -> list[dict]:
    """The secondary family, one Holm correction over all of it: per β, each method − the
    baseline in true reward and in KL, and every method's true reward − π_ref's; intervals at
    1 − 0.05/m (m the family's size)."""
    by_key = {(r["beta"], r["method"], r["seed"]): r for r in rows}
    betas = sorted({r["beta"] for r in rows})
    wanted = []
    for method in method_order(rows):
        for beta in betas:
            seeds = sorted(s for b, m, s in by_key if (b, m) == (beta, method))
            paired = [s for s in seeds if (beta, BASELINE, s) in by_key]
            if method != BASELINE and len(paired) > 1:
                for name in ("reward_policy", "kl"):
                    values = [by_key[beta, method, s][name] - by_key[beta, BASELINE, s][name]
                              for s in paired]
                    wanted.append((method, beta, f"Δ {_label(name)} vs {BASELINE}", values))
            if len(seeds) > 1:
                values = [by_key[beta, method, s]["reward_policy"]
                          - by_key[beta, method, s]["reward_reference"] for s in seeds]
                wanted.append((method, beta, "true reward − π_ref's", values))
    out = [{"method": m, "beta": b, "comparison": c, "seeds": len(v),
            "estimate": Estimate.of(v, len(wanted))} for m, b, c, v in wanted]
    for entry, p in zip(out, holm([e["estimate"].p_value for e in out]), strict=True):
        entry["holm"] = p
    return out


def _label(name: str) -> str:
    return {"reward_policy": "true reward", "kl": "KL"}[name]


def missing_runs(rows: Sequence[dict], curves: Sequence[dict], setup: dict) -> list[str]:
    """What the design in ``setup`` (its methods, β, seeds, steps and truth probes) has and the
    files lack: a run of a method at its chosen rate (``rows``), or a truth probe of one
    (``curves``); empty when the study is complete. A ``setup`` without its methods (written
    before they were recorded) is taken to have those of ``rows``."""
    every = setup.get("truth_every") or 0
    steps = set(range(every, setup["pref_steps"] + 1, every)) if every > 0 else set()
    runs = {_run(r) for r in rows}
    probes = _probe_steps(curves, rows)
    missing = []
    for method in setup.get("methods") or method_order(rows):
        for beta in setup["betas"]:
            for seed in setup["seeds"]:
                key = _run({"method": method, "beta": beta, "seed": seed})
                name = f"{method} at β = {beta:g}, seed {seed}"
                if key not in runs:
                    missing.append(name)
                elif steps - probes[key]:
                    gone = ", ".join(str(s) for s in sorted(steps - probes[key]))
                    missing.append(f"{name}: the truth probes of steps {gone}")
    return missing


def _run(row: dict) -> tuple[str, float, int]:
    """A run of the design: its method, β and seed."""
    return row["method"], round(row["beta"], 12), int(row["seed"])


def _probe_steps(curves: Sequence[dict], rows: Sequence[dict]) -> dict[tuple, set[int]]:
    """The steps of the truth probes of each run in ``rows`` (:func:`_run`)."""
    probes: dict[tuple, set[int]] = defaultdict(set)
    for c in curves_of(curves, rows):
        if c["split"] == "truth":
            probes[_run(c)].add(int(c["step"]))
    return probes


def study_markdown(rows: Sequence[dict], selection: Sequence[dict], setup: dict,
                   curves: Sequence[dict]) -> str:
    """The study's ``experiment.md``: the primary endpoint's verdict first, the secondary
    family, then the experiment's report (:func:`markdown`, its plateau table included). An
    incomplete study (:func:`missing_runs`) reports what it lacks and nothing else: by the
    stopping rule no endpoint is looked at before every run exists."""
    best = rate_rows(rows, selection, equal=False)
    missing = missing_runs(best, curves, setup)
    if missing:
        shown = "".join(f"- {m}\n" for m in missing[:10])
        more = f"- and {len(missing) - 10} more\n" if len(missing) > 10 else ""
        return (f"{_heading()}\n**Primary endpoint: not computed.** The study is incomplete, "
                "and by its stopping rule no endpoint is looked at before every run exists; "
                f"run the same command again to finish it. Missing ({len(missing)}):\n\n"
                + shown + more)
    return "\n".join([_primary_text(curves, best), _secondary_text(best),
                      markdown(rows, selection, setup, curves)])


def _p_text(p: float) -> str:
    return "p —" if math.isnan(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def _heading() -> str:
    return "# Pre-registered study: per-response JS-IUPO against IPO at matched KL\n"


def _primary_text(curves: Sequence[dict], rows: Sequence[dict]) -> str:
    lines = [_heading(),
             "Pre-registered in `PREREGISTRATION.md` (docs/results/study) before any run. The "
             f"primary endpoint: {PRIMARY} − {BASELINE}, the mean gap of their frontiers R(k) "
             "of true reward over the KL range [0, K] both reach on every seed, one number per "
             f"seed; a paired t interval (95 %) and TOST at α = {LEVEL:g} against a margin of "
             f"± {MARGIN:g} reward units.\n"]
    primary = primary_endpoint(curves, rows, PRIMARY)
    if primary is None:
        return "\n".join([*lines, "**Primary endpoint: not computable** (no shared seed, or a "
                                  "seed that never moved from π_ref).\n"])
    e = primary["estimate"]
    tost = (tost_p_value(e.mean, e.scale, e.n - 1, MARGIN) if e.n > 1 else math.nan)
    lines.append(f"**Primary endpoint: {equivalence_verdict(e, MARGIN)}.** Mean gap "
                 f"{e.text(3, signed=True)} (95 % interval, {e.n} seeds, K = "
                 f"{primary['kl_range']:.3g}); TOST against ± {MARGIN:g}: {_p_text(tost)}; "
                 f"per seed: {', '.join(f'{g:+.3f}' for g in primary['gaps'])}.\n")
    lines.append(_drawn_from(curves, rows))
    return "\n".join(lines)


def _drawn_from(curves: Sequence[dict], rows: Sequence[dict]) -> str:
    """What each frontier stands on: its runs per seed and their truth probes."""
    chosen = [r for r in rows if r["method"] in (BASELINE, PRIMARY)]
    fewest = min(map(len, _probe_steps(curves, chosen).values()), default=0)
    per_seed = Counter((r["method"], r["seed"]) for r in chosen)
    return (f"Each method's frontier on a seed is drawn from {min(per_seed.values())} runs "
            f"(one per β), each with at least {fewest} truth probes "
            "over its training, and π_ref at KL 0.\n")


def _secondary_text(rows: Sequence[dict]) -> str:
    family = secondary(rows)
    if not family:
        return ""
    lines = [f"## Secondary endpoints\n\nOne family of m = {len(family)} comparisons, each "
             "paired by seed: mean [interval at 1 − 0.05/m, simultaneous over the family] "
             "(Holm-adjusted p over the whole family).\n",
             "| β | method | comparison | seeds | mean [interval] (p) |", "|---|---|---|---|---|"]
    for e in family:
        lines.append(f"| {e['beta']:g} | {e['method']} | {e['comparison']} | {e['seeds']} | "
                     f"{e['estimate'].text(3, signed=True)} ({_p_text(e['holm'])}) |")
    return "\n".join(lines) + "\n"
