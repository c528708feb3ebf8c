"""What a worker process of the experiment does first: end with the experiment.

A module of its own, importing nothing heavy, so that a worker runs it (as its pool's
``initializer``) before it imports torch for its first run.
"""

from __future__ import annotations

import os
import signal


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
