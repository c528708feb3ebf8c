"""Command lines generated from config dataclasses, and the one error path of every command.

Every entry point of the project (``python -m upo_theory``, ``sim.bandit``, ``llm.train``,
``llm.experiment``, ``llm.task``, ``llm.plot``, ``docs``) describes its options as a dataclass whose
fields carry their help text in ``metadata["help"]``; :func:`config_parser` turns the fields into
``argparse`` options (``data_path`` → ``--data-path``), so a flag and its field cannot drift apart.
A field whose type is itself a config dataclass contributes that class's options once, flattened
(``ExperimentConfig.train`` gives every :class:`~llm.config.TrainConfig` option).

Field metadata understood here: ``help`` (required), ``choices``, ``shortcuts`` (extra flags
that each set one value, e.g. ``{"--fast": "fast"}``), ``positional`` (a positional argument;
a tuple takes ``nargs="+"``, or ``"*"`` when its default is empty), and, on a nested config,
``exclude`` (its fields that the outer command sets itself) and ``defaults`` (the outer
command's own defaults for the nested fields). Types: ``int``, ``float``, ``str``, ``Path``,
``bool`` (``--x`` / ``--no-x``), ``X | None`` (the text ``none`` gives None) and
``tuple[X, ...]`` (one or more values).

A config may refuse an option that the command line gave but the run would ignore: after it
is built, :func:`parse_config` calls its ``check_given(fields)``, if it has one, with the
fields the command line set itself (``--loss dpo --f js`` sets f to its default, yet says
something the run would not do).

A user's mistake raises :class:`UserError` (or a subclass); :func:`run_cli` turns it into one
line on stderr, ``<prog>: error: <message>``, and exit status 2, never a traceback.
:func:`check_writable` refuses an output path that cannot be written before any work starts.

The core's command-line face, beside its mathematical one (:mod:`upo_theory`): the commands of
``sim``, ``llm`` and ``docs`` import from here the way a config field is written
(:func:`option`), the parser and its parsing (:func:`config_parser`, :func:`parse_config`), the
one error path (:func:`run_cli`), and the checks made before any work starts: an output path
(:func:`check_writable`, :func:`check_figure_path`) and a problem's size against the machine's
memory (:func:`available_memory`, from :mod:`~upo_theory.budget`).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import re
import sys
import tempfile
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .budget import available_memory
from .errors import UserError
from .files import fsync_folder, save_figure, write_atomically
from .interrupts import Terminated, terminating_as_interrupt
from .json_text import parse_json

__all__ = [
    "ConfigRecord",
    "OneLineParser",
    "available_memory",
    "check_figure_path",
    "check_writable",
    "config_parser",
    "fsync_folder",
    "option",
    "parse_config",
    "run_cli",
    "save_figure",
    "write_atomically",
]

C = TypeVar("C")


class ConfigRecord:
    """What a config dataclass saved with every run needs beside its fields: its defaults, its
    fields as JSON (the ones a user sets, not those resolved from them) and back, and a copy with
    some changed (validated again). A config class inherits it."""

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default, as a saved config from before the field existed would mean."""
        return {item.name: item.default for item in dataclasses.fields(cls) if item.init}

    def to_dict(self) -> dict[str, Any]:
        """The fields a user sets, as JSON-ready values."""
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)
                if item.init}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Any:
        """The config saved as ``text`` (read as data: :func:`upo_theory.parse_json`)."""
        return cls(**parse_json(text))

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)

    @classmethod
    def saved_type_problem(cls, settings: dict[str, Any]) -> str | None:
        """What in saved ``settings`` has a value of the wrong JSON type for its field (``"beta":
        "0.1"``, ``"seed": true``), or None: such a file is damaged, not a run's settings.

        A key that is no field (from another version) and a nested config are not checked.
        """
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            if not item.init or item.name not in settings:
                continue
            kind, optional, many = _unwrap(hints[item.name])
            value = settings[item.name]
            if kind not in _JSON_KINDS or (value is None and optional):
                continue
            if not (all(_is_json_kind(v, kind) for v in value) if many and isinstance(value, list)
                    else not many and _is_json_kind(value, kind)):
                return (f"{item.name} holds {json.dumps(value)[:40]}, not "
                        f"{'a list of ' if many else ''}{_JSON_KINDS[kind]}"
                        f"{' or null' if optional else ''}")
        return None


_JSON_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
"""The field types a saved config checks, and how its message names them."""


def _is_json_kind(value: Any, kind: type) -> bool:
    """Whether a JSON ``value`` is one of ``kind`` (an integer is a number; ``true`` neither)."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    return isinstance(value, (int, float) if kind is float else kind)


def option(default: Any, help: str, **metadata: Any) -> Any:
    """A config field with its help text and any of the metadata above (``choices``,
    ``shortcuts``, ``positional``, ...) or a command's own marks: the one way every config of the
    project (``sim``, ``llm``, ``docs``) writes a field. A list, dict or set default is given
    through a factory, so no two configs share it."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={"help": help, **metadata})
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def _unwrap(hint: Any) -> tuple[Any, bool, bool]:
    """(scalar type, optional?, tuple of many?) of a field's type hint."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        hint, optional = members[0], True
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], optional, True
    return hint, optional, False


def _scalar(kind: type, optional: bool) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if optional and text.strip().lower() == "none":
            return None
        return kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _nested(cls: type) -> dict[str, type]:
    """The fields of ``cls`` whose type is a config dataclass, with that type."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)
            if f.init and dataclasses.is_dataclass(hints[f.name])}


def _default(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return None


def _add_fields(parser: argparse.ArgumentParser, cls: type, *, shown_defaults: dict[str, Any],
                exclude: Sequence[str] = (), suppress: bool = False) -> None:
    """One option per field of ``cls``; with ``suppress``, only given options reach the result."""
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        if not item.init or item.name in exclude:
            continue
        hint = hints[item.name]
        if dataclasses.is_dataclass(hint):
            meta = item.metadata
            defaults = {**{f.name: _default(f) for f in dataclasses.fields(hint)},
                        **meta.get("defaults", {})}
            _add_fields(parser, hint, shown_defaults=defaults, exclude=meta.get("exclude", ()),
                        suppress=True)
            continue
        kind, optional, many = _unwrap(hint)
        default = shown_defaults.get(item.name, _default(item))
        shown = "" if default is None or default == () else f" (default: {_show(default)})"
        options: dict[str, Any] = {"help": item.metadata["help"] + shown}
        options["default"] = argparse.SUPPRESS if suppress else default
        if "choices" in item.metadata:
            options["choices"] = item.metadata["choices"]
        if kind is bool:
            parser.add_argument("--" + item.name.replace("_", "-"),
                                action=argparse.BooleanOptionalAction, **options)
            continue
        options["type"] = _scalar(kind, optional)
        positional = item.metadata.get("positional", False)
        if many:
            options["nargs"] = "*" if positional and default == () else "+"
        for flag, value in item.metadata.get("shortcuts", {}).items():
            parser.add_argument(flag, dest=item.name, action="store_const", const=value,
                                default=argparse.SUPPRESS, help=f"same as --{item.name} {value}")
        if positional:
            parser.add_argument(item.name, metavar=item.name.upper(), **options)
        else:
            if "choices" not in options:
                options["metavar"] = kind.__name__.upper()
            parser.add_argument("--" + item.name.replace("_", "-"), dest=item.name, **options)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are one line, ``<prog>: error: <message>; see --help``.

    argparse prints the whole usage (29 lines for ``llm.train``) before a type error; the
    message already names the option and the value, and ``--help`` shows the rest.
    """

    def error(self, message: str) -> typing.NoReturn:
        _one_line(f"{self.prog}: error: {message}; see {self.prog} --help")
        self.exit(2)


def plain(text: str) -> str:
    """``text`` (a docstring's line) as a terminal prints it: reST's inline literals and roles
    (````python -m sim.bandit````, ``:func:`derive```) become their bare text."""
    text = re.sub(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``", r"\1", text)


def config_parser(cls: type, *, prog: str, description: str,
                  epilog: str | None = None) -> argparse.ArgumentParser:
    """An ``argparse`` parser with one option per field of the config dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A dataclass whose fields carry ``metadata["help"]`` (written with :func:`option`).
    prog : str
        The command as users type it, e.g. ``"python -m sim.bandit"``.
    description, epilog : str
        Text printed before and after the options; reST markup in them is printed plain.

    Returns
    -------
    argparse.ArgumentParser
        A parser whose mistakes are one line on stderr and exit status 2.
    """
    parser = OneLineParser(prog=prog, description=plain(description),
                           epilog=plain(epilog) if epilog else None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_fields(parser, cls, shown_defaults={})
    return parser


def _join_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``--f -log(u)`` → ``--f=-log(u)``: a value that starts with '-' but is no option.

    argparse reads any token starting with '-' as an option, so a generator such as ``-log(u)``
    would otherwise be refused unless written ``--f=-log(u)``.
    """
    takes_value = {s for a in parser._actions if a.option_strings and a.nargs is None
                   for s in a.option_strings}
    known = set(parser._option_string_actions)
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if (token in takes_value and following is not None and following.startswith("-")
                and following.split("=")[0] not in known):
            out.append(f"{token}={following}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def parse_config(cls: type[C], argv: Sequence[str] | None,
                 parser: argparse.ArgumentParser, own: Sequence[str] | None = None) -> C:
    """Parse a command line with ``parser`` (from :func:`config_parser`) into a validated ``cls``.

    A :class:`UserError` raised while validating exits 2 with one line, as argparse's own errors,
    as does a field set by two of its flags at once (``--fast --no-plots``). ``own``: the part of
    ``argv`` the user wrote, whose options ``check_given`` counts as given (default: all of it;
    ``llm.experiment`` puts its protocol's options before the user's).
    """
    args = _join_dash_values(parser, sys.argv[1:] if argv is None else argv)
    given = vars(parser.parse_args(args))
    mine = args if own is None else _join_dash_values(parser, own)
    try:
        _check_one_flag(parser, mine)
        config = _build_config(cls, given)
        check_given = getattr(config, "check_given", None)
        if check_given is not None:
            check_given(_explicit(parser, mine))
        return config
    except UserError as error:
        _one_line(f"{parser.prog}: error: {error}")
        parser.exit(2)


_UNSET = object()


def _check_one_flag(parser: argparse.ArgumentParser, args: Sequence[str]) -> None:
    """Refuse a field set by two different flags of its own (a shortcut beside its option, or
    two shortcuts): argparse would keep the last one silently."""
    flags: dict[str, list[str]] = {}
    for token in args:
        action = parser._option_string_actions.get(token.split("=", 1)[0])
        if action is not None and token.startswith("--"):
            used = flags.setdefault(action.dest, [])
            if token.split("=", 1)[0] not in used:
                used.append(token.split("=", 1)[0])
    for dest, used in flags.items():
        if len(used) > 1:
            raise UserError(f"{' and '.join(used)} both set --{dest.replace('_', '-')}; give "
                            "one of them")


def _explicit(parser: argparse.ArgumentParser, args: Sequence[str]) -> set[str]:
    """The fields the command line sets itself (not left to their defaults): argparse fills in
    a default only where the namespace lacks the attribute, so a namespace of placeholders
    keeps what was not given."""
    placeholders = argparse.Namespace(**{a.dest: _UNSET for a in parser._actions})
    return {name for name, value in vars(parser.parse_args(args, placeholders)).items()
            if value is not _UNSET}


def _build_config(cls: type[C], values: dict[str, Any]) -> C:
    """``cls`` from a flat dict of option values (nested configs gathered from their fields)."""
    nested = _nested(cls)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    kwargs: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        if item.name in nested:
            inner = nested[item.name]
            names = {f.name for f in dataclasses.fields(inner)}
            chosen = {k: v for k, v in values.items() if k in names}
            kwargs[item.name] = inner(**{**item.metadata.get("defaults", {}), **chosen})
        elif item.name in values:
            kwargs[item.name] = values[item.name]
    return cls(**kwargs)


def run_cli(prog: str, work: Callable[[], int | None],
            errors: tuple[type[BaseException], ...] = (), then: str = "") -> int:
    """Run ``work``; a :class:`UserError` (or one of ``errors``) becomes one line and exit 2, as
    does a write refused for want of room (a full disk, a quota: :func:`no_room`); Ctrl-C is one
    line (naming what to do ``then``, if anything) and exit 130, as a shell reports SIGINT, and
    SIGTERM the same line and exit 143 (:func:`~upo_theory.interrupts.terminating_as_interrupt`). A
    command started with its standard output closed (``>&-``) is refused before any work, as
    what it prints would be lost."""
    if sys.stdout is None:
        _one_line(f"{prog}: error: standard output is closed, so what this prints would be lost; "
                  "send it to a file, a pipe or /dev/null")
        return 2
    try:
        with terminating_as_interrupt():
            return work() or 0
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        _one_line(f"{prog}: stopped by {'SIGTERM' if terminated else 'Ctrl-C'}"
                  + (f"; {then}" if then else ""))
        return 143 if terminated else 130
    except (UserError, *errors) as error:
        text = " ".join(str(error).split("\n")) or type(error).__name__
        _one_line(f"{prog}: error: {text}")
        return 2
    except OSError as error:
        if not no_room(error):
            raise
        where = f" {error.filename}" if error.filename else ""
        _one_line(f"{prog}: error: no room to write{where} ({error.strerror}); free disk space, "
                  "then run again" + (f" ({then})" if then else ""))
        return 2


def check_figure_path(path: str | os.PathLike, option: str) -> None:
    """:func:`check_writable`, and a file name whose suffix is a format matplotlib writes (no
    suffix: PNG), checked before any work rather than after it, when the figure is saved."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise UserError(f"{option} {path}: .{suffix} is no figure format; end the name with one "
                        f"of {', '.join('.' + name for name in sorted(formats))}")
    check_writable(path, option)


def check_writable(path: str | os.PathLike, option: str, *, folder: bool = False) -> None:
    """Raise :class:`UserError` unless ``path`` can be written: a folder, or a file's name.

    Nothing is created: the nearest existing folder on the way to ``path`` must be a folder in
    which a temporary file can be made (a real write, so it also holds for root, read-only
    mounts and full disks), and a file's name must not be an existing folder.
    """
    path = Path(path)
    if not folder and path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name")
    existing = path if folder else path.parent
    try:
        while not existing.exists():
            existing = existing.parent
    except OSError as error:
        raise UserError(f"{option} {path}: cannot look into {existing} ({error.strerror}); give "
                        "a writable location") from None
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, not a folder; give a location "
                        "in a writable folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-check-"):
            pass
    except OSError as error:
        raise UserError(f"{option} {path}: cannot write in {existing} ({error.strerror}); give a "
                        "writable location") from None


def _one_line(text: str) -> None:
    """Write the line in one write (processes of one ``torchrun`` share stderr, and print's two
    writes could interleave); under ``torchrun`` only the first process writes it, as every
    process refuses the same command for the same reason, and each still exits with its code.
    On a terminal the line first clears the one the cursor is on, where a progress bar (an
    experiment's worker's, stopped mid-line) or the terminal's ``^C`` would otherwise lead it."""
    if os.environ.get("RANK", "0") != "0" or sys.stderr is None:
        return
    sys.stderr.write(("\r\033[K" if sys.stderr.isatty() else "") + text + "\n")
    sys.stderr.flush()


def no_room(error: OSError) -> bool:
    """Whether ``error`` is a write refused for want of room: a full disk, a quota, a file-size
    limit."""
    return error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

