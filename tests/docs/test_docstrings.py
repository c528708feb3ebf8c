"""What the reference pages are made of, checked without a build: every claim of the report
carries its statement, scope and (proven or refuted) detail in LaTeX for the pages to
typeset, and every public callable of the documented faces says what its parameters are (a
numpydoc Parameters section)."""

from __future__ import annotations

import enum
import importlib
import inspect
import re
import sys
import types

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


def test_every_claim_carries_its_statement_and_scope_in_latex() -> None:
    """Statement and scope always; the proof or reason of every PROVEN and REFUTED result too
    (a NOT APPLICABLE one quotes the derivation's condition as text)."""
    from upo_theory import verify_all

    results = verify_all()
    assert results
    for r in results:
        texts = [("statement", r.statement_latex), ("scope", r.scope_latex)]
        if r.status in ("PROVEN", "REFUTED"):
            texts.append(("detail", r.detail_latex))
        for what, tex in texts:
            assert tex.strip(), (r.claim, r.divergence, what)
            assert tex.count("$") % 2 == 0, (r.claim, what, tex)
            assert "$$" not in tex, (r.claim, what, tex)


def test_every_public_callable_documents_its_parameters() -> None:
    missing = undocumented_parameters()
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
