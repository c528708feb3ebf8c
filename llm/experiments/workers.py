"""The experiment's worker processes: they end with the experiment and leave Ctrl-C to it.

A module of its own, importing nothing heavy, so that a worker runs :func:`start_worker` (as
its pool's ``initializer``) before it imports torch for its first run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator


def start_worker(parent: int) -> None:
    """A worker's first act: :func:`die_with_parent`, and progress bars that share a thread
    lock, not tqdm's default: that is a process-shared semaphore, which a worker stopped by
    SIGTERM never releases, so the experiment ended with a warning of "leaked semaphore
    objects" from multiprocessing's resource tracker (a worker's bars have no other process to
    share a lock with)."""
    die_with_parent(parent)
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def die_with_parent(parent: int) -> None:
    """Stop this worker (SIGTERM; its run resumes from its last checkpoint) when the
    experiment's process ``parent`` ends, however it ends, so a stopped experiment leaves no run
    training on (Linux's PR_SET_PDEATHSIG; elsewhere a worker finishes its run). A parent that
    ended before the signal was set is caught by the check after it."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


@contextlib.contextmanager
def ignoring_interrupts() -> Iterator[None]:
    """SIGINT ignored in this process while workers are started inside: a spawned worker keeps
    the disposition for its whole life, so Ctrl-C (which a terminal sends to every process of
    the group) reaches only the experiment, which answers it in one line and stops the workers
    (:func:`stop_workers`) instead of each printing a traceback. A Ctrl-C in these few
    milliseconds is dropped."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)



def stop_workers() -> None:
    """SIGTERM to every worker this process started: each run resumes from its checkpoint."""
    for child in multiprocessing.active_children():
        child.terminate()
