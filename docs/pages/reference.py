"""The CLI reference (each entry point's ``--help``, from its ``build_parser()``) and the API
reference (autodoc + numpydoc, one page per module). A module that is missing or fails to import
is listed with a note, so the site builds whatever state the other packages are in."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType

from sphinx.ext.autodoc.mock import mock

from ..myst import code, code_block, note, page, table, text
from ..project import API_PACKAGES, CLI_MODULES, OPTIONAL_IMPORTS

Log = Callable[[str], None]


def _command(name: str) -> str:
    return "python -m " + name.removesuffix(".__main__")


def cli_anchor(name: str) -> str:
    """The label of a command's section, e.g. ``cli-llm-train``."""
    return "cli-" + name.removesuffix(".__main__").replace(".", "-").replace("_", "-")


def cli_page(log: Log) -> str:
    """Every command with its ``--help``, exactly as the command prints it."""
    sections, toc = [], []
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        for name in CLI_MODULES:
            command, anchor = _command(name), cli_anchor(name)
            try:
                parser = importlib.import_module(name).build_parser()
            except Exception as err:  # another package's failure is reported, not fatal
                log(f"CLI reference: skipped {name} ({type(err).__name__}: {err})")
                toc.append(f"- {code(command)}: not in this build")
                sections.append(f"({anchor})=\n## {code(command)}\n\n" + note(
                    f"Not in this build: {code(f'{type(err).__name__}: {err}')}", "warning"))
                continue
            parser.prog = command
            first = (parser.description or "").strip().split("\n")[0]
            toc.append(f"- {{ref}}`{command} <{anchor}>`: {first}")
            sections.append(f"({anchor})=\n## {code(command)}\n\n"
                            + code_block(parser.format_help(), "text"))
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    body = ("Printed from each command's argument parser (`build_parser()`, every one built "
            "from a config dataclass by {py:func}`upo_theory.cli.config_parser`), so the flags "
            "below are "
            "the ones the code accepts. A user mistake ends with one line on stderr, "
            "`<prog>: error: <message>`, and exit status 2.\n\n"
            + "\n".join(toc) + "\n\n" + "\n".join(sections))
    return page("CLI reference", body, "cli")


def api_modules(package: str) -> list[str]:
    """Every public module of ``package``, subpackages' modules included, in name order
    (a module or folder whose name starts with ``_`` is private)."""
    root = importlib.import_module(package)
    names = [info.name for info in pkgutil.walk_packages(root.__path__, package + ".")]
    return sorted(n for n in names if not any(p.startswith("_") for p in n.split(".")[1:]))


def public_names(module: ModuleType) -> list[str]:
    """A module's public objects: its ``__all__``, or else what it defines under a name not
    starting with ``_`` (classes, functions; constants with a docstring are on the page too)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and getattr(obj, "__module__", None) == module.__name__
            and (inspect.isclass(obj) or inspect.isfunction(obj))]


def summary(obj: object) -> str:
    """The first sentence of ``obj``'s docstring, as MyST text (roles become code)."""
    doc = inspect.getdoc(obj) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    first = re.sub(r":[a-z:]+:`~?([^`]+)`", r"``\1``", first)
    first = re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", first)
    first = first.replace("``", "`")
    return first if len(first) <= 220 else first[:first.rfind(" ", 0, 215)] + " …"


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "module" if inspect.ismodule(obj) else "data"


def _rows(module_name: str, names: list[str]) -> list[list[str]]:
    module = importlib.import_module(module_name)
    rows = []
    for name in names:
        obj = getattr(module, name)
        doc = "" if _kind(obj) == "data" else summary(obj)
        rows.append([f"{{py:obj}}`~{module_name}.{name}`", _kind(obj), doc])
    return rows


def _topics(package: str) -> list[tuple[str, list[str]]]:
    """The public face of ``package`` by topic, as its docstring groups it: a definition list
    whose terms are the topics and whose definitions name the objects (roles)."""
    module = importlib.import_module(package)
    doc = inspect.getdoc(module) or ""
    topics: list[tuple[str, list[str]]] = []
    for line in doc.splitlines():
        if line and not line.startswith(" "):
            topics.append((line, []))
        elif line.startswith("    ") and topics:
            topics[-1][1].extend(re.findall(r":[a-z]+:`~?([\w.]+)`", line))
    public = set(getattr(module, "__all__", []))
    found = [(title, [n for n in dict.fromkeys(names) if n in public])
             for title, names in topics]
    return [(title, names) for title, names in found if names]


def api_pages(folder: Path, log: Log) -> list[str]:
    """Write ``api/index.md`` (summary tables of the public objects by topic), a page per
    package and one per module (autodoc directives) into ``folder``; return the packages."""
    folder.mkdir(parents=True, exist_ok=True)
    packages, sections = [], []
    with mock([m for m in OPTIONAL_IMPORTS if find_spec(m) is None]):
        for package in API_PACKAGES:
            try:
                modules = api_modules(package)
            except Exception as err:  # reported, not fatal
                log(f"API reference: skipped package {package} ({type(err).__name__}: {err})")
                continue
            written = []
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception as err:  # reported, not fatal
                    log(f"API reference: skipped {name} ({type(err).__name__}: {err})")
                    continue
                written.append(name)
                (folder / f"{name}.rst").write_text(_module_page(name), encoding="utf-8")
            bar = "=" * (len(package) + 4)
            (folder / f"{package}.rst").write_text(
                f"{bar}\n``{package}``\n{bar}\n\n.. automodule:: {package}\n"
                "   :no-members:\n\n.. toctree::\n   :maxdepth: 1\n\n"
                + "".join(f"   {m}\n" for m in written), encoding="utf-8")
            packages.append(package)
            sections.append(_package_section(package, written))
    (folder / "index.md").write_text(page(
        "API reference",
        "Generated from the docstrings (numpydoc) when the site is built: one page per module; "
        "each object's **[source]** link shows its code. The tables list the public objects "
        "(a module's `__all__`, or what it defines under a public name), by topic; the "
        "{ref}`genindex` lists every documented name and the {ref}`modindex` every module."
        "\n\n" + "".join(sections)
        + "```{toctree}\n:hidden:\n:maxdepth: 2\n\n" + "\n".join(packages) + "\n```\n",
        "api"), encoding="utf-8")
    return packages


def _module_page(name: str) -> str:
    """The page of module ``name``: autodoc of its members; a module with ``__all__`` has all
    of it listed, its data (which autodoc skips when imported or undocumented) one by one."""
    module = sys.modules[name]
    bar = "=" * (len(name) + 4)
    text = f"{bar}\n``{name}``\n{bar}\n\n.. automodule:: {name}\n   :members:\n"
    if not hasattr(module, "__all__"):
        return text
    data = [n for n in module.__all__ if _kind(getattr(module, n)) == "data"]
    text += "   :undoc-members:\n   :imported-members:\n"
    if data:
        text += f"   :exclude-members: {', '.join(data)}\n"
    return text + "".join(f"\n.. autodata:: {name}.{n}\n" for n in data)


def _package_section(package: str, modules: list[str]) -> str:
    root = importlib.import_module(package)
    out = f"## {{doc}}`{package} <{package}>`\n\n{summary(root)}\n\n"
    for title, names in _topics(package):
        out += f"### {text(title)}\n\n" + table(["object", "kind", "summary"],
                                                    _rows(package, names))
    if package == "upo_theory":
        cli = importlib.import_module("upo_theory.cli")
        out += ("### The command line's face ({py:mod}`upo_theory.cli`)\n\n"
                + table(["object", "kind", "summary"], _rows("upo_theory.cli", cli.__all__)))
        return out
    by_folder: dict[str, list[str]] = {}
    for name in modules:
        parent = name.rsplit(".", 1)[0] if name.count(".") > 1 else package
        by_folder.setdefault(parent, []).append(name)
    for parent, names in by_folder.items():
        if parent != package:
            out += f"### {code(parent)}: {summary(importlib.import_module(parent))}\n\n"
        rows = []
        for name in names:
            module = importlib.import_module(name)
            objects = ", ".join(f"{{py:obj}}`~{name}.{n}`" for n in public_names(module))
            rows.append([f"{{py:mod}}`{name}`", summary(module), objects])
        out += table(["module", "summary", "public objects"], rows)
    return out
