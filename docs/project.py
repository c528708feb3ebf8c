"""Every name the documentation takes from the project's code, in one place.

The generated pages read the code's own objects: ``upo_theory``'s public names (its ``__all__``)
and its command line's (``upo_theory.cli``), the simulator's public modules and ``llm``'s. When a
module of ``sim`` or ``llm`` moves, this is the one file of ``docs/`` to change. The gallery
scripts (``docs/gallery/``) are examples of the public API and import it themselves.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from upo_theory import (
    CENTRAL_CLAIMS,
    CLAIM_GROUPS,
    CLAIM_STATUSES,
    FORMS,
    PSIS,
    Derivation,
    Divergence,
    T,
    UserError,
    derive,
    get_divergence,
    registered,
    verify_all,
)
from upo_theory.cli import check_writable, config_parser, parse_config, run_cli

__all__ = [
    "API_PACKAGES", "CENTRAL_CLAIMS", "CLAIM_GROUPS", "CLAIM_STATUSES", "CLI_MODULES", "FORMS",
    "OPTIONAL_IMPORTS", "PSIS", "Derivation", "Divergence", "T", "UserError", "check_writable",
    "config_parser", "derive", "get_divergence", "module", "parse_config", "registered",
    "run_cli", "verify_all",
]

CLI_MODULES: tuple[str, ...] = (
    "upo_theory.__main__", "sim.bandit", "llm.train", "llm.launch", "llm.plot", "llm.experiment",
    "llm.task", "llm.results", "docs.__main__", "docs.screenshot",
)
"""The entry points ``python -m NAME`` whose ``build_parser()`` the CLI reference prints."""

API_PACKAGES: tuple[str, ...] = ("upo_theory", "sim", "llm")
"""The packages whose modules (subpackages' included) the API reference documents (autodoc)."""
OPTIONAL_IMPORTS: tuple[str, ...] = ("trl",)
"""Packages outside the docs extra that a documented module imports (``llm.trl``): mocked
when absent, so that module's page is in every build."""

DATA_MODULE = "llm.data.pairs"
"""Where the converters of the data formats live (``from_hh``, ``from_shp``, ``from_trl``)."""
METRICS_MODULE = "llm.engine.metrics"
"""The module whose docstring defines the metric names."""
RESULTS_MODULE = "llm.results"
"""The module that writes the experiment's report from its CSV files (``write_report``)."""
SIM_MODULES = {"compare": "sim.compare", "config": "sim.config", "optimum": "upo_theory",
               "problems": "sim.problems"}
"""The modules the simulator page measures with (the KKT optimum is the core's)."""


def module(name: str) -> ModuleType:
    """Import the module ``name`` of ``sim`` or ``llm`` (by its key above, or its full name)."""
    return importlib.import_module(SIM_MODULES.get(name, name))
