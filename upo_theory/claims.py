"""The verification report's catalogue in the order the report prints it, and its two entry
points: :func:`verify_all` (every claim, every registered f) and :func:`verify_divergence` (the
claims for one f, a user's own within a budget of memory).

The claims are decided by :mod:`~upo_theory.verdicts` and stated in
:mod:`~upo_theory.paper_claims` (the paper's, each within its scope),
:mod:`~upo_theory.repair_claims` (the project's repair) and :mod:`~upo_theory.extended_claims`
(checks beyond the paper). :data:`GENERAL` lists the claims about no particular f,
:data:`PER_DIVERGENCE` those checked for each f; within each group of
:data:`~upo_theory.verdicts.CLAIM_GROUPS` the report keeps their order, the central claim first.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

from .budget import BudgetExceeded, TimeExceeded, within_budget
from .claim_terms import CENTRAL_CLAIMS
from .derivation import Derivation, code_span, derive
from .divergences import Divergence, is_registered, registered
from .extended_claims import (
    antisymmetry_does_not_rescue_the_paper_form,
    fdpo_differs_from_dpo,
    forms_equal,
    likelihood_without_bradley_terry,
    paper_form_antisymmetric,
    pearson_under_the_literal_reading,
    statistic_differs_from_h,
    target_reachable,
)
from .paper_claims import (
    bradley_terry_reward_gaps,
    eq26_is_eq24_with_js,
    fdpo_is_dpo,
    fdpo_likelihood,
    iupo_is_ipo,
    js_derivative,
    logit_inverts_sigmoid,
    paper_minimiser_is_optimum,
    stationarity,
    theorem_3_1,
)
from .repair_claims import (
    no_spurious_theta_stationary_points,
    per_response_antisymmetric,
    per_response_minimiser_at_large_k,
    per_response_minimiser_is_optimum,
    per_response_minimiser_is_optimum_for_every_f,
)
from .verdicts import CLAIM_GROUPS, CLAIM_SECONDS, CLAIMS_SECONDS, ClaimResult, guarded

PerDivergence = Callable[[Derivation], "ClaimResult | None"]
PER_DIVERGENCE: tuple[PerDivergence, ...] = (
    per_response_minimiser_is_optimum,
    paper_minimiser_is_optimum,
    stationarity,
    theorem_3_1,
    fdpo_likelihood,
    fdpo_is_dpo,
    iupo_is_ipo,
    fdpo_differs_from_dpo,
    statistic_differs_from_h,
    forms_equal,
    per_response_antisymmetric,
    paper_form_antisymmetric,
    target_reachable,
)
"""The claims checked for each f, in the order the report lists each f's results."""
GENERAL: tuple[Callable[[], ClaimResult], ...] = (
    per_response_minimiser_is_optimum_for_every_f,
    no_spurious_theta_stationary_points,
    per_response_minimiser_at_large_k,
    pearson_under_the_literal_reading,
    antisymmetry_does_not_rescue_the_paper_form,
    logit_inverts_sigmoid,
    bradley_terry_reward_gaps,
    js_derivative,
    eq26_is_eq24_with_js,
    likelihood_without_bradley_terry,
)
"""The claims about no particular f, in the order the report lists them (before each f's)."""


def verify_divergence(divergence: Divergence) -> list[ClaimResult]:
    """Every per-divergence claim for one divergence (paper's claims, then extended checks).

    Each claim has :data:`~upo_theory.verdicts.CLAIM_SECONDS`, all of them
    :data:`~upo_theory.verdicts.CLAIMS_SECONDS`. For a user's f
    they run in a child process with a memory cap (:func:`upo_theory.budget.within_budget`).

    Parameters
    ----------
    divergence : Divergence
        The generator f (registered, or a user's).

    Returns
    -------
    list of ClaimResult
        One result per claim that applies to f, in report order.
    """
    if is_registered(divergence):
        return _ordered(_verify_divergence(divergence))
    return _ordered(within_budget(_verify_divergence, divergence, seconds=CLAIMS_SECONDS + 10,
                                  what=f"the claims for f {divergence.name!r}"))


def _verify_divergence(divergence: Divergence) -> list[ClaimResult]:
    """The per-divergence claims in :data:`PER_DIVERGENCE` order, within a shared deadline; a
    user's f has each claim in a process of its own (:func:`_apart`)."""
    d = derive(divergence)
    check = guarded if is_registered(divergence) else _apart
    deadline = _cpu_time() + CLAIMS_SECONDS  # CPU time, as every limit
    return [r for claim in PER_DIVERGENCE if (r := check(
        claim, d, seconds=min(CLAIM_SECONDS, deadline - _cpu_time()))) is not None]


def _apart(claim: Callable[..., ClaimResult | None], d: Derivation,
           seconds: float) -> ClaimResult | None:
    """:func:`~upo_theory.verdicts.guarded` in a child process of its own, killed a little past
    ``seconds``: a claim whose SymPy or mpmath work swallows the time limit's interrupt (a bare
    ``except:`` in a loop) is then UNDECIDED instead of using up the budget of every claim after
    it (the whole report for the f was refused)."""
    if seconds <= 0:
        return guarded(claim, d, seconds=seconds)
    try:
        return within_budget(functools.partial(guarded, claim, d, seconds=seconds),
                             seconds=seconds + 1, apart=True, what="this claim")
    except BudgetExceeded as error:
        why = (f"SymPy ran past {seconds:.3g} s" if isinstance(error, TimeExceeded)
               else str(error))
        return claim.about.result(  # type: ignore[attr-defined]
            d.divergence.label, "UNDECIDED", why, detail_latex=code_span(why))


def _cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the claims run apart)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def _ordered(results: list[ClaimResult]) -> list[ClaimResult]:
    """The groups in :data:`~upo_theory.verdicts.CLAIM_GROUPS` order (the central claim first
    in each); else as given."""
    groups = list(CLAIM_GROUPS)
    return sorted(results, key=lambda r: (groups.index(r.group), r.claim not in CENTRAL_CLAIMS))


def verify_all(alpha: float | str | None = None) -> list[ClaimResult]:
    """The whole verification report: the paper's claims, the repair, the extended checks.

    Parameters
    ----------
    alpha : float or str, optional
        The α of the registered α-divergence (its default otherwise).

    Returns
    -------
    list of ClaimResult
        One result per claim and divergence it is checked for (or one for a claim about no
        particular f).
    """
    return list(_verify_all(None if alpha is None else str(alpha)))


@functools.lru_cache(maxsize=8)
def _verify_all(alpha: str | None) -> tuple[ClaimResult, ...]:
    results = [r for claim in GENERAL
               if (r := guarded(claim, seconds=getattr(claim, "seconds", None))) is not None]
    per_divergence = [_verify_divergence(div) for div in registered(alpha)]
    order = {claim.about.name: i for i, claim in enumerate(PER_DIVERGENCE)}  # type: ignore[attr-defined]
    results += sorted((r for rs in per_divergence for r in rs), key=lambda r: order[r.claim])
    return tuple(_ordered(results))
