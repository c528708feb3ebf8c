"""upo_theory: the symbolic core of upo, the project's single source of truth.

SymPy derives, from a generator f alone, everything the paper's Theorem 3.1 and the loss family
need (:mod:`.derivation`), compiles it into log-space kernels for NumPy and torch
(:mod:`.kernels`), defines the loss family once (:mod:`.losses`) and proves or refutes the
paper's claims (:mod:`.claims`).
"""

from .derivation import Check, Derivation, derive
from .divergences import REGISTRY, Divergence, get_divergence, registered
from .expressions import ExpressionError, parse_generator
from .kernels import LogSpaceKernel, NotDifferentiableError, kernel_for
from .losses import (
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

__all__ = [
    "FORMS",
    "LOSS_NAMES",
    "PSIS",
    "REGISTRY",
    "Check",
    "Derivation",
    "Divergence",
    "ExpressionError",
    "LogSpaceKernel",
    "LossSpec",
    "LossSpecError",
    "NotDifferentiableError",
    "derive",
    "get_divergence",
    "kernel_for",
    "loss_spec",
    "pair_loss",
    "pair_loss_grad",
    "pair_statistic",
    "pair_statistic_grads",
    "parse_generator",
    "registered",
]
