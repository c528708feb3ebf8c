"""The architecture, enforced: the core's public face, its layers, no cycles, no outside files.

The core has two public modules (:data:`FACES`): ``upo_theory`` itself, the mathematical face,
and ``upo_theory.cli``, the command line's. ``sim``, ``llm``, ``docs``, ``bench`` and the tests of
those layers import only names one of them exports (its ``__all__``), never another submodule.
White-box tests of the core itself may reach inside it.

The layers are declared once, in :data:`CORE_LAYERS` (the core's modules, bottom first) and
:data:`PACKAGE_LAYERS` (the packages, the core first): every import, a lazy one inside a function
included, goes to a strictly lower layer (modules in one layer are independent of each other),
so ``sim`` never imports ``llm`` nor ``llm`` ``sim``. No module of the repository takes part in an
import cycle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import upo_theory
import upo_theory.cli

ROOT = Path(__file__).resolve().parents[1]
CONSUMERS = ("sim", "llm", "docs", "bench")
FACES = {"upo_theory": upo_theory, "upo_theory.cli": upo_theory.cli}
"""The core's public modules, whose ``__all__`` is all a consumer may import from the core."""
CORE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "json_text", "interrupts", "files"),
    ("expressions", "stable_lambdify", "budget"),
    ("divergences",),
    ("derivation",),
    ("generator", "kernels", "derivation_report"),
    ("admission",),
    ("losses",),
    ("problem",),
    ("optimum", "table_loss", "exact_problem"),
    ("minimise",),
    ("verdicts",),
    ("claim_terms",),
    ("repair_claims", "extended_claims"),
    ("paper_claims",),
    ("claims",),
    ("report",),
    ("cli",),
    ("__init__", "__main__"),
)
"""``upo_theory``'s modules, bottom layer first: errors at the bottom, the command line on top.
The claims: how a verdict is reached, the terms they are stated in, the catalogue (the paper's
central claim for its own statistic leans on an extended check, the two forms' equality), and the
catalogue in report order with its entry points."""
LLM_FLOORS: tuple[tuple[str, ...], ...] = (
    ("losses",),
    ("ignored_options",),
    ("config",),
    ("data",),
    ("engine",),
    ("evaluation",),
    ("run",),
    ("experiments",),
    ("train", "launch", "experiment", "plot", "results", "task", "trl"),
    ("__init__",),
)
"""``llm``'s floors, bottom first: the loss wrappers, the table of options a run would ignore
(:mod:`llm.ignored_options`, which the config consults), the config, then the rooms (each a
sub-package, whose modules may import each other): the data, the engine, the measurement of one
run; one run's story (``run``), the experiments over many runs; then the command-line modules. A
walk of one ``python -m llm.train`` goes down them without coming back up, and never enters the
experiments room (:func:`test_one_training_run_never_imports_the_experiments`)."""
PACKAGE_LAYERS: tuple[tuple[str, ...], ...] = (("upo_theory",), ("sim", "llm"), ("docs", "bench"))
"""The packages, bottom first: the core, then the simulator and the LLM trainer (independent of
each other), then what presents or measures them."""
CORE_TESTS = frozenset(f"theory/test_{name}.py" for name in (
    "budget", "claims", "derivation", "divergences", "expressions", "kernels", "losses", "cli"))
"""White-box tests of ``upo_theory``'s own modules (``tests/theory/test_admissibility.py`` uses
the public face only, and is held to it)."""


def _sources() -> list[Path]:
    files = [p for package in CONSUMERS for p in sorted((ROOT / package).rglob("*.py"))]
    tests = ROOT / "tests"
    return files + [p for p in sorted(tests.rglob("*.py"))
                    if p.relative_to(tests).as_posix() not in CORE_TESTS]


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
    bad = []
    for module, names in _imports(path):
        if module in FACES:
            bad += [f"imports {name}, which {module} does not export"
                    for name in names if name not in FACES[module].__all__]
        elif module.startswith("upo_theory."):
            bad.append(f"imports the core's submodule {module}")
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
    probe.write_text("from upo_theory.stable_lambdify import Compiled\n"
                     "from upo_theory import _RULES\nimport llm.train\n"
                     "from upo_theory import run_cli\n"  # the command line has its own face
                     "from upo_theory.cli import _join_dash_values\n"
                     "from upo_theory.cli import option\nimport upo_theory.cli\n")
    assert len(_violations(probe, "sim")) == 5


def _module_name(path: Path, root: Path) -> str:
    """``llm/data/io.py`` → ``llm.data.io``; a package's ``__init__.py`` → ``pkg.__init__``."""
    return ".".join(path.relative_to(root).with_suffix("").parts)


def _modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the packages and the tests, by dotted name."""
    return {_module_name(path, root): path for package in (*CONSUMERS, "upo_theory", "tests")
            for path in sorted((root / package).rglob("*.py"))}


def _executed(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` (function bodies included) but those under ``if TYPE_CHECKING:``,
    which never run: a name imported only for an annotation is no import."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in (child, *_executed(child)))
            continue
        yield node
        yield from _executed(node)


def _targets(module: str, path: Path) -> Iterator[str]:
    """The dotted name of everything ``path`` imports, at any depth (inside functions too), with
    relative imports resolved against ``module``'s package (sub-packages included)."""
    package = module.split(".")[:-1]  # a package's __init__ and a plain module alike
    for node in _executed(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            yield from (f"{stem}.{alias.name}" for alias in node.names)


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The repository's module that ``target`` names (``pkg.name`` may be a name in
    ``pkg/__init__.py``): its longest prefix that is a module; None outside the repository."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        for name in (".".join(parts[:end]), ".".join([*parts[:end], "__init__"])):
            if name in modules:
                return name
    return None


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the repository's modules it imports (itself excluded: ``from . import x`` in an
    ``__init__`` names its own package before the submodule)."""
    graph = {}
    for module, path in modules.items():
        found = {_resolve(t, modules) for t in _targets(module, path)}
        graph[module] = {m for m in found if m is not None and m != module}
    return graph


def _rank(module: str) -> tuple[int, int | None]:
    """(the package's layer, the core module's layer or None outside the core)."""
    package, _, rest = module.partition(".")
    outer = next((i for i, layer in enumerate(PACKAGE_LAYERS) if package in layer), None)
    if outer is None:
        return (len(PACKAGE_LAYERS), None)  # tests and scripts: above everything
    if package == "llm":
        room = rest.partition(".")[0] or "__init__"
        floor = next((i for i, layer in enumerate(LLM_FLOORS) if room in layer), None)
        assert floor is not None, f"{module} is on no floor of LLM_FLOORS; declare its floor"
        return (outer, floor)
    if package != "upo_theory":
        return (outer, None)
    inner = next((i for i, layer in enumerate(CORE_LAYERS) if rest in layer), None)
    assert inner is not None, f"{module} is in no layer of CORE_LAYERS; declare its layer"
    return (outer, inner)


def _layer_violations(module: str, imports: set[str]) -> list[str]:
    """Every import of ``module`` that does not go to a strictly lower layer."""
    (outer, inner), package = _rank(module), module.split(".")[0]
    bad = []
    for target in sorted(imports):
        (target_outer, target_inner), target_package = _rank(target), target.split(".")[0]
        if target_package == package:
            same_room = package == "llm" and module.split(".")[:2] == target.split(".")[:2]
            if inner is not None and not target_inner < inner and not same_room:
                bad.append(f"{module} (layer {inner}) imports {target} (layer {target_inner})")
        elif not target_outer < outer:
            bad.append(f"{module} (package layer {outer}) imports {target} "
                       f"(layer {target_outer})")
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


MODULES = _modules()
GRAPH = _graph(MODULES)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if not m.startswith("tests.")))
def test_every_import_goes_to_a_lower_layer(module: str) -> None:
    assert _layer_violations(module, GRAPH[module]) == []


def test_every_core_module_has_a_layer() -> None:
    declared = {name for layer in CORE_LAYERS for name in layer}
    actual = {m.partition(".")[2] for m in MODULES if m.startswith("upo_theory.")}
    assert declared == actual


def test_no_module_takes_part_in_an_import_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_the_layers_catch_an_upward_import(tmp_path: Path) -> None:
    """A lazy upward import inside the core, a relative one in a sub-package, sim → llm, and
    an llm room reaching up to a command-line module."""
    (tmp_path / "upo_theory").mkdir()
    (tmp_path / "sim").mkdir()
    (tmp_path / "llm" / "engine").mkdir(parents=True)
    for name in ("__init__", "errors", "claims", "report"):
        (tmp_path / "upo_theory" / f"{name}.py").write_text("")
    (tmp_path / "upo_theory" / "divergences.py").write_text(
        "from .errors import UserError\n\ndef admit():\n    from .claims import verify_all\n"
        "    import upo_theory.report\n")
    (tmp_path / "sim" / "bandit.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from docs import site\n\n"
        "def plot():\n    from llm.engine import loop\n")
    (tmp_path / "llm" / "config.py").write_text("")
    (tmp_path / "llm" / "train.py").write_text("")
    (tmp_path / "llm" / "engine" / "loop.py").write_text(
        "from ..config import TrainConfig\n\ndef plot():\n    import docs.site\n"
        "    from ..train import main\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "site.py").write_text("")
    modules = _modules(tmp_path)
    graph = _graph(modules)
    assert graph["upo_theory.divergences"] == {"upo_theory.errors", "upo_theory.claims",
                                               "upo_theory.report"}
    assert graph["llm.engine.loop"] == {"llm.config", "docs.site", "llm.train"}
    assert graph["sim.bandit"] == {"llm.engine.loop"}  # the annotation-only import is none
    assert len(_layer_violations("upo_theory.divergences", graph["upo_theory.divergences"])) == 2
    assert len(_layer_violations("sim.bandit", graph["sim.bandit"])) == 1
    assert len(_layer_violations("llm.engine.loop", graph["llm.engine.loop"])) == 2  # docs, train


def test_the_cycle_finder_finds_a_lazy_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_one_training_run_never_imports_the_experiments() -> None:
    """Walking one ``python -m llm.train`` down the house never enters the experiments room:
    neither in the import graph nor in a real interpreter."""
    below, todo = set(), ["llm.train"]
    while todo:
        module = todo.pop()
        if module not in below:
            below.add(module)
            todo += GRAPH[module]
    assert "llm.run" in below
    assert not [m for m in below if m.startswith("llm.experiment")]
    code = ("import llm.train, sys; "
            "print(sorted(m for m in sys.modules if m.startswith('llm.experiment')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_public_name_exists() -> None:
    assert all(hasattr(face, name) for face in FACES.values() for name in face.__all__)


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
