"""The CLI reference (from each entry point's ``build_parser()``) and the API reference (from
docstrings). A module that is missing or fails to import is skipped with a note, so the site
builds whatever state the other packages are in.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import numpydoc
from ..html import code_block, esc, note, table
from ..site import Page

CLI_MODULES: tuple[str, ...] = (
    "upo_theory.__main__", "sim.bandit", "llm.train", "llm.plot", "llm.experiment", "llm.task",
    "docs.__main__",
)
API_PACKAGES: tuple[str, ...] = ("upo_theory", "sim", "llm")

Log = Callable[[str], None]


def cli_page(log: Log) -> Page:
    """One section per command: its usage and options, as ``--help`` prints them."""
    sections, toc = [], []
    for name in CLI_MODULES:
        command = "python -m " + name.removesuffix(".__main__")
        anchor = name.replace(".", "-").replace("_", "")
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
            + code_block(_usage(parser))
            + _options_table(parser)
            + (numpydoc.render(parser.epilog) if parser.epilog else "")
        )
    body = (
        "<p>Generated from each command's argument parser (<code>build_parser()</code>), so "
        "the flags below are the ones the code accepts. User mistakes exit with status 2 and "
        "a one-line message.</p>"
        f"<ul>{''.join(toc)}</ul>{''.join(sections)}"
    )
    return Page("cli.html", "CLI reference", "Reference", body, "every command and flag")


def api_pages(log: Log) -> list[Page]:
    """One page per package: each module's docstring and its public functions and classes."""
    pages = []
    for package in API_PACKAGES:
        try:
            root = importlib.import_module(package)
        except Exception as err:  # reported, not fatal
            log(f"API reference: skipped package {package} ({type(err).__name__}: {err})")
            continue
        modules = [root] + [
            m for m in _submodules(root, log) if m is not None
        ]
        documented = [m for m in modules if _members(m) or (m is root and m.__doc__)]
        toc = "".join(
            f'<li><a href="#{_anchor(m)}"><code>{esc(m.__name__)}</code></a> — '
            f"{numpydoc.summary(m.__doc__)}</li>" for m in documented
        )
        body = f"<ul>{toc}</ul>" + "".join(_module(m) for m in documented)
        pages.append(Page(f"api-{package}.html", f"API: {package}", "Reference", body,
                          numpydoc.summary(root.__doc__)))
    return pages


def _submodules(root: ModuleType, log: Log) -> list[ModuleType | None]:
    out: list[ModuleType | None] = []
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
    names = getattr(module, "__all__", None)
    if names is not None and module.__name__.count(".") == 0:
        return []  # a package's __init__ re-exports: documented in the defining modules
    members = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        members.append((name, obj))
    return members


def _module(module: ModuleType) -> str:
    items = "".join(_member(name, obj) for name, obj in _members(module))
    return (f'<h2 id="{_anchor(module)}"><code>{esc(module.__name__)}</code></h2>'
            + numpydoc.render(module.__doc__) + items)


def _member(name: str, obj: Any) -> str:
    kind = "class" if inspect.isclass(obj) else "def"
    sig = f"{kind} {name}{_signature(obj)}"
    parts = [f'<div class="api-item" id="{esc(obj.__module__)}.{esc(name)}">',
             f'<div class="sig">{esc(sig)}</div>', numpydoc.render(_own_doc(obj))]
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            parts.append(_fields(obj))
        for attr, value in vars(obj).items():
            if attr.startswith("_") or not (inspect.isfunction(value)
                                            or isinstance(value, property)):
                continue
            target = value.fget if isinstance(value, property) else value
            head = attr if isinstance(value, property) else f"{attr}{_signature(value)}"
            label = "property " if isinstance(value, property) else ""
            doc = numpydoc.summary(getattr(target, "__doc__", None))
            parts.append(f"<p><code>{esc(label + head)}</code>{' — ' + doc if doc else ''}</p>")
    parts.append("</div>")
    return "".join(parts)


def _fields(cls: type) -> str:
    rows = []
    for field in dataclasses.fields(cls):
        if field.name.startswith("_"):
            continue
        default = (repr(field.default) if field.default is not dataclasses.MISSING
                   else "(factory)" if field.default_factory is not dataclasses.MISSING
                   else "required")
        helptext = field.metadata.get("help", "") if field.metadata else ""
        rows.append([f"<code>{esc(field.name)}</code>", esc(_type_name(field.type)),
                     f"<code>{esc(default)}</code>", esc(helptext)])
    if not any(row[3] for row in rows):
        return table(["field", "type", "default"], [row[:3] for row in rows]) if rows else ""
    return table(["field", "type", "default", "meaning"], rows)


def _own_doc(obj: Any) -> str | None:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and doc and doc.startswith(
        obj.__name__ + "("
    ):
        return None  # the generated dataclass signature, not a written docstring
    return doc


def _signature(obj: Any) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return re.sub(r"(: |-> )'([^']*)'", r"\1\2", text)  # postponed annotations, unquoted


def _type_name(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else getattr(
        annotation, "__name__", str(annotation))


def _anchor(module: ModuleType) -> str:
    return "mod-" + module.__name__.replace(".", "-").replace("_", "")


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


def _usage(parser: Any) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
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
        default = ("—" if action.default in (None, "==SUPPRESS==") or action.nargs == 0
                   else f"<code>{esc(repr(action.default))}</code>")
        rows.append([f'<code class="nowrap">{esc(flags)}</code>', default,
                     esc(_expand(action))])
    return table(["option", "default", "help"], rows, "wide") if rows else ""


def _expand(action: Any) -> str:
    """An option's help with argparse's ``%(default)s``-style fields filled in."""
    text = action.help or ""
    try:
        return text % {**vars(action), "prog": ""}
    except (KeyError, TypeError, ValueError):
        return text
