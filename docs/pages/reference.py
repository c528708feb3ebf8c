"""The CLI reference (each entry point's ``--help``, from its ``build_parser()``) and the API
reference (autodoc + numpydoc, one page per module). A module that is missing or fails to import
is listed with a note, so the site builds whatever state the other packages are in."""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from pathlib import Path

from ..myst import code, code_block, note, page
from ..project import API_PACKAGES, CLI_MODULES

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
            "from a config dataclass by `upo_theory.cli.config_parser`), so the flags below are "
            "the ones the code accepts. A user mistake ends with one line on stderr, "
            "`<prog>: error: <message>`, and exit status 2.\n\n"
            + "\n".join(toc) + "\n\n" + "\n".join(sections))
    return page("CLI reference", body, "cli")


def api_pages(folder: Path, log: Log) -> list[str]:
    """Write ``api/index.md``, a page per package and one per module (autodoc directives)
    into ``folder``; return the package documents."""
    folder.mkdir(parents=True, exist_ok=True)
    packages = []
    for package in API_PACKAGES:
        try:
            root = importlib.import_module(package)
        except Exception as err:  # reported, not fatal
            log(f"API reference: skipped package {package} ({type(err).__name__}: {err})")
            continue
        modules = []
        for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            name = f"{package}.{info.name}"
            try:
                importlib.import_module(name)
            except Exception as err:  # reported, not fatal
                log(f"API reference: skipped {name} ({type(err).__name__}: {err})")
                continue
            modules.append(name)
            (folder / f"{name}.rst").write_text(
                f"{'=' * (len(name) + 4)}\n``{name}``\n{'=' * (len(name) + 4)}\n\n"
                f".. automodule:: {name}\n   :members:\n", encoding="utf-8")
        public = getattr(root, "__all__", [])
        (folder / f"{package}.rst").write_text(
            f"{'=' * (len(package) + 4)}\n``{package}``\n{'=' * (len(package) + 4)}\n\n"
            f".. automodule:: {package}\n   :no-members:\n\n"
            + (f"Public names: {', '.join(f'`{package}.{n}`' for n in public)}.\n\n"
               if public else "")
            + ".. toctree::\n   :maxdepth: 1\n\n"
            + "".join(f"   {m}\n" for m in modules), encoding="utf-8")
        packages.append(package)
    (folder / "index.md").write_text(page(
        "API reference",
        "Generated from the docstrings (numpydoc) when the site is built: one page per module; "
        "each object's **[source]** link shows its code.\n\n"
        "```{toctree}\n:maxdepth: 2\n\n" + "\n".join(packages) + "\n```\n", "api"),
        encoding="utf-8")
    return packages
