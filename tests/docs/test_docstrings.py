"""What the reference pages are made of, checked without a build: every result of the report
carries its name, statement, scope and detail (whatever its verdict) in LaTeX for the pages to
typeset, and every public callable of the documented faces says what its parameters are (a
numpydoc Parameters section)."""

from __future__ import annotations

import enum
import importlib
import importlib.util
import inspect
import re
import sys
import types

from docs_helpers import latex_prose_problems

from docs.pages.reference import api_modules, public_names

FACES: tuple[str, ...] = ("upo_theory", "sim", "llm.losses", "llm.trl", "llm.data")
"""The public faces whose callables document their parameters: a package's own public names
(``upo_theory``'s ``__all__``), and for a package without one its modules' public names."""


def _modules(face: str) -> list[str]:
    module = importlib.import_module(face)
    if hasattr(module, "__all__") or not hasattr(module, "__path__"):
        return [face]
    return api_modules(face)


def _takes_parameters(obj: object) -> bool:
    if not callable(obj) or (inspect.isclass(obj) and issubclass(obj, (enum.Enum,
                                                                       BaseException))):
        return False
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return False
    return any(name not in ("self", "cls") for name in parameters)


def undocumented_parameters(faces: tuple[str, ...] = FACES) -> list[str]:
    """The public callables of ``faces`` that take parameters and have no Parameters section."""
    missing = []
    for face in faces:
        for name in _modules(face):
            module = importlib.import_module(name)
            for public in public_names(module):
                obj = getattr(module, public)
                doc = inspect.getdoc(obj) or ""
                if _takes_parameters(obj) and not re.search(r"^Parameters\n-{10}$", doc,
                                                            re.MULTILINE):
                    missing.append(f"{name}.{public}")
    return missing


def test_every_claim_carries_its_name_statement_scope_and_detail_in_latex() -> None:
    """Name, statement, scope and the proof or reason of every result, NOT APPLICABLE and
    UNDECIDED included (the failing condition in the derivation's LaTeX): each is prose with
    balanced inline maths and no plain-text maths outside it, and the plain ``claim`` name (an
    identifier) stays as it was."""
    from upo_theory import verify_all

    results = verify_all()
    assert results
    assert {r.status for r in results} >= {"PROVEN", "REFUTED", "NOT APPLICABLE"}
    for r in results:
        for what in ("claim_latex", "statement_latex", "scope_latex", "detail_latex"):
            tex = getattr(r, what)
            assert not latex_prose_problems(tex), (r.claim, r.divergence, what, tex,
                                                   latex_prose_problems(tex))
    not_applicable = [r for r in results if r.status == "NOT APPLICABLE"]
    assert all(r.detail_latex.startswith("outside the scope: $") for r in not_applicable)
    assert any(r"$\lim_{u \to 0^+} f'(u) = -\infty$ fails" in r.detail_latex
               for r in not_applicable)
    assert any("Theorem 3.1: pi* = pi_ref" in r.claim for r in results)


def test_the_latex_prose_check_can_fail() -> None:
    """The check is not vacuous: the terminal's reasons, a dangling ``$`` and an empty text
    fail it; an error message in a code span does not."""
    assert latex_prose_problems("outside the scope: lim_{u->0+} f'(u) = -oo fails")
    assert latex_prose_problems("Theorem 3.1: pi* = pi_ref (f')^-1((Psibar - lambda)/beta)")
    assert latex_prose_problems("paper form can reach the target 1/(2 beta)")
    assert latex_prose_problems("$f(1) = 0") and latex_prose_problems(" ")
    assert latex_prose_problems("$$f$$")
    assert not latex_prose_problems(r"outside the scope: $\lim_{u \to 0^+} f'(u) = -\infty$")
    assert not latex_prose_problems("SymPy failed: `TypeError: cost $5 in a_b`")


def test_every_public_callable_documents_its_parameters() -> None:
    """``llm.trl`` is checked where TRL is installed (its optional extra)."""
    faces = tuple(f for f in FACES if f != "llm.trl" or importlib.util.find_spec("trl"))
    missing = undocumented_parameters(faces)
    assert not missing, f"{len(missing)} without a Parameters section: {missing}"


def test_the_parameters_check_can_fail() -> None:
    """A face whose callables lack the section is reported (the check is not vacuous)."""
    module = types.ModuleType("_faceless")
    exec("def f(x):\n    'No sections.'\n__all__ = ['f']", module.__dict__)
    sys.modules["_faceless"] = module
    try:
        assert undocumented_parameters(("_faceless",)) == ["_faceless.f"]
    finally:
        del sys.modules["_faceless"]
