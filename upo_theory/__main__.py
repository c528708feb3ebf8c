"""``python -m upo_theory``: the verification report, or one divergence's derivation.

Examples
--------
``python -m upo_theory``                      the central claim, the paper's claims (each in its
                                              scope), the project's repair, the extended checks
``python -m upo_theory --f js --json``        JS's derived objects and checks as JSON
``python -m upo_theory --f "u*log(u) - log(u)"``   a user's own generator
``python -m upo_theory --f alpha --alpha 0.3``
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from .admission import get_divergence
from .claims import verify_all, verify_divergence
from .cli import config_parser, parse_config, run_cli
from .derivation import derive
from .derivation_report import derivation_dict, derivation_text, table_text
from .divergences import REGISTRY, registered
from .report import claim_dict, report_text

PROG = "python -m upo_theory"


@dataclass(frozen=True)
class ReportConfig:
    """What to print: the whole report, or one divergence's derivation and claims."""

    f: str | None = field(default=None, metadata={
        "help": f"a registered divergence ({', '.join(REGISTRY)}) or a generator in u, e.g. "
                "'u*log(u) - log(u)'; default: every registered divergence and every claim"})
    alpha: str | None = field(default=None, metadata={
        "help": "alpha in (0, 1) for the alpha-divergence (default 1/2)"})
    json: bool = field(default=False, metadata={"help": "print JSON instead of text"})


def build_parser():
    return config_parser(
        ReportConfig, prog=PROG,
        description="Derive f', f'', (f')^-1 and Theorem 3.1's conditions with SymPy, and check "
        "the paper's claims (each within the scope the paper states), the project's repair (the "
        "per-response form) and extended checks beyond the paper: PROVEN, REFUTED (with a "
        "counterexample), NOT APPLICABLE or UNDECIDED. "
        "Without --f: the whole verification report.")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ReportConfig, argv, build_parser())
    return run_cli(PROG, lambda: report(config))


def report(config: ReportConfig) -> int:
    """Print one divergence's derivation and claims, or the whole verification report."""
    if config.f is not None:
        divergence = get_divergence(config.f, config.alpha)
        d = derive(divergence)
        claims = verify_divergence(divergence)
        if config.json:
            print(json.dumps({**derivation_dict(d), "claims": [claim_dict(r) for r in claims]},
                             indent=2))
        else:
            print(derivation_text(d))
            print()
            print(report_text(claims))
        return 0
    divergences = registered(config.alpha)  # validates alpha before the long report
    results = verify_all(config.alpha)
    if config.json:
        print(json.dumps({"divergences": [derivation_dict(derive(d)) for d in divergences],
                          "claims": [claim_dict(r) for r in results]}, indent=2))
        return 0
    print("Derived table (every column by SymPy from f alone)\n")
    print(table_text([derive(d) for d in divergences]))
    print("\nVerification report\n")
    print(report_text(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
