"""Hard limits on SymPy work: a time limit inside a computation, and a budget for a user's f.

SymPy has no notion of a budget: ``simplify``, ``limit`` or ``solve`` on an unlucky expression can
run for minutes and grow to gigabytes, and they catch ``Exception`` internally, so a limit must be
something they cannot swallow.

Every limit counts the CPU time the work spends, not the wall clock, so whether an expression is
within budget does not depend on what else the machine is doing (under load the same refusal
only takes longer to come).

* :func:`time_limited` interrupts a call after some CPU seconds with a ``BaseException`` raised
  from ``SIGPROF`` (main thread only); the caller then gets None and goes on without that result.
  The signal repeats every :data:`REFIRE_SECONDS` until the call ends, as a bare ``except:``
  (mpmath has several) can swallow one. Such limits nest: an inner limit never outlives an outer
  one.
* :func:`within_budget` runs a call in a forked child process whose address space is capped with
  ``RLIMIT_AS`` and whose CPU time is capped by the same timer (``RLIMIT_CPU`` behind it, for work
  that never returns to Python), with a generous wall-clock backstop in the parent
  (:data:`WALL_BACKSTOP`). Nothing the child does can hang the parent or exhaust the machine;
  its result (or its :class:`~upo_theory.UserError`) comes back pickled. A user's generator f
  is parsed and derived this way (:func:`upo_theory.get_divergence`), so an f that needs more
  than :data:`USER_F_SECONDS` or :data:`USER_F_BYTES` is refused with one line.

Where ``fork`` is unavailable (not Linux or macOS) the call runs in the process itself, with the
time limit only.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import UserError

R = TypeVar("R")

USER_F_SECONDS = 6.0
"""CPU seconds that parsing and deriving one user f may take (refused in under 10 s on an idle
machine)."""
USER_F_BYTES = 2 * 1024**3
"""Memory (address space beyond what the process already holds) that the work may add."""

REFIRE_SECONDS = 0.05
"""After its limit, the interrupt repeats this often (CPU seconds) until the call has ended."""

WALL_BACKSTOP = 10.0
"""The parent waits at most this many times the CPU budget (plus 10 s) of wall-clock time for a
child that is starved of CPU, then refuses as for time."""

_IN_CHILD = False


class BudgetExceeded(UserError):
    """The work ran past its time or memory budget, or SymPy failed on the expression."""


class TimeExceeded(BudgetExceeded):
    """The work ran past its time budget."""


class _OutOfTime(BaseException):
    """Not an Exception: SymPy catches those internally and would carry on past the limit."""


def time_limited(fn: Callable[[], R], seconds: float) -> R | None:
    """``fn()``, or None if it runs past ``seconds`` of CPU time (enforced in the main thread
    only).

    An enclosing limit keeps counting: the inner call gets at most the time the outer one has
    left, and the outer timer is re-armed with what remains when the inner call ends.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn()
    outer_left = signal.getitimer(signal.ITIMER_PROF)[0]
    start = time.process_time()

    def _raise(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGPROF, _raise)
    first = min(seconds, outer_left) if outer_left else seconds
    signal.setitimer(signal.ITIMER_PROF, first, REFIRE_SECONDS)
    try:
        return fn()
    except _OutOfTime:
        return None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if outer_left:
            left = outer_left - (time.process_time() - start)
            signal.setitimer(signal.ITIMER_PROF, max(left, 1e-3), REFIRE_SECONDS)


def within_budget(work: Callable[..., R], *args: Any, seconds: float | None = None,
                  memory: int | None = None, what: str = "this work", apart: bool = False) -> R:
    """``work(*args)`` in a child process limited to ``seconds`` of CPU time and ``memory`` more
    bytes (default :data:`USER_F_SECONDS` and :data:`USER_F_BYTES`); inside such a child the
    work runs in place, unless ``apart`` asks for a child of its own (one claim of a user's f,
    whose runaway cannot then use up the budget of the others).

    Raises
    ------
    UserError
        The child's own :class:`~upo_theory.UserError`, re-raised with its message.
    BudgetExceeded
        When the child runs out of time or memory, or SymPy raises on the expression; the message
        names ``what`` and the limit.
    """
    if (_IN_CHILD and not apart) or "fork" not in multiprocessing.get_all_start_methods():
        return work(*args)
    seconds = USER_F_SECONDS if seconds is None else seconds
    memory = USER_F_BYTES if memory is None else memory
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, work, args, seconds, memory),
                            daemon=_IN_CHILD)  # a daemon may not start a claim apart; the
    # parent kills the child below in any case, and RLIMIT_CPU bounds it if the parent dies
    child.start()
    send.close()
    try:
        kind, payload = (receive.recv() if receive.poll(WALL_BACKSTOP * seconds + 10)
                         else ("time", None))
    except (EOFError, OSError):  # the child died without a word: killed for CPU or memory
        kind, payload = "memory", None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if kind == "time" or (kind == "memory" and child.exitcode == -signal.SIGXCPU):
        raise TimeExceeded(f"{what} needs more than {seconds:g} s of SymPy work; "
                             "simplify the expression")
    if kind == "ok":
        return payload
    if kind == "user":
        raise payload
    if kind == "memory":
        raise BudgetExceeded(f"{what} needs more than {memory / 1024**3:g} GB of memory for "
                             "SymPy's work; simplify the expression")
    raise BudgetExceeded(f"SymPy failed on {what} ({payload}): a limit of SymPy here, not a "
                         "fault found in f; an equivalent expression without Max, Min or "
                         "piecewise parts may go through")


def _child(send: Any, work: Callable[..., Any], args: tuple[Any, ...], seconds: float,
           memory: int) -> None:
    global _IN_CHILD
    _IN_CHILD = True
    _limit_memory(memory)
    _limit_cpu(seconds)
    try:
        done = time_limited(lambda: ("ok", work(*args)), seconds)
        result: tuple[str, Any] = ("time", None) if done is None else done
    except UserError as error:
        result = ("user", error)
    except MemoryError:
        result = ("memory", None)
    except Exception as error:  # SymPy's own failures on an unlucky expression
        text = " ".join(str(error).split())[:160]
        result = ("sympy", f"{type(error).__name__}: {text}" if text else type(error).__name__)
    try:
        send.send(result)
    except Exception as error:  # an unpicklable result
        send.send(("sympy", f"result cannot be sent back: {type(error).__name__}"))
    send.close()


def _limit_memory(extra: int) -> None:
    """Cap the address space at what the process holds now plus ``extra`` bytes."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as status:
            held = next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith("VmSize:"))
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = held + extra if hard == resource.RLIM_INFINITY else min(held + extra, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, StopIteration, ValueError):
        pass  # no /proc (macOS): the time limit still holds


def _limit_cpu(seconds: float) -> None:
    """A CPU-time backstop in case the parent cannot kill the child."""
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        limit = math.ceil(seconds) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (limit if hard == resource.RLIM_INFINITY
                                                 else min(limit, hard), hard))
    except (ImportError, OSError, ValueError):
        pass


def available_memory() -> float:
    """Bytes of memory available now (Linux's MemAvailable; else all physical memory)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        return float("inf")
