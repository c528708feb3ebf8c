"""Ctrl-C while a command is still starting is one line, as it is once the command runs.

:func:`upo_theory.cli.run_cli` turns a Ctrl-C during a command into one line, but a command
first imports SymPy, NumPy and torch (seconds), before any of its code can catch anything. Each
package of the project (``upo_theory``, ``sim``, ``llm``, ``docs``) imports ``upo_theory`` first,
whose first act is to import this module, which calls :func:`quiet_interrupts`: under
``python -m`` only (``sys.argv[0]`` is ``"-m"`` while Python finds the module; an importing
program is never affected), an uncaught ``KeyboardInterrupt`` prints one line instead of a
traceback. The exit is still the interrupt's
(status 130 in a shell); under ``torchrun`` only rank 0 prints.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType


def quiet_interrupts() -> None:
    """Under ``python -m``, an uncaught Ctrl-C prints ``<command>: stopped by Ctrl-C``."""
    if sys.argv[:1] != ["-m"] or getattr(sys.excepthook, "quiet_interrupts", False):
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException,
             trace: TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            previous(kind, value, trace)
        elif os.environ.get("RANK", "0") == "0":
            print(f"{command()}: stopped by Ctrl-C", file=sys.stderr)

    hook.quiet_interrupts = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def command() -> str:
    """``python -m <module>`` as the process was started (``sys.orig_argv``)."""
    argv = list(getattr(sys, "orig_argv", []))
    return f"python -m {argv[argv.index('-m') + 1]}" if "-m" in argv[:-1] else "python"


quiet_interrupts()
