"""The CLI reference (from each entry point's ``build_parser()``) and the API reference (from
docstrings, one page per module). A module that is missing or fails to import is skipped with a
note, so the site builds whatever state the other packages are in.

Signatures and defaults are printed from the objects themselves, as code a user would write
(``Path("build/docs")``, ``numpy.float64``), never as Python reprs; private names are left out.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import os
import pkgutil
from collections.abc import Callable
from pathlib import PurePath
from types import FunctionType, ModuleType
from typing import Any

from .. import numpydoc
from ..html import code_block, esc, note, table
from ..site import Page

CLI_MODULES: tuple[str, ...] = (
    "upo_theory.__main__", "sim.bandit", "llm.train", "llm.plot", "llm.experiment", "llm.task",
    "docs.__main__", "docs.screenshot",
)
API_PACKAGES: tuple[str, ...] = ("upo_theory", "sim", "llm")

Log = Callable[[str], None]


def cli_page(log: Log) -> Page:
    """One section per command: its usage and options, as ``--help`` prints them."""
    sections, toc = [], []
    for name in CLI_MODULES:
        command = "python -m " + name.removesuffix(".__main__")
        anchor = "cli-" + name.removesuffix(".__main__").replace(".", "-").replace("_", "-")
        try:
            parser = importlib.import_module(name).build_parser()
        except Exception as err:  # any failure of another package is reported
            log(f"CLI reference: skipped {name} ({type(err).__name__}: {err})")
            toc.append(f"<li><code>{esc(command)}</code> — not available</li>")
            sections.append(
                f'<h2 id="{anchor}"><code>{esc(command)}</code></h2>'
                + note(f"Not in this build: {esc(type(err).__name__)}: {esc(err)}", "warn"))
            continue
        parser.prog = command
        toc.append(f'<li><a href="#{anchor}"><code>{esc(command)}</code></a> — '
                   f"{numpydoc.summary(_first_line(parser.description))}</li>")
        sections.append(
            f'<h2 id="{anchor}"><code>{esc(command)}</code></h2>'
            + numpydoc.render(parser.description)
            + code_block(_usage(parser), "text")
            + _options_table(parser)
            + (numpydoc.render(parser.epilog) if parser.epilog else "")
        )
    body = (
        "<p>Generated from each command's argument parser (<code>build_parser()</code>, every "
        "one built from a config dataclass by <code>upo_theory.config_parser</code>), so the "
        "flags below are the ones the code accepts. A user mistake ends with one line on "
        "stderr, <code>&lt;prog&gt;: error: &lt;message&gt;</code>, and exit status 2.</p>"
        f"<ul>{''.join(toc)}</ul>{''.join(sections)}"
    )
    return Page("cli.html", "CLI reference", "Reference", body, "every command and flag")


def api_pages(log: Log) -> list[Page]:
    """For each package, a page listing its modules and public face, and a page per module."""
    modules: dict[str, list[ModuleType]] = {}
    for package in API_PACKAGES:
        try:
            root = importlib.import_module(package)
        except Exception as err:  # reported, not fatal
            log(f"API reference: skipped package {package} ({type(err).__name__}: {err})")
            continue
        modules[package] = [m for m in _submodules(root, log) if _members(m) or m.__doc__]
    index = _Index(modules)
    pages = []
    for package, children in modules.items():
        root = importlib.import_module(package)
        pages.append(_package_page(root, children, index))
        pages += [_module_page(m, index, package_path(package)) for m in children]
    numpydoc.set_resolver(lambda name: None)
    return pages


def package_path(package: str) -> str:
    """The file name of a package's API page."""
    return f"api-{package}.html"


def module_path(module: str) -> str:
    """The file name of a module's API page."""
    return f"api-{module}.html"


class _Index:
    """Where each documented name lives in the site: ``module.name`` → page#anchor."""

    def __init__(self, modules: dict[str, list[ModuleType]]) -> None:
        self.where: dict[str, str] = {}
        short: dict[str, list[str]] = {}
        for package, children in modules.items():
            self.where[package] = package_path(package)
            for module in children:
                self.where[module.__name__] = module_path(module.__name__)
                for name, obj in _members(module):
                    full = f"{module.__name__}.{name}"
                    self.where[full] = f"{module_path(module.__name__)}#{full}"
                    short.setdefault(name, []).append(full)
                    for attr in _methods(obj):
                        self.where[f"{full}.{attr}"] = self.where[full]
            root = importlib.import_module(package)
            for name in getattr(root, "__all__", []):
                defined = getattr(getattr(root, name, None), "__module__", None)
                if f"{defined}.{name}" in self.where:
                    self.where[f"{package}.{name}"] = self.where[f"{defined}.{name}"]
        self.unique = {name: fulls[0] for name, fulls in short.items() if len(fulls) == 1}

    def resolver(self, module: str) -> numpydoc.Resolver:
        """Names as a docstring of ``module`` writes them: full, relative to it, or short."""
        package = module.split(".")[0]

        def resolve(name: str) -> str | None:
            for candidate in (name, f"{module}.{name}", f"{package}.{name}",
                              self.unique.get(name, ""), self.unique.get(name.split(".")[-1], "")):
                if candidate in self.where:
                    return self.where[candidate]
            return None

        return resolve


def _package_page(root: ModuleType, children: list[ModuleType], index: _Index) -> Page:
    numpydoc.set_resolver(index.resolver(root.__name__))
    rows = [[f'<a href="{module_path(m.__name__)}"><code>{esc(m.__name__)}</code></a>',
             numpydoc.summary(m.__doc__)] for m in children]
    exported = [
        f'<a href="{index.where[f"{root.__name__}.{n}"]}"><code>{esc(n)}</code></a>'
        if f"{root.__name__}.{n}" in index.where else f"<code>{esc(n)}</code>"
        for n in getattr(root, "__all__", [])
    ]
    body = (
        numpydoc.render(root.__doc__)
        + "<h2>Modules</h2>" + table(["module", "what it holds"], rows, "wide")
        + (f"<h2>Public names</h2><p>{', '.join(exported)}</p>" if exported else "")
    )
    return Page(package_path(root.__name__), f"API: {root.__name__}", "Reference", body,
                numpydoc.summary(root.__doc__))


def _module_page(module: ModuleType, index: _Index, parent: str) -> Page:
    numpydoc.set_resolver(index.resolver(module.__name__))
    members = _members(module)
    toc = "".join(f'<li><a href="#{esc(module.__name__)}.{esc(name)}"><code>{esc(name)}</code>'
                  "</a></li>" for name, _ in members)
    body = (
        numpydoc.render(module.__doc__)
        + (f'<h2>Contents</h2><ul class="toc">{toc}</ul>' if members else "")
        + "".join(_member(name, obj) for name, obj in members)
    )
    return Page(module_path(module.__name__), module.__name__, "Reference", body,
                numpydoc.summary(module.__doc__), parent=parent)


def _submodules(root: ModuleType, log: Log) -> list[ModuleType]:
    out: list[ModuleType] = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        name = f"{root.__name__}.{info.name}"
        try:
            out.append(importlib.import_module(name))
        except Exception as err:  # reported, not fatal
            log(f"API reference: skipped {name} ({type(err).__name__}: {err})")
    return out


def _members(module: ModuleType) -> list[tuple[str, Any]]:
    """The public functions and classes a module defines (not those it imports)."""
    return [
        (name, obj) for name, obj in vars(module).items()
        if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]


def _methods(obj: Any) -> list[str]:
    if not inspect.isclass(obj):
        return []
    return [a for a, v in vars(obj).items() if not a.startswith("_")
            and (inspect.isfunction(v) or isinstance(v, (property, classmethod, staticmethod)))]


def _member(name: str, obj: Any) -> str:
    kind = "class" if inspect.isclass(obj) else "def"
    ident = f"{obj.__module__}.{name}"
    parts = [f'<div class="api-item" id="{esc(ident)}">',
             f'<h3><code>{esc(name)}</code></h3>',
             f'<div class="sig"><code>{kind} <span class="name">{esc(name)}</span>'
             f"{esc(signature(obj))}</code></div>",
             numpydoc.render(_own_doc(obj))]
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            parts.append(_fields(obj))
        parts += [_method(obj, attr) for attr in _methods(obj)]
    parts.append("</div>")
    return "".join(parts)


def _method(cls: type, attr: str) -> str:
    value = vars(cls)[attr]
    if isinstance(value, property):
        head, target = f"property {attr}", value.fget
    else:
        target = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        prefix = "classmethod " if isinstance(value, classmethod) else (
            "staticmethod " if isinstance(value, staticmethod) else "")
        head = f"{prefix}{attr}{signature(target, skip_first=not isinstance(value, staticmethod))}"
    doc = numpydoc.render(getattr(target, "__doc__", None))
    return f'<div class="method"><div class="sig"><code>{esc(head)}</code></div>{doc}</div>'


def _fields(cls: type) -> str:
    rows = []
    for field in dataclasses.fields(cls):
        if field.name.startswith("_") or not field.init:
            continue
        default = (default_text(field.default) if field.default is not dataclasses.MISSING
                   else "computed" if field.default_factory is not dataclasses.MISSING
                   else "required")
        helptext = field.metadata.get("help", "") if field.metadata else ""
        rows.append([f"<code>{esc(field.name)}</code>",
                     f"<code>{esc(type_text(field.type))}</code>",
                     f"<code>{esc(default)}</code>" if default not in ("required", "computed")
                     else default, numpydoc.rst_inline(helptext) if helptext else ""])
    if not rows:
        return ""
    header = ["field", "type", "default", "meaning"]
    if not any(row[3] for row in rows):
        return table(header[:3], [row[:3] for row in rows])
    return table(header, rows, "wide")


def _own_doc(obj: Any) -> str | None:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if inspect.isclass(obj) and doc and doc.startswith(obj.__name__ + "("):
        return None  # the generated dataclass signature, not a written docstring
    return doc


def signature(obj: Any, skip_first: bool = False) -> str:
    """``(name: type = default, ...) -> type`` as code, without private parameters or reprs."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = list(sig.parameters.values())[1 if skip_first else 0:]
    parts, star_done = [], False
    for p in params:
        if p.name.startswith("_"):
            continue
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        star_done = star_done or p.kind is p.VAR_POSITIONAL
        if p.annotation is not p.empty:
            text += f": {type_text(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {default_text(p.default)}"
        parts.append(text)
    out = f"({', '.join(parts)})"
    if sig.return_annotation is not sig.empty and not inspect.isclass(obj):
        out += f" -> {type_text(sig.return_annotation)}"
    return out


def type_text(annotation: Any) -> str:
    """A type annotation as written in code."""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__qualname__ if annotation.__module__ == "builtins" else \
            f"{annotation.__module__.split('.')[0]}.{annotation.__qualname__}"
    return str(annotation).replace("typing.", "")


def default_text(value: Any) -> str:
    """A default value as code: ``Path("runs")``, ``numpy.float64``, ``(0.1, 0.2)``."""
    if isinstance(value, PurePath):
        return f'Path("{value}")'
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, type):
        return type_text(value)
    if isinstance(value, (FunctionType, type(len))):
        return value.__name__
    if isinstance(value, tuple):
        inner = ", ".join(default_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(default_text(v) for v in value) + "]"
    text = repr(value)
    return f"{type(value).__name__}(…)" if text.startswith("<") else text


def cli_default(value: Any) -> str:
    """A default value as a user types it on the command line."""
    if isinstance(value, (tuple, list)):
        return " ".join(cli_default(v) for v in value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (str, PurePath, int, float)):
        return str(value)
    return default_text(value)


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


def _usage(parser: Any) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        return parser.format_usage()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def _options_table(parser: Any) -> str:
    rows = []
    for action in parser._actions:  # argparse exposes no public list of its options
        if action.help == "==SUPPRESS==" or action.dest == "help":
            continue
        flags = ", ".join(action.option_strings) or action.dest
        if action.choices:
            flags += " {" + ",".join(map(str, action.choices)) + "}"
        elif action.nargs != 0 and action.option_strings:
            flags += " " + (action.metavar or action.dest.upper())
        default = ("—" if action.default in (None, "==SUPPRESS==", ()) or action.nargs == 0
                   else f"<code>{esc(cli_default(action.default))}</code>")
        rows.append([f'<code class="nowrap">{esc(flags)}</code>', default,
                     numpydoc.rst_inline(_expand(action)) if action.help else ""])
    return table(["option", "default", "help"], rows, "wide options") if rows else ""


def _expand(action: Any) -> str:
    """An option's help with argparse's ``%(default)s``-style fields filled in."""
    text = action.help or ""
    try:
        return text % {**vars(action), "prog": "", "default": cli_default(action.default)}
    except (KeyError, TypeError, ValueError):
        return text
