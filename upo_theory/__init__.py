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

This module is the core's public face: ``sim``, ``llm``, ``docs`` and ``bench`` import only the
names below, never a submodule (``tests/test_import_contract.py`` enforces it).
"""

from .admission import get_divergence
from .budget import BudgetExceeded
from .claims import (
    CENTRAL_CLAIMS,
    CENTRAL_PROOF,
    CLAIM_GROUPS,
    CLAIM_STATUSES,
    ClaimResult,
    verify_all,
    verify_divergence,
)
from .derivation import OPTIMUM_CONDITIONS, Check, Condition, Derivation, T, derive
from .divergences import REGISTRY, Divergence, is_registered, registered
from .errors import UserError
from .expressions import ExpressionError, U, parse_generator
from .generator import GeneratorFunction, generator_function, mixture_integrand
from .json_text import parse_json
from .kernels import LogSpaceKernel, NotDifferentiableError, kernel_for
from .losses import (
    FIXED_DIVERGENCE,
    FORMS,
    LOSS_NAMES,
    PSIS,
    LossSpec,
    LossSpecError,
    loss_spec,
    pair_loss,
    pair_loss_grad,
    pair_statistic,
    pair_statistic_grads,
)
from .minimise import BOUNDARY, MinimiseError, Minimum, minimise
from .optimum import (
    InadmissibleError,
    KKTResiduals,
    OptimumResult,
    admissible_kernel,
    kkt_residuals,
    solve_kkt,
    upo_optimum,
)
from .problem import (
    Problem,
    ProblemError,
    check_beta,
    check_psi,
    random_preference_table,
    total_variation,
)
from .table_loss import PairTable, TableLoss, gradient_norm_at, population_loss

__all__ = [
    "BOUNDARY",
    "CENTRAL_CLAIMS",
    "CENTRAL_PROOF",
    "CLAIM_GROUPS",
    "CLAIM_STATUSES",
    "FIXED_DIVERGENCE",
    "FORMS",
    "LOSS_NAMES",
    "OPTIMUM_CONDITIONS",
    "PSIS",
    "REGISTRY",
    "BudgetExceeded",
    "Check",
    "ClaimResult",
    "Condition",
    "Derivation",
    "Divergence",
    "ExpressionError",
    "GeneratorFunction",
    "InadmissibleError",
    "KKTResiduals",
    "LogSpaceKernel",
    "LossSpec",
    "LossSpecError",
    "MinimiseError",
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
    "check_psi",
    "derive",
    "generator_function",
    "get_divergence",
    "gradient_norm_at",
    "is_registered",
    "kernel_for",
    "kkt_residuals",
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
