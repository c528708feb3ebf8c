"""The architecture, enforced: the core's public face, the direction of imports, no outside files.

``upo_theory/__init__.py`` is the core's public face: ``sim``, ``llm``, ``docs``, ``bench`` and the
tests of those layers import only names it exports, never one of its submodules. ``sim`` never
imports ``llm`` nor ``llm`` ``sim``. White-box tests of the core itself may reach inside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import upo_theory

ROOT = Path(__file__).resolve().parents[1]
CONSUMERS = ("sim", "llm", "docs", "bench")
CORE_TESTS = frozenset({
    "test_budget.py", "test_claims.py", "test_derivation.py", "test_divergences.py",
    "test_expressions.py", "test_kernels.py", "test_losses.py", "test_theory_cli.py",
})
"""White-box tests of ``upo_theory``'s own modules."""


def _sources() -> list[Path]:
    files = [p for package in CONSUMERS for p in sorted((ROOT / package).rglob("*.py"))]
    return files + [p for p in sorted((ROOT / "tests").glob("*.py")) if p.name not in CORE_TESTS]


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every absolute import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _violations(path: Path, package: str) -> list[str]:
    public = set(upo_theory.__all__)
    bad = []
    for module, names in _imports(path):
        if module.startswith("upo_theory."):
            bad.append(f"imports the core's submodule {module}")
        elif module == "upo_theory":
            bad += [f"imports {name}, which upo_theory does not export"
                    for name in names if name not in public]
    other = {"sim": "llm", "llm": "sim"}.get(package)
    if other is not None:
        bad += [f"imports {module}" for module, _ in _imports(path)
                if module == other or module.startswith(other + ".")]
    return bad


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_consumers_import_only_the_public_face_of_the_core(path: Path) -> None:
    assert _violations(path, path.relative_to(ROOT).parts[0]) == []


def test_the_contract_catches_a_private_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from upo_theory.stable import Compiled\nfrom upo_theory import _RULES\n"
                     "import llm.train\n")
    assert len(_violations(probe, "sim")) == 3


def test_every_public_name_exists() -> None:
    assert all(hasattr(upo_theory, name) for name in upo_theory.__all__)


OUTSIDE = ("/".join(("..", "shared")), ".".join(("MATH", "md")))
"""Files the authors had and users do not (spelt in pieces, so this test does not cite them)."""


def test_the_project_cites_no_file_outside_it() -> None:
    cited = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if (path.is_file() and path.suffix in (".py", ".md", ".css", ".html", ".toml")
                and not parts[0].startswith(".") and parts[0] not in ("build", "runs")):
            text = path.read_text(errors="replace")
            if any(name in text for name in OUTSIDE):
                cited.append(str(path.relative_to(ROOT)))
    assert cited == []
