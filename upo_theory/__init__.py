"""upo_theory: the symbolic core of upo, the project's single source of truth.

SymPy derives, from a generator f alone, everything the paper's Theorem 3.1 and the loss family
need (:func:`derive`), compiles it into log-space kernels for NumPy and torch (:func:`kernel_for`),
defines the loss family once (:class:`LossSpec`, :func:`pair_statistic`, :func:`pair_loss`) and
checks the paper's claims, each within the scope the paper states, and extended checks beyond
the paper (:func:`verify_all`). A user's f is parsed and derived within a hard budget of time and
memory (:func:`get_divergence`). One tabular engine serves the claims' worked instances and the
simulator: the problem (:class:`Problem`), its exact optimum by the KKT conditions
(:func:`upo_optimum`), the loss on a pair table with its gradient (:class:`TableLoss`) and its
minimiser (:func:`minimise`).

This module is the core's public face, by topic; ``sim``, ``llm``, ``docs`` and ``bench`` import
only these names and those of the command line's face, :mod:`upo_theory.cli` (config fields,
parsers, the one error path), never another submodule (``tests/test_import_contract.py``
enforces it).

Divergences and their SymPy derivations (Section 2.2, Theorem 3.1)
    :func:`get_divergence` (a registered name or a user's f in :data:`U`), :func:`registered`,
    :data:`REGISTRY`, :class:`Divergence`, :func:`parse_generator`; :func:`derive` gives the
    :class:`Derivation` (f', f'', (f')⁻¹, f'(e^t) in the log-ratio :data:`T`, each
    :class:`Condition` of Theorem 3.1); :func:`kernel_for` its log-space kernel,
    :func:`generator_function` f itself and :func:`mixture_integrand` the integrand of D_f under
    a mixture.
The loss family (eqs. 4, 5, 10, 17, 23–24)
    :class:`LossSpec` and :func:`loss_spec` over :data:`LOSS_NAMES`, :data:`PSIS`,
    :data:`FORMS` (:data:`FIXED_DIVERGENCE`: the losses whose f is fixed); the pair statistic
    and the per-pair loss with their derivatives (:func:`pair_statistic`,
    :func:`pair_statistic_grads`, :func:`pair_loss`, :func:`pair_loss_grad`).
The tabular engine (eqs. 11–17, 24)
    the problem (:class:`Problem`, :func:`random_preference_table`, :func:`check_beta`,
    :func:`total_variation`); its optimum (:func:`upo_optimum`, :func:`solve_kkt`,
    :func:`admissible_kernel`, :class:`OptimumResult`); the loss on a pair table
    (:class:`PairTable`, :class:`TableLoss`, :func:`population_loss`,
    :func:`gradient_norm_at`); its minimiser (:func:`minimise`, :class:`Minimum`).
The claims
    :func:`verify_all` (the verification report), :func:`verify_divergence` (one f's claims),
    :class:`ClaimResult`, :data:`CLAIM_GROUPS`, :data:`CLAIM_STATUSES`, :data:`CENTRAL_CLAIMS`
    and the central claim's proof, :data:`CENTRAL_PROOF`.
A user's mistakes, and a user's JSON
    :class:`UserError`, raised for every mistake in what a user gave, and its kinds that
    callers catch: :class:`ExpressionError`, :class:`BudgetExceeded`,
    :class:`NotDifferentiableError`, :class:`LossSpecError`, :class:`ProblemError`,
    :class:`InadmissibleError`; :func:`parse_json`, JSON text read with bounds.
"""

# First: under python -m, Ctrl-C while the rest imports is one line (it installs itself)
from . import interrupts  # noqa: F401  # isort: skip

# Divergences and their SymPy derivations
from .admission import get_divergence
from .derivation import Condition, Derivation, T, derive
from .divergences import REGISTRY, Divergence, registered
from .expressions import U, parse_generator
from .generator import generator_function, mixture_integrand
from .kernels import kernel_for

# isort: split
# The loss family
from .losses import (
    FIXED_DIVERGENCE,
    FORMS,
    LOSS_NAMES,
    PSIS,
    LossSpec,
    loss_spec,
    pair_loss,
    pair_loss_grad,
    pair_statistic,
    pair_statistic_grads,
)

# isort: split
# The tabular engine
from .minimise import Minimum, minimise
from .optimum import OptimumResult, admissible_kernel, solve_kkt, upo_optimum
from .problem import Problem, check_beta, random_preference_table, total_variation
from .table_loss import PairTable, TableLoss, gradient_norm_at, population_loss

# isort: split
# The claims
from .claim_terms import CENTRAL_CLAIMS
from .claims import verify_all, verify_divergence
from .repair_claims import CENTRAL_PROOF
from .verdicts import CLAIM_GROUPS, CLAIM_STATUSES, ClaimResult

# isort: split
# A user's mistakes, and a user's JSON
from .budget import BudgetExceeded
from .errors import UserError
from .expressions import ExpressionError
from .json_text import parse_json
from .kernels import NotDifferentiableError
from .losses import LossSpecError
from .optimum import InadmissibleError
from .problem import ProblemError

__all__ = [
    "CENTRAL_CLAIMS",
    "CENTRAL_PROOF",
    "CLAIM_GROUPS",
    "CLAIM_STATUSES",
    "FIXED_DIVERGENCE",
    "FORMS",
    "LOSS_NAMES",
    "PSIS",
    "REGISTRY",
    "BudgetExceeded",
    "ClaimResult",
    "Condition",
    "Derivation",
    "Divergence",
    "ExpressionError",
    "InadmissibleError",
    "LossSpec",
    "LossSpecError",
    "Minimum",
    "NotDifferentiableError",
    "OptimumResult",
    "PairTable",
    "Problem",
    "ProblemError",
    "T",
    "TableLoss",
    "U",
    "UserError",
    "admissible_kernel",
    "check_beta",
    "derive",
    "generator_function",
    "get_divergence",
    "gradient_norm_at",
    "kernel_for",
    "loss_spec",
    "minimise",
    "mixture_integrand",
    "pair_loss",
    "pair_loss_grad",
    "pair_statistic",
    "pair_statistic_grads",
    "parse_generator",
    "parse_json",
    "population_loss",
    "random_preference_table",
    "registered",
    "solve_kkt",
    "total_variation",
    "upo_optimum",
    "verify_all",
    "verify_divergence",
]
