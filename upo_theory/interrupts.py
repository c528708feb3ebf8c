"""Ctrl-C while a command is still starting is one line, as it is once the command runs.

:func:`upo_theory.cli.run_cli` turns a Ctrl-C during a command into one line, but a command
first imports SymPy, NumPy and torch (seconds), before any of its code can catch anything. Each
package of the project (``upo_theory``, ``sim``, ``llm``, ``docs``) imports ``upo_theory`` first,
whose first act is to import this module, which calls :func:`quiet_interrupts`: under
``python -m`` only (``sys.argv[0]`` is ``"-m"`` while Python finds the module; an importing
program is never affected), an uncaught ``KeyboardInterrupt`` prints one line instead of a
traceback. The exit is still the interrupt's
(status 130 in a shell); under ``torchrun`` only rank 0 prints.

SIGTERM, which a scheduler (Slurm, Kubernetes) or ``kill`` sends to stop a job, is taken the
same way once a command runs (:func:`terminating_as_interrupt`, which
:func:`upo_theory.cli.run_cli` wraps the work in): it raises :class:`Terminated`, a
``KeyboardInterrupt``, so whatever stops cleanly on Ctrl-C (an experiment stopping its workers)
stops so on SIGTERM, in one line and exit 143 (128 + 15, as a shell reports the signal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises ``KeyboardInterrupt``
    (:func:`terminating_as_interrupt`)."""


@contextlib.contextmanager
def terminating_as_interrupt() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Terminated` in the main thread. Left as it is (the
    process dies of the signal) off the main thread, where another handler is set, and under
    ``torchrun``, whose agent stops a rank with SIGTERM and must not wait on one blocked in a
    collective. A process forked inside (a SymPy claim run apart) dies of the signal as before."""
    if (threading.current_thread() is not threading.main_thread() or "RANK" in os.environ
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    owner = os.getpid()

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


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
