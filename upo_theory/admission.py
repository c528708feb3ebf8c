"""What a user gave for f, turned into a :class:`~upo_theory.Divergence`: a registered name, or
a generator of their own, admitted only within a hard budget of time and memory.

A layer above everything that admitting a user's f builds (the derivation, its printing, the
generator function and the kernels), so that :mod:`~upo_theory.divergences` stays a leaf.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .budget import within_budget
from .derivation import Derivation, derive, settle
from .derivation_report import derivation_dict
from .divergences import Divergence, as_alpha, from_registry
from .expressions import ExpressionError, parse_generator
from .generator import generator_function
from .kernels import kernel_for


def get_divergence(spec: str | Divergence, alpha: float | str | None = None) -> Divergence:
    """A registered divergence by name (or alias), or a user's generator expression in ``u``.

    The one way every layer turns what a user gave into a :class:`Divergence`: a
    :class:`Divergence` passed in is returned as it is (``alpha`` must then be None).

    Parameters
    ----------
    spec : str or Divergence
        A registered name or alias (``"js"``, ``"reverse_kl"``), or an expression in ``u``.
    alpha : float or str, optional
        The α of the α-divergence, or of a user's f written in ``alpha``.

    Returns
    -------
    Divergence

    Raises
    ------
    ExpressionError
        An unknown name, an expression that does not parse, or an ``alpha`` given to an f
        without one; the message names the value.

    Examples
    --------
    >>> get_divergence("js").f
    u*log(u) - (u + 1)*log(u/2 + 1/2)
    >>> get_divergence("u*log(u) - log(u)").name
    'u*log(u) - log(u)'
    """
    if isinstance(spec, Divergence):
        if alpha is not None:
            raise ExpressionError(f"alpha={alpha} given with the resolved divergence {spec.label}")
        return spec
    if not isinstance(spec, str):
        raise ExpressionError(f"f={spec!r} is neither a name nor an expression in u")
    registered = from_registry(spec, alpha)
    if alpha is not None and "alpha" not in (registered.params if registered else spec):
        raise ExpressionError(f"alpha={alpha} is given, but f {spec.strip()!r} has no alpha (it "
                              "is for the alpha-divergence, or an f of your own written in "
                              "alpha); drop --alpha")
    if registered is not None:
        return registered
    a = as_alpha(alpha) if alpha is not None else None
    return _user_divergence(spec.strip(), a)


@functools.lru_cache(maxsize=256)
def _user_divergence(text: str, alpha: sp.Rational | None) -> Divergence:
    """A user's generator, parsed and derived within a hard budget of time and memory.

    Parsing, the derivation, the kernels and the printing of a user's f run in a child process
    (:func:`upo_theory.budget.within_budget`); an f that needs more than its budget is refused
    with one line. The derivation comes back and is reused here, never derived twice.
    """
    derivation = within_budget(_admit, text, alpha, what=f"f {text!r}")
    settle(derivation)
    return derivation.divergence


def _admit(text: str, alpha: sp.Rational | None) -> Derivation:
    """Parse and derive ``text`` and build everything later work will build from it (runs in the
    budgeted child)."""
    f = parse_generator(text, alpha=alpha)
    params = {"alpha": alpha} if alpha is not None and "alpha" in text else {}
    divergence = Divergence(text, "user-defined f", f, params)
    derivation = derive(divergence)
    derivation_dict(derivation)  # every derived object printed as text and LaTeX
    generator_function(divergence)
    if derivation.differentiable:
        kernel = kernel_for(divergence)
        kernel.bounds(np.float64), kernel.bounds(np.float32)
    return derivation
