"""How a claim is decided: the result it gives, its group and scope, and the four verdicts.

Every result has a **group** and a **scope**:

* ``group="paper"``: a claim the paper makes, with the statistic and algorithm the paper writes
  (eqs. 23, 24, 26, Algorithm 1), checked only where the paper makes it (its ``scope``: "for
  reverse KL", "for admissible f", ...). Outside that scope a paper claim is NOT APPLICABLE
  (or, for claims the paper makes for reverse KL alone, not listed for other f).
* ``group="repair"``: the project's repair of Algorithm 1, not a claim the paper makes: the
  per-response statistic f'(π(y_w)/π_ref(y_w)) − f'(π(y_l)/π_ref(y_l)) of the KKT conditions
  (eq. 17) in place of eq. 23, and the central claim for it.
* ``group="extended"``: a statement of our own beyond the paper, whose text says its own scope
  (e.g. "for f other than reverse KL the eq. 23 statistic differs from h").

A result is one statement for one f (an **instance**) or for none; the report counts the
distinct statements of each group and their instances beside them. A statement checked for each
registered f repeats one argument per f (the chain rule of eq. 14 eight times), and α = ½ is
Hellinger's f doubled, i.e. Hellinger at 2β: instances are not independent evidence.

A statement is PROVEN when SymPy simplifies the difference of its two sides to 0 under the stated
assumptions (or, for "differs" statements, at a witness point whose values are reported); REFUTED
when a concrete point makes it fail (the point and both values are reported); NOT APPLICABLE when
its hypotheses fail for that divergence (the reason is reported); UNDECIDED wherever SymPy can
neither prove nor refute it, raises, or runs past :data:`CLAIM_SECONDS` — never silently PROVEN,
never a traceback. Where a PROVEN rests on a written argument with SymPy certificates at small K
and numerical checks at larger K (the repair's central claim), its detail says so.

A claim is a function marked with :func:`about`, which attaches what it states (:class:`Claim`)
and checks its scope, once for every claim; :func:`decide` and :func:`differs` give the verdict
on "lhs = rhs" and on "lhs differs from rhs"; :func:`guarded` runs a claim within its time
limit. The catalogue lives beside this module (:mod:`~upo_theory.paper_claims`,
:mod:`~upo_theory.repair_claims`, :mod:`~upo_theory.extended_claims`), listed in report order
by :mod:`~upo_theory.claims`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import mpmath
import sympy as sp

from .budget import time_limited
from .derivation import SYMPY_FAILURES, Condition, Derivation, code_span

Status = Literal["PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED"]
Group = Literal["paper", "repair", "extended"]
CLAIM_STATUSES: tuple[str, ...] = ("PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED")
"""The four verdicts a claim can get, in the order the report counts them."""
CLAIM_GROUPS: dict[str, str] = {
    "paper": "The paper's claims, as the paper states them (each within its scope)",
    "repair": "The project's repair: the per-response statistic (eq. 17) in eq. 24, and its "
              "central claim (not a claim of the paper)",
    "extended": "Extended checks, beyond the paper (each statement says its own scope)",
}
"""The report's groups, in the order it prints them: the one source of their names and titles."""
CLAIM_SECONDS = 5
"""How long SymPy may work on one claim for one f before the claim is UNDECIDED."""
CLAIMS_SECONDS = 15
"""How long all the claims for one f may take together (the rest are then UNDECIDED)."""
# A claim about no particular f that runs the engine (minimisers, several f) may say how long it
# may take in a ``seconds`` attribute; it then runs under that limit instead of CLAIM_SECONDS.


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one statement, for one divergence or for none.

    ``group`` says whether the paper makes the statement ("paper") or it is a check beyond the
    paper ("extended"); ``scope`` the f (or setting) it is stated for. ``counterexample`` holds
    the numbers that refute a REFUTED statement; ``witness`` those that prove a PROVEN "differs"
    statement or illustrate a proof.

    Parameters
    ----------
    claim : str
        The claim's name.
    reference : str
        Where the paper states it (theorem, equations).
    divergence : str or None
        The label of the f it was checked for; None for a claim about no particular f.
    status : {"PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED"}
        The verdict.
    statement : str
        The statement, as the terminal report prints it.
    detail : str
        The proof, or the reason for the verdict.
    counterexample, witness : dict of str to str, optional
        The numbers that refute (REFUTED) or prove and illustrate (PROVEN) the statement.
    group : {"paper", "repair", "extended"}
        Whose statement it is.
    scope : str
        The f (or setting) the statement is made for.
    statement_latex, scope_latex, detail_latex : str
        The statement, the scope and the detail as text with LaTeX maths, for a page to typeset.
    claim_latex : str
        The claim's name as text with LaTeX maths (``claim`` is the plain name, an identifier).
    """

    claim: str
    reference: str
    divergence: str | None
    status: Status
    statement: str
    detail: str
    counterexample: dict[str, str] | None = None
    group: Group = "paper"
    scope: str = ""
    witness: dict[str, str] | None = None
    statement_latex: str = ""
    """The statement as text with LaTeX maths (``$...$``) for a page to typeset;
    ``statement`` is what the terminal report prints."""
    scope_latex: str = ""
    """The scope as text with LaTeX maths (``$...$``), beside ``scope`` as the terminal prints
    it."""
    detail_latex: str = ""
    """The detail as text with LaTeX maths (``$...$``), beside ``detail`` as the terminal prints
    it: every verdict has one (a condition outside the scope in the derivation's LaTeX, an
    error's message as a code span)."""
    claim_latex: str = ""
    """The claim's name as text with LaTeX maths (``$...$``), for a page's headings; ``claim``
    is the plain name the terminal, the JSON and the tests use."""


@dataclass(frozen=True)
class Claim:
    """What a result needs besides its verdict: name, reference, statement, group and scope;
    ``latex``, ``scope_latex`` and ``name_latex``: the statement, the scope and the name as prose
    with LaTeX maths (``$...$``), printed by SymPy's ``latex`` from the objects the check uses
    where it has them, else written out (a fixed formula). ``name`` stays plain: it identifies
    the claim (JSON, tests, the terminal)."""

    name: str
    reference: str
    statement: str
    group: Group
    scope: str
    latex: str = ""
    scope_latex: str = ""
    name_latex: str = ""

    def result(self, div: str | None, status: Status, detail: str,
               counterexample: dict[str, str] | None = None,
               witness: dict[str, str] | None = None, detail_latex: str = "") -> ClaimResult:
        return ClaimResult(self.name, self.reference, div, status, self.statement, detail,
                           counterexample, self.group, self.scope, witness, self.latex,
                           self.scope_latex, detail_latex, self.name_latex)


F = TypeVar("F", bound=Callable[..., object])


def about(claim: Claim, needs: tuple[Condition, ...] = (),
          reverse_kl: bool | None = None) -> Callable[[F], F]:
    """Attach ``claim`` to the function that decides it (so a failure can still name it).

    The claim's scope is checked here, once for every claim: the function runs only where the
    conditions ``needs`` hold symbolically (else NOT APPLICABLE or UNDECIDED, :func:`_outside`)
    and, with ``reverse_kl`` True (False), only on reverse KL (only on other f); elsewhere it
    gives None: no line.
    """

    def attach(fn: F) -> F:
        if not needs and reverse_kl is None:  # a claim about no particular f
            fn.about = claim  # type: ignore[attr-defined]
            return fn

        @functools.wraps(fn)
        def within_scope(d: Derivation) -> ClaimResult | None:
            if reverse_kl is not None and _on_reverse_kl(d) != reverse_kl:
                return None
            return _outside(claim, d, needs) or fn(d)

        within_scope.about = claim  # type: ignore[attr-defined]
        return within_scope  # type: ignore[return-value]

    return attach


def vanishes(expr: sp.Expr) -> bool:
    """Whether SymPy simplifies ``expr`` to 0 (trying log expansion too)."""
    for candidate in (expr, sp.expand_log(expr, force=True)):
        if sp.simplify(candidate) == 0:
            return True
    return sp.simplify(sp.expand_log(sp.simplify(expr), force=True)) == 0


Point = dict[sp.Symbol, sp.Expr]


def _values(lhs: sp.Expr, rhs: sp.Expr, point: Point) -> tuple[sp.Float, sp.Float] | None:
    with mpmath.workdps(30):
        a, b = sp.N(lhs.subs(point), 25), sp.N(rhs.subs(point), 25)
    return (a, b) if a.is_real and b.is_real else None


def _witness(lhs: sp.Expr, rhs: sp.Expr,
             points: list[Point]) -> tuple[Point, sp.Float, sp.Float] | None:
    """The first point at which the two sides differ numerically, with both values."""
    for point in points:
        values = _values(lhs, rhs, point)
        if values is not None and abs(values[0] - values[1]) > 1e-12 * max(1, abs(values[1])):
            return point, *values
    return None


def _example(point: Point, a: sp.Float, b: sp.Float) -> dict[str, str]:
    example = {str(k): str(v) for k, v in point.items()}
    example.update({"left side": f"{float(a):.10g}", "right side": f"{float(b):.10g}"})
    return example


def decide(claim: Claim, div: str | None, lhs: sp.Expr, rhs: sp.Expr, points: list[Point],
           proof: str, proof_latex: str = "") -> ClaimResult:
    """PROVEN if lhs − rhs simplifies to 0, REFUTED at a differing point, else UNDECIDED;
    ``proof`` (``proof_latex``, with LaTeX maths) is the detail of PROVEN."""
    if vanishes(lhs - rhs):
        return claim.result(div, "PROVEN", proof, detail_latex=proof_latex)
    found = _witness(lhs, rhs, points)
    if found is None:
        return claim.result(div, "UNDECIDED", "SymPy could not simplify the difference to 0, "
                            "and it vanished at every test point",
                            detail_latex="SymPy could not simplify the difference to $0$, and "
                            "it vanished at every test point")
    point, a, b = found
    return claim.result(div, "REFUTED", f"the two sides differ: {float(a):.6g} != {float(b):.6g}",
                        counterexample=_example(point, a, b),
                        detail_latex=f"the two sides differ: {_neq(a, b)}")


def _neq(a: sp.Float, b: sp.Float) -> str:
    """``a != b`` as the detail prints it, in LaTeX."""
    return rf"${float(a):.6g} \neq {float(b):.6g}$"


def differs(claim: Claim, div: str | None, lhs: sp.Expr, rhs: sp.Expr,
            points: list[Point]) -> ClaimResult:
    """A statement "lhs differs from rhs": PROVEN at a witness point, REFUTED if they are equal."""
    found = _witness(lhs, rhs, points)
    if found is not None:
        point, a, b = found
        return claim.result(div, "PROVEN", f"they differ: {float(a):.6g} != {float(b):.6g}",
                            witness=_example(point, a, b),
                            detail_latex=f"they differ: {_neq(a, b)}")
    if vanishes(lhs - rhs):
        return claim.result(div, "REFUTED", "the two sides are identical (SymPy simplifies their "
                            "difference to 0)", detail_latex="the two sides are identical "
                            "(SymPy simplifies their difference to $0$)")
    return claim.result(div, "UNDECIDED", "no test point separates the two sides, and SymPy "
                        "could not simplify their difference to 0", detail_latex="no test point "
                        "separates the two sides, and SymPy could not simplify their difference "
                        "to $0$")


def _outside(claim: Claim, d: Derivation,
             conditions: tuple[Condition, ...]) -> ClaimResult | None:
    """NOT APPLICABLE (a condition fails) or UNDECIDED (one is undecided, or only checked on a
    grid) when ``conditions`` do not all hold symbolically; None when they do."""
    label = d.divergence.label
    failed = d.failure(conditions)
    if failed is not None and failed.method != "undecided":
        at_zero = failed.condition is Condition.INFINITE_AT_ZERO
        literal = ("; this reads Theorem 3.1's '0 not in dom f'' as f'(0+) = -oo: read "
                   "literally it admits this f, see the full report's extended check of Pearson "
                   "chi^2 under that reading" if at_zero else "")
        literal_latex = (r"; this reads Theorem 3.1's $0 \notin \operatorname{dom} f'$ as "
                         r"$f'(0^+) = -\infty$: read literally it admits this $f$, see the full "
                         r"report's extended check of Pearson $\chi^2$ under that reading"
                         if at_zero else "")
        return claim.result(label, "NOT APPLICABLE", f"outside the scope: {failed.name} fails "
                            f"({failed.detail}){literal}", detail_latex=f"outside the scope: "
                            f"{failed.latex} fails ({failed.detail_latex}){literal_latex}")
    if failed is not None:
        return claim.result(label, "UNDECIDED", f"{failed.name} could not be decided "
                            f"({failed.detail})", detail_latex=f"{failed.latex} could not be "
                            f"decided ({failed.detail_latex})")
    numeric = next((c for c in d.checks if c.condition in conditions and c.method == "numeric"),
                   None)
    if numeric is not None:
        return claim.result(label, "UNDECIDED", f"{numeric.name} holds only on a grid of u "
                            f"({numeric.detail}), not symbolically", detail_latex=f"{numeric.latex}"
                            f" holds only on a grid of $u$ ({numeric.detail_latex}), not "
                            "symbolically")
    return None


ADMISSIBLE: tuple[Condition, ...] = tuple(Condition)
"""Every condition of Theorem 3.1 (those of the optimum and f'(0+) = −∞)."""
DIFFERENTIABLE: tuple[Condition, ...] = (Condition.DIFFERENTIABLE,)


def _on_reverse_kl(d: Derivation) -> bool:
    return d.divergence.name == "rkl"


def guarded(claim: Callable[..., ClaimResult | None], *args: Derivation,
            seconds: float | None = None) -> ClaimResult | None:
    """``claim(*args)``, UNDECIDED (never a traceback) when SymPy raises or runs past
    ``seconds`` (default :data:`CLAIM_SECONDS`)."""
    stated: Claim = claim.about  # type: ignore[attr-defined]
    label = args[0].divergence.label if args else None
    seconds = CLAIM_SECONDS if seconds is None else seconds

    def undecided(why: str, why_latex: str = "") -> ClaimResult:
        return stated.result(label, "UNDECIDED", why, detail_latex=why_latex or why)

    if seconds <= 0:
        return undecided(f"the {CLAIMS_SECONDS} s for this f's claims ran out before this one",
                         f"the {CLAIMS_SECONDS} s for this $f$'s claims ran out before this one")
    try:
        outcome = time_limited(lambda: (claim(*args),), seconds)
    except SYMPY_FAILURES as error:
        why = f"{type(error).__name__}: {' '.join(str(error).split())}"
        return undecided(f"SymPy failed: {why}"[:200],
                         f"SymPy failed: {code_span(why[:200 - len('SymPy failed: ')])}")
    if outcome is None:
        return undecided(f"SymPy ran past {seconds:.3g} s")
    return outcome[0]
