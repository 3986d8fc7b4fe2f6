"""Telling a run that is still being written from one whose process died.

The process writing a run records a heartbeat (the time, its pid and its host) with every
batch of results and every ``HEARTBEAT_SECONDS`` in between. A run recorded as running is
live while its heartbeat is fresh and, on this host, while its process exists; otherwise it
was interrupted (killed, or its machine stopped) and can be resumed.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

__all__ = [
    "HEARTBEAT_SECONDS",
    "STALE_AFTER_S",
    "Beat",
    "is_live",
    "this_host",
    "writing_here",
]

HEARTBEAT_SECONDS = 5.0
STALE_AFTER_S = 30.0  # six missed heartbeats: the writer is gone, or hung

# Runs whose sink is open in this process: the pid alone cannot tell them from runs an
# earlier evaluation in this same process left unfinished.
writing_here: set[str] = set()


def this_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class Beat:
    """A sign of life of the process writing a run, and how long the run has taken."""

    at: float
    pid: int
    host: str
    duration_s: float

    @classmethod
    def now(cls, duration_s: float) -> Beat:
        return cls(time.time(), os.getpid(), this_host(), duration_s)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def is_live(
    run_id: str,
    heartbeat_at: float | None,
    pid: int | None,
    host: str | None,
    *,
    now: float | None = None,
) -> bool:
    """Whether a run recorded as running is still being written by a live process."""
    if heartbeat_at is None:  # written by a prompteur without heartbeats: cannot tell
        return False
    if (now if now is not None else time.time()) - heartbeat_at > STALE_AFTER_S:
        return False
    if pid is None or host != this_host():
        return True
    if pid == os.getpid():
        return run_id in writing_here
    return _process_exists(pid)
