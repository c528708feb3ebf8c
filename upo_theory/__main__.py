"""``python -m upo_theory``: the verification report, or one divergence's derivation.

Examples
--------
``python -m upo_theory``                      every claim, PROVEN / REFUTED / NOT APPLICABLE
``python -m upo_theory --f js --json``        JS's derived objects and checks as JSON
``python -m upo_theory --f "u*log(u) - log(u)"``   a user's own generator
``python -m upo_theory --f alpha --alpha 0.3``
"""

from __future__ import annotations

import argparse
import json
import sys

from .claims import verify_all, verify_divergence
from .derivation import derive
from .divergences import REGISTRY, get_divergence, registered
from .expressions import ExpressionError
from .report import claim_dict, derivation_dict, derivation_text, report_text, table_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m upo_theory",
        description="Derive f', f'', (f')^-1 and Theorem 3.1's conditions with SymPy, and prove "
        "or refute the paper's claims. Without --f: the whole verification report.",
    )
    parser.add_argument(
        "--f", metavar="NAME_OR_EXPR",
        help=f"a registered divergence ({', '.join(REGISTRY)}) or a generator in u, "
        "e.g. 'u*log(u) - log(u)'",
    )
    parser.add_argument("--alpha", help="alpha in (0, 1) for the alpha-divergence (default 1/2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        divergence = get_divergence(args.f, args.alpha) if args.f is not None else None
        if divergence is None:
            registered(args.alpha)  # validate alpha before the long report
    except ExpressionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if divergence is not None:
        d = derive(divergence)
        claims = verify_divergence(divergence)
        if args.json:
            print(json.dumps({**derivation_dict(d), "claims": [claim_dict(r) for r in claims]},
                             indent=2))
        else:
            print(derivation_text(d))
            print()
            print(report_text(claims))
        return 0
    results = verify_all(args.alpha)
    if args.json:
        derivations = [derivation_dict(derive(div)) for div in registered(args.alpha)]
        print(json.dumps({"divergences": derivations,
                          "claims": [claim_dict(r) for r in results]}, indent=2))
        return 0
    print("Derived table (every column by SymPy from f alone)\n")
    print(table_text([derive(div) for div in registered(args.alpha)]))
    print("\nVerification report\n")
    print(report_text(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
