"""The registry of f-divergences, each given only by its generator f(u).

``D_f(π, π_ref) = E_{π_ref}[f(π/π_ref)]`` (paper, Section 2.2). Everything else about a divergence
(f', f'', (f')⁻¹, its admissibility for Theorem 3.1, its numeric kernels) is derived from ``f``
by :mod:`upo_theory.derivation`; adding a divergence is one entry in :data:`REGISTRY`.

A leaf of the core (it imports only :mod:`~upo_theory.expressions`): a user's own generator is
admitted a layer above everything it needs, by :func:`upo_theory.admission.get_divergence`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from .expressions import ExpressionError, U

DEFAULT_ALPHA = sp.Rational(1, 2)
MAX_ALPHA_DENOMINATOR = 1000


@dataclass(frozen=True)
class Divergence:
    """A generator ``f`` of an f-divergence, with the parameter values it was built with.

    Parameters
    ----------
    name : str
        The registry name, or the expression a user gave.
    title : str
        The name for readers (``"reverse KL"``).
    f : sympy.Expr
        The generator f(u), with f(1) = 0.
    params : dict of str to sympy.Rational, optional
        The parameter values it was built with (α of the α-divergence).
    """

    name: str
    title: str
    f: sp.Expr
    params: dict[str, sp.Rational] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """Name with parameters, e.g. ``alpha(alpha=1/3)``."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({inner})"


@dataclass(frozen=True)
class _Entry:
    title: str
    generator: Callable[[sp.Expr], sp.Expr]
    uses_alpha: bool = False
    aliases: tuple[str, ...] = ()


REGISTRY: dict[str, _Entry] = {
    "rkl": _Entry("reverse KL", lambda a: U * sp.log(U), aliases=("reverse_kl", "kl")),
    "fkl": _Entry("forward KL", lambda a: -sp.log(U), aliases=("forward_kl",)),
    "js": _Entry(
        "Jensen–Shannon (paper's scale)",
        lambda a: U * sp.log(U) - (U + 1) * sp.log((U + 1) / 2),
        aliases=("jensen_shannon",),
    ),
    "alpha": _Entry(
        "α-divergence",
        lambda a: (U ** (1 - a) - (1 - a) * U - a) / (a * (a - 1)),
        uses_alpha=True,
    ),
    "hellinger": _Entry("squared Hellinger", lambda a: (sp.sqrt(U) - 1) ** 2),
    "neyman": _Entry("Neyman χ²", lambda a: (1 - U) ** 2 / U, aliases=("neyman_chi2",)),
    "pearson": _Entry("Pearson χ²", lambda a: (U - 1) ** 2, aliases=("pearson_chi2", "chi2")),
    "tv": _Entry("total variation", lambda a: sp.Abs(U - 1) / 2, aliases=("total_variation",)),
}
"""The registered divergences by name: each a title and its generator f (of α where it takes
one); :func:`registered` gives them as :class:`Divergence` objects."""
_ALIASES = {alias: name for name, e in REGISTRY.items() for alias in (name, *e.aliases)}


def as_alpha(alpha: float | str | sp.Expr | None) -> sp.Rational:
    """Validate α ∈ (0, 1) and return it as an exact rational.

    The text is read as a decimal or a fraction (``0.3``, ``1/3``, ``1e-2``) by
    :class:`fractions.Fraction`, never evaluated: ``--alpha`` comes from the command line. A
    decimal that rounds a fraction with denominator at most :data:`MAX_ALPHA_DENOMINATOR` is that
    fraction (``1/3`` as the float ``0.3333333333333333``); other denominators above it are
    refused, since SymPy's work on ``u**(-alpha)`` grows with them (minutes for 1/3 as 3333…/10¹⁶).
    """
    if alpha is None:
        return DEFAULT_ALPHA
    try:
        exact = Fraction(str(alpha).strip())
    except (TypeError, ValueError, ZeroDivisionError):
        raise ExpressionError(f"alpha={alpha!r} is not a number; give 0 < alpha < 1") from None
    simple = exact.limit_denominator(MAX_ALPHA_DENOMINATOR)
    if abs(simple - exact) > 1e-12 * abs(exact):
        raise ExpressionError(
            f"alpha={alpha} needs a denominator above {MAX_ALPHA_DENOMINATOR}; "
            "give a simpler value such as 1/3 or 0.125"
        )
    value = sp.Rational(simple.numerator, simple.denominator)
    if not 0 < value < 1:
        raise ExpressionError(f"alpha={alpha} is outside (0, 1); give 0 < alpha < 1")
    return value


def from_registry(name: str, alpha: float | str | None = None) -> Divergence | None:
    """The registered divergence called ``name`` (or an alias of it), or None if there is none."""
    key = name.strip().lower().replace("-", "_")
    if key not in _ALIASES:
        return None
    name = _ALIASES[key]
    entry = REGISTRY[name]
    a = as_alpha(alpha) if entry.uses_alpha else None
    params = {"alpha": a} if entry.uses_alpha else {}
    return Divergence(name, entry.title, entry.generator(a), params)


def is_registered(divergence: Divergence) -> bool:
    """Whether ``divergence`` is a registry entry (not a user's expression)."""
    return divergence.name in REGISTRY and divergence.title == REGISTRY[divergence.name].title


def registered(alpha: float | str | None = None) -> list[Divergence]:
    """Every registered divergence, in registry order.

    Parameters
    ----------
    alpha : float or str, optional
        The α of the α-divergence (its default otherwise).

    Returns
    -------
    list of Divergence
    """
    return [from_registry(name, alpha) for name in REGISTRY]

