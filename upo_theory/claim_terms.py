"""What the claims are stated in: the symbols of a pair, the pair statistics, the worked
instances, and the central claim's two forms.

The statistics are written once, for every catalogue module: the paper's (eq. 23), the
per-response one of the KKT conditions (eq. 17), IPO's h (eq. 9), and f-DPO's and DPO's losses
(eqs. 5, 4) built on them. The worked instances are exact problems in rationals
(:class:`~upo_theory.exact_problem.ExactProblem`), on which the engine's KKT solve and minimiser
give the numbers a verdict reports.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import numpy as np
import sympy as sp

from .derivation import Derivation
from .exact_problem import ExactProblem, exact_bradley_terry
from .expressions import U
from .losses import LossSpec
from .minimise import minimise
from .optimum import OptimumResult, upo_optimum
from .table_loss import gradient_norm_at, population_loss
from .verdicts import Claim, ClaimResult, Point, decide

CENTRAL_PER_RESPONSE = "eq. 24 minimiser is the eq. 22 optimum, per-response statistic"
CENTRAL_PAPER = "eq. 24 minimiser is the eq. 22 optimum, paper statistic (eq. 23)"
CENTRAL_CLAIMS: tuple[str, ...] = (CENTRAL_PER_RESPONSE, CENTRAL_PAPER)
"""The central claim (Algorithm 1 solves eq. 22), once per form of the statistic: the repair's
(eq. 17, group "repair") and the paper's (eq. 23, group "paper")."""

PI_W, PI_L, PIREF_W, PIREF_L = sp.symbols("pi_w pi_l piref_w piref_l", positive=True)
BETA, Z = sp.symbols("beta z", positive=True)
X, S = sp.symbols("x s", real=True)
PI = sp.Symbol("pi", positive=True)
PI_REF = sp.Symbol("pi_ref", positive=True)
_R = sp.Rational

EXAMPLE = ExactProblem(
    pi_ref=(_R(1, 6), _R(1, 3), _R(1, 2)),
    mu=(_R(1, 3),) * 3,
    prefs=((_R(1, 2), _R(2, 5), _R(1, 5)), (_R(3, 5), _R(1, 2), _R(3, 10)),
           (_R(4, 5), _R(7, 10), _R(1, 2))),
    beta=_R(1, 2),
)
"""The central claim's worked instance: 3 actions, rational p*, μ uniform, β = 1/2, Ψ = id."""
BT_EXAMPLE = exact_bradley_terry((_R(0), _R(1, 2), _R(2)), EXAMPLE.pi_ref, _R(1, 2))
"""Proposition 3.2's worked instance: Bradley–Terry with rewards (0, 1/2, 2), Ψ = logit."""
CYCLIC_EXAMPLE = ExactProblem(
    EXAMPLE.pi_ref, (_R(1, 3),) * 3,
    ((_R(1, 2), _R(4, 5), _R(1, 5)), (_R(1, 5), _R(1, 2), _R(4, 5)),
     (_R(4, 5), _R(1, 5), _R(1, 2))),
    _R(1, 2), "logit")
"""Rock–paper–scissors preferences: no reward r gives them by Bradley–Terry."""


def sigmoid(x: sp.Expr) -> sp.Expr:
    """σ(x) = 1/(1 + e^−x), the likelihood of a pair in eqs. (4), (5) and Proposition 3.2."""
    return 1 / (1 + sp.exp(-x))


def central_claim(name: str, scope: str, scope_latex: str) -> Claim:
    """The central claim for one form: the paper's (eq. 23, group "paper") or the repair's
    (eq. 17 in eq. 24, group "repair": the project's, not the paper's), with its scope as the
    terminal prints it and in LaTeX."""
    if name == CENTRAL_PER_RESPONSE:
        return Claim(name, "eqs. (17), (22), (24); the project's repair of Algorithm 1",
                     "the policy that minimises the IUPO loss (eq. 24) with the per-response "
                     "statistic f'(pi(y_w)/piref(y_w)) - f'(pi(y_l)/piref(y_l)) (eq. 17) in "
                     "place of eq. 23 is the IUPO optimum pi* of eq. 22", "repair", scope,
                     "the policy that minimises the IUPO loss (eq. 24) with the per-response "
                     f"statistic ${statistic_latex(per_response_statistic)}$ (eq. 17) in place "
                     r"of eq. 23 is the IUPO optimum $\pi^*$ of eq. 22", scope_latex,
                     name_latex=name)
    return Claim(name, "eqs. (22), (23), (24), (26), Algorithm 1",
                 "the policy that minimises the IUPO loss (eq. 24) with the statistic "
                 "f'(pi(y_w)/pi(y_l)) - f'(piref_w/piref_l) (eq. 23) is the IUPO optimum pi* of "
                 "eq. 22", "paper", scope,
                 "the policy that minimises the IUPO loss (eq. 24) with the statistic "
                 f"${statistic_latex(paper_statistic)}$ (eq. 23) is the IUPO optimum "
                 r"$\pi^*$ of eq. 22", scope_latex, name_latex=name)


_PAIR_LATEX = {PI_W: r"\pi(y_w)", PI_L: r"\pi(y_l)", PIREF_W: r"\pi_{\mathrm{ref}}(y_w)",
              PIREF_L: r"\pi_{\mathrm{ref}}(y_l)"}
"""How a pair's symbols are typeset: as the paper writes them."""


def generic_f1(arg: sp.Expr) -> sp.Expr:
    """f'(``arg``) for an undefined f': a statement about every f, written in LaTeX by
    :func:`pair_latex`."""
    return sp.Function("f'")(arg)


def pair_latex(expr: sp.Expr) -> str:
    """SymPy's LaTeX of ``expr`` with a pair's symbols as the paper writes them and the
    undefined f' (:func:`generic_f1`) as f'."""
    names = {**_PAIR_LATEX, PI_REF: r"\pi_{\mathrm{ref}}"}
    return sp.latex(expr, symbol_names=names).replace(r"\operatorname{f'}", "f'")


def statistic_latex(statistic: Callable[..., sp.Expr]) -> str:
    """The LaTeX of a pair statistic for a generic f (SymPy's ``latex`` of the very function
    the claims check, applied to an undefined f')."""
    generic = types.SimpleNamespace(f1=generic_f1(U))
    terms = sp.Add.make_args(statistic(generic))
    plus = [t for t in terms if not t.could_extract_minus_sign()]
    minus = [-t for t in terms if t.could_extract_minus_sign()]
    return " + ".join(map(pair_latex, plus)) + "".join(f" - {pair_latex(t)}" for t in minus)


LOG_POINTS = [
    {PI_W: _R(1, 2), PI_L: _R(1, 4), PIREF_W: _R(1, 4), PIREF_L: _R(1, 4)},
    {PI_W: _R(1, 3), PI_L: _R(1, 9), PIREF_W: _R(1, 5), PIREF_L: _R(1, 2)},
]


def paper_statistic(d: Derivation, w: sp.Expr = PI_W, l: sp.Expr = PI_L, rw: sp.Expr = PIREF_W,
                    rl: sp.Expr = PIREF_L) -> sp.Expr:
    """eq. (23): f'(π(y_w)/π(y_l)) − f'(π_ref(y_w)/π_ref(y_l))."""
    return d.f1.subs(U, w / l) - d.f1.subs(U, rw / rl)


def per_response_statistic(d: Derivation, w: sp.Expr = PI_W, l: sp.Expr = PI_L,
                           rw: sp.Expr = PIREF_W, rl: sp.Expr = PIREF_L) -> sp.Expr:
    """The KKT form (eq. 17): f'(π(y_w)/π_ref(y_w)) − f'(π(y_l)/π_ref(y_l))."""
    return d.f1.subs(U, w / rw) - d.f1.subs(U, l / rl)


H = sp.log(PI_W / PI_L) - sp.log(PIREF_W / PIREF_L)
"""IPO's h (eq. 9)."""


def fdpo_and_dpo(d: Derivation) -> tuple[sp.Expr, sp.Expr, list[Point]]:
    """f-DPO's loss (eq. 5), DPO's (eq. 4) and the points (β = 1/10) they are compared at."""
    fdpo = -sp.log(sigmoid(BETA * per_response_statistic(d)))
    dpo = -sp.log(sigmoid(BETA * H))
    return fdpo, dpo, [{**p, BETA: _R(1, 10)} for p in LOG_POINTS]


def worked_optimum(d: Derivation, example: ExactProblem) -> OptimumResult:
    """π* of Theorem 3.1 on a worked instance, by the engine's KKT solve."""
    return upo_optimum(example.problem, d.divergence, example.psi)


def central_instance(d: Derivation, spec: LossSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """(π*, the loss's minimiser, ‖∂L/∂θ‖ at π*) on :data:`EXAMPLE`, policies of shape (K,);
    L is eq. 24's expectation over the population of pairs."""
    pi = worked_optimum(d, EXAMPLE).policy
    loss = population_loss(spec, EXAMPLE.problem)
    found = minimise(loss, gtol=1e-13).policy
    return pi[0], found[0], gradient_norm_at(loss, pi)


def show(policy: np.ndarray) -> str:
    """A policy as a verdict reports it, to ten decimals."""
    return ", ".join(f"{p:.10f}" for p in policy)


def antisymmetry(d: Derivation, statistic: Callable[..., sp.Expr], claim: Claim,
                 proof: str, proof_latex: str) -> ClaimResult:
    """Whether swapping y_w and y_l flips the sign of ``statistic``."""
    swapped = statistic(d, PI_L, PI_W, PIREF_L, PIREF_W)
    return decide(claim, d.divergence.label, swapped, -statistic(d), LOG_POINTS, proof,
                  proof_latex)
