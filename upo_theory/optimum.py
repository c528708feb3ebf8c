"""The exact UPO optimum by the KKT conditions (Theorem 3.1, eqs. 12–17), vectorised over contexts.

Stationarity of eq. (11) on the simplex: ``β f'(π*(y)/π_ref(y)) = Ψ̄(y) − λ + η(y)`` with
``η ≥ 0``, ``η π* = 0``. In log space, with ``y(λ) = (Ψ̄ − λ)/β``:

    log π*(y) = log π_ref(y) + log (f')⁻¹(y(λ))     if y(λ) > inf f'   (η = 0)
    π*(y)     = 0                                    if y(λ) ≤ inf f'   (η = β inf f' − Ψ̄ + λ ≥ 0)

``log (f')⁻¹`` is the kernel's (:meth:`upo_theory.kernels.LogSpaceKernel.log_inverse`), which is
−inf at or below inf f': where 0 ∈ dom f' (Pearson χ²) the inequality multipliers come out of the
same formula and π* can put exactly zero mass on actions. λ is the root of ``g(λ) = Σ π*(y) − 1``,
decreasing in λ, bracketed by ``u ≡ 1`` at either end of Ψ̄ (g ≥ 0 at ``min Ψ̄ − β f'(1)``,
g ≤ 0 at ``max Ψ̄ − β f'(1)``); the lower end is raised to where the top action alone has mass 1,
``max Ψ̄ − β f'(1/π_ref(top))``, which lies above the pole ``max Ψ̄ − β sup f'`` where sup f' is
finite. The root-finder is Newton on ``log Σ π*`` safeguarded by bisection, in the variable
``log(λ − λ_pole)`` where sup f' is finite (see :class:`_Chart`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from .admission import get_divergence
from .derivation import OPTIMUM_CONDITIONS, derive
from .divergences import Divergence
from .errors import UserError
from .kernels import LogSpaceKernel, kernel_for
from .problem import Problem, check_beta

_EPS = float(np.finfo(np.float64).eps)
_CHUNK = 1 << 15
_MASS_TOL = 1e-8
"""Largest |log Σ π*| at the final λ for a converged solve (π* is then renormalised exactly)."""


class InadmissibleError(UserError):
    """A generator f for which the KKT solve is not defined (e.g. total variation)."""


@dataclass(frozen=True)
class KKTResiduals:
    r"""Per-context residuals of the KKT conditions, each of shape (C,).

    stationarity: spread (max − min) of :math:`f'(\pi^*/\pi_{\mathrm{ref}}) - \bar\Psi/\beta`
    over the support of π*.
    normalisation: :math:`\lvert \sum_y \pi^*(y) - 1 \rvert`.
    dual: largest violation of :math:`\eta \ge 0` off the support,
    :math:`\max\big(0, (\bar\Psi - \lambda)/\beta - \inf f'\big)`.
    """

    stationarity: np.ndarray
    normalisation: np.ndarray
    dual: np.ndarray

    def worst(self) -> float:
        return float(max(self.stationarity.max(), self.normalisation.max(), self.dual.max()))


@dataclass(frozen=True)
class OptimumResult:
    """The solution of the KKT conditions, like SciPy's ``OptimizeResult``.

    policy, log_policy: (C, K); lam: (C,) the multipliers λ; converged: whether the root-finder
    met its tolerance in every context; iterations: root-finder iterations; message: why it
    stopped. ``residuals``
    (:class:`KKTResiduals`) re-checks the KKT conditions on the returned policy, on first access.

    Parameters
    ----------
    policy, log_policy : numpy.ndarray, shape (C, K)
        π* and log π*.
    lam : numpy.ndarray, shape (C,)
        The multipliers λ of Σ_y π(y) = 1.
    converged : bool
        Whether the root-finder met its tolerance in every context.
    iterations : int
        The root-finder's iterations.
    divergence : Divergence
        The f it was solved for.
    psibar : numpy.ndarray, shape (C, K)
        Ψ̄(y) = E_{y'~μ} Ψ(p*(y ≻ y')) (eq. 11).
    log_pi_ref : numpy.ndarray, shape (C, K)
        log π_ref.
    beta : float
        The regularisation β.
    message : str, optional
        Why the root-finder stopped.
    psi : str, optional
        The name of Ψ, where known.
    """

    policy: np.ndarray
    log_policy: np.ndarray
    lam: np.ndarray
    converged: bool
    iterations: int
    divergence: Divergence
    psibar: np.ndarray = field(repr=False)
    log_pi_ref: np.ndarray = field(repr=False)
    beta: float
    message: str = ""
    psi: str | None = None

    @property
    def zero_mass(self) -> np.ndarray:
        """Boolean (C, K): the actions on which π* puts exactly zero mass."""
        return self.policy == 0

    @functools.cached_property
    def residuals(self) -> KKTResiduals:
        return _kkt_residuals(kernel_for(self.divergence), self.log_policy, self.log_pi_ref,
                             self.psibar, self.beta, self.lam)


def admissible_kernel(divergence: Divergence) -> LogSpaceKernel:
    """The kernel of f, after checking f(1) = 0, convexity and f' strictly increasing.

    0 ∈ dom f' is allowed (the η terms handle it); total variation and non-convex f are not.

    Parameters
    ----------
    divergence : Divergence
        The generator f.

    Returns
    -------
    LogSpaceKernel
        The kernel k(t) = f'(e^t) and its inverse, as the solvers use them.
    """
    failed = derive(divergence).failure(OPTIMUM_CONDITIONS)
    if failed is not None:
        verdict = "could not be decided" if failed.method == "undecided" else "fails"
        raise InadmissibleError(
            f"f={divergence.label}: {failed.name} {verdict} ({failed.detail}); the UPO optimum "
            "needs a convex, differentiable f with f(1) = 0 and f' strictly increasing"
        )
    return kernel_for(divergence)


def solve_kkt(
    psibar: np.ndarray, log_pi_ref: np.ndarray, beta: float, divergence: Divergence,
    tol: float = 1e-14, max_iter: int = 100,
) -> OptimumResult:
    """π* = π_ref (f')⁻¹((Ψ̄ − λ)/β) with λ normalising, for (C, K) arrays ``psibar``, log π_ref.

    Parameters
    ----------
    psibar : (C, K) or (K,) Ψ̄(y|x) = E_{y'~μ} Ψ(p*(y ≻ y'|x)) (eq. 11).
    log_pi_ref : same shape, log π_ref (finite).
    beta : β > 0.
    divergence : the generator f (see :func:`admissible_kernel` for what is allowed).
    tol : stop when |log Σ π*| ≤ tol or the bracket on λ is below float resolution.

    Returns
    -------
    OptimumResult
    """
    check_beta(beta)
    kernel = admissible_kernel(divergence)
    psibar = np.atleast_2d(np.asarray(psibar, dtype=np.float64))
    log_ref = np.atleast_2d(np.asarray(log_pi_ref, dtype=np.float64))
    f1_at_one = float(kernel(np.zeros(1))[0])
    top, bottom = psibar.max(axis=1), psibar.min(axis=1)
    chart = _Chart(top - beta * kernel.sup if np.isfinite(kernel.sup) else None)
    # every u ≥ 1 at the first, the top action alone has mass 1 at the second: Σ π* ≥ 1 at both
    alone = top - beta * kernel(-log_ref[np.arange(len(top)), psibar.argmax(axis=1)])
    lo = chart.x(np.maximum(bottom - beta * f1_at_one, alone))
    hi = chart.x(top - beta * f1_at_one)  # every u ≤ 1 here: Σ π* ≤ 1
    x = chart.midpoint(lo, hi)
    done = hi <= lo
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        lam = chart.lam(x)
        t, log_mass, dlog_mass = _log_mass(kernel, psibar, log_ref, beta, lam)
        low_side = log_mass > 0  # Σ π* > 1: the root lies above λ
        lo, hi = np.where(low_side, x, lo), np.where(low_side, hi, x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = x - log_mass / (dlog_mass * chart.dlam_dx(x))
            resolution = 4 * _EPS * (np.abs(lam) + beta)
            done |= ((np.abs(log_mass) <= tol) | (np.abs(chart.lam(newton) - lam) <= resolution)
                     | (chart.lam(hi) - chart.lam(lo) <= resolution))
        if done.all():
            break
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        x = np.where(done, x, np.where(inside, newton, chart.midpoint(lo, hi)))
    t = t - log_mass[:, None]  # the last rounding of λ, divided out
    worst = float(np.max(np.abs(log_mass)))
    converged = bool(done.all() and worst <= _MASS_TOL)
    if converged:
        message = f"converged: |log sum pi*| = {worst:.1e} before the final normalisation"
    elif not done.all():
        message = f"not converged in {max_iter} iterations (|log sum pi*| = {worst:.1e})"
    else:
        message = (f"lambda is resolved to float64 precision but sum pi* is off by {worst:.1e}: "
                   "(f')^-1 is too steep there (an action near the pole of (f')^-1 at sup f'); "
                   "pi* was renormalised, see residuals")
    return OptimumResult(np.exp(log_ref + t), log_ref + t, lam, converged, iterations, divergence,
                         psibar, log_ref, beta, message)


def upo_optimum(
    problem: Problem, f: str | Divergence = "js", psi: str = "identity", alpha: float | None = None,
) -> OptimumResult:
    """The UPO optimum of ``problem`` for generator f and Ψ ∈ {identity, logit} (Theorem 3.1).

    Parameters
    ----------
    problem : Problem
        π_ref, μ, p* and β, for C contexts and K actions.
    f : str or Divergence
        The generator (a name, an expression in ``u`` or a :class:`Divergence`).
    psi : str
        ``"identity"`` (IPO, IUPO: eq. 22) or ``"logit"``.
    alpha : float, optional
        The α of the α-divergence.

    Returns
    -------
    OptimumResult
        π* of shape (C, K), the multipliers λ, whether the solve converged, and the KKT
        residuals on the returned policy.

    Raises
    ------
    InadmissibleError
        An f for which the KKT solve is not defined (total variation).
    """
    divergence = get_divergence(f, alpha)
    result = solve_kkt(problem.psibar(psi), np.log(problem.pi_ref), problem.beta, divergence)
    return dataclasses.replace(result, psi=psi)


def _kkt_residuals(
    kernel: LogSpaceKernel, log_policy: np.ndarray, log_ref: np.ndarray, psibar: np.ndarray,
    beta: float, lam: np.ndarray,
) -> KKTResiduals:
    """The residuals of :class:`KKTResiduals` for a candidate (log π, λ), arrays (C, K), (C,)."""
    support = np.isfinite(log_policy)
    t = np.where(support, log_policy - log_ref, 0.0)
    gap = np.where(support, kernel(t) - psibar / beta, np.nan)
    spread = np.nanmax(gap, axis=1) - np.nanmin(gap, axis=1)
    target = (psibar - lam[:, None]) / beta
    dual = np.where(support, 0.0, np.maximum(0.0, target - kernel.inf)).max(axis=1)
    normalisation = np.abs(np.exp(log_policy).sum(axis=1) - 1)
    return KKTResiduals(spread, normalisation, dual)


@dataclass(frozen=True)
class _Chart:
    """The root-finder's variable x: λ itself, or log(λ − λ_pole) where sup f' is finite.

    At λ_pole = max Ψ̄ − β sup f' the top action's ratio (f')⁻¹ diverges like a power of
    (λ − λ_pole), so log Σ π* is nearly linear in x = log(λ − λ_pole) there (Newton's best case)
    and bisection in x is geometric, reaching the pole in few steps.
    """

    pole: np.ndarray | None

    def x(self, lam: np.ndarray) -> np.ndarray:
        if self.pole is None:
            return lam
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(lam - self.pole, 0.0))

    def lam(self, x: np.ndarray) -> np.ndarray:
        return x if self.pole is None else self.pole + np.exp(x)

    def dlam_dx(self, x: np.ndarray) -> np.ndarray:
        return np.ones_like(x) if self.pole is None else np.exp(x)

    def midpoint(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Bisection in x (−inf, the pole itself, is replaced by a point e^-40 of the way there)."""
        return 0.5 * (np.maximum(lo, hi - 40.0) + hi)


def _blocks(contexts: int, actions: int) -> list[tuple[slice, slice]]:
    """(rows, columns) blocks of at most ~:data:`_CHUNK` entries: each pass stays in cache."""
    if actions >= _CHUNK:
        return [(slice(r, r + 1), slice(c, c + _CHUNK))
                for r in range(contexts) for c in range(0, actions, _CHUNK)]
    rows = max(1, _CHUNK // actions)
    return [(slice(r, r + rows), slice(None)) for r in range(0, contexts, rows)]


def _log_mass(
    kernel: LogSpaceKernel, psibar: np.ndarray, log_ref: np.ndarray, beta: float, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t = log (f')⁻¹((Ψ̄ − λ)/β), log Σ π*(λ) and d/dλ log Σ π* = −Σ π* / (β k'(t)) / Σ π*.

    Evaluated block by block (:func:`_blocks`); the sums are accumulated as
    ``e^top · (mass, Σ π*/k')`` per context, rescaled whenever a block raises ``top``.
    """
    t = np.empty_like(psibar)
    contexts = psibar.shape[0]
    top = np.full(contexts, -np.inf)
    mass, flux = np.zeros(contexts), np.zeros(contexts)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for rows, cols in _blocks(*psibar.shape):
            t_block = kernel.log_inverse((psibar[rows, cols] - lam[rows, None]) / beta)
            t[rows, cols] = t_block
            log_terms = log_ref[rows, cols] + t_block
            block_top = log_terms.max(axis=1)
            new_top = np.maximum(top[rows], block_top)
            anchor = np.where(np.isfinite(new_top), new_top, 0.0)
            terms = np.exp(log_terms - anchor[:, None])
            if np.isfinite(kernel.inf):  # π* = 0 is allowed: keep k' away from t = −inf
                t_block = np.where(terms > 0, t_block, 0.0)
            old = np.exp(np.where(np.isfinite(top[rows]), top[rows] - anchor, -np.inf))
            mass[rows] = mass[rows] * old + terms.sum(axis=1)
            flux[rows] = flux[rows] * old + (terms / kernel.slope(t_block)).sum(axis=1)
            top[rows] = new_top
        log_mass = np.log(mass) + np.where(np.isfinite(top), top, 0.0)
        return t, log_mass, -flux / (beta * mass)
