"""Time limits on user code that runs on the main thread: python checks and templates.

Python code cannot be stopped from another thread, so the limit is a timer signal
(SIGALRM): its handler runs on the main thread between two bytecodes of the code it
limits, and raises there. A loop in Python (``while True: pass``) ends at its limit; one
operation in C that holds the interpreter for long (``10**10**9``) ends only when that
operation does, which is why templates refuse such operations beforehand.

While limited code runs, a stop signal (SIGTERM, Ctrl-C) ends it at once through
:func:`interrupt_limited`. Elsewhere than on the main thread of a platform with
``setitimer`` (Windows), or when something else handles SIGALRM, code runs without a limit.
"""

from __future__ import annotations

import atexit
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

__all__ = ["TimeLimitExceeded", "call_with_time_limit", "interrupt_limited"]

T = TypeVar("T")

#: After its limit, the timer fires again this often: code that swallows the first
#: exception (a bare ``except:``) still ends.
_REFIRE_SECONDS = 0.1

_HAS_TIMER = hasattr(signal, "setitimer")
_MAIN_THREAD = threading.main_thread().ident


class TimeLimitExceeded(BaseException):
    """User code ran past its time limit. Not an Exception: the code's own
    ``except Exception`` must not swallow it."""


class _Limit:
    __slots__ = ("deadline", "interrupt", "seconds", "what")

    def __init__(self, what: str, seconds: float, deadline: float) -> None:
        self.what = what
        self.seconds = seconds
        self.deadline = deadline
        self.interrupt: BaseException | None = None  # what a stop signal raises instead


_active: _Limit | None = None
#: When the timer fires (time.monotonic()); 0 when it is not armed. The timer is left armed
#: when limited code returns: arming it costs microseconds, and checks cost about one. Its
#: tick interrupts a system call (a check blocked on a socket ends at its limit too); one
#: that lands in other code costs it a call retried, as Python retries them.
_fires_at = 0.0


def _disarm() -> None:
    """At exit: a timer left armed would fire once Python has put SIGALRM back to its
    default, which ends the process (killed by SIGALRM) after all its work was done."""
    global _fires_at
    if _fires_at:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _fires_at = 0.0


atexit.register(_disarm)


def _arm(delay: float) -> bool:
    """Arm the timer to fire in ``delay`` seconds; False (and nothing done) when another
    handler of SIGALRM is installed: its owner's timer is left alone, limits are off."""
    global _fires_at
    handler = signal.getsignal(signal.SIGALRM)
    if handler is not _on_alarm:
        if handler not in (signal.SIG_DFL, signal.SIG_IGN, None):
            return False
        signal.signal(signal.SIGALRM, _on_alarm)
    _fires_at = time.monotonic() + delay
    signal.setitimer(signal.ITIMER_REAL, delay)
    return True


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    global _fires_at
    _fires_at = 0.0
    limit = _active
    if limit is None:  # armed for code that has returned since
        return
    now = time.monotonic()
    if limit.interrupt is None and now < limit.deadline:  # armed for earlier code
        _arm(limit.deadline - now)
        return
    _arm(_REFIRE_SECONDS)
    if limit.interrupt is not None:
        raise limit.interrupt
    raise TimeLimitExceeded(f"{limit.what} ran past its time limit of {limit.seconds:g} s")


def call_with_time_limit(seconds: float, what: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, ended by TimeLimitExceeded (``what ran past its time limit...``) if it
    runs longer than ``seconds``. Nested calls run under the outer limit."""
    global _active
    if _active is not None or not _HAS_TIMER or threading.get_ident() != _MAIN_THREAD:
        return fn(*args)
    now = time.monotonic()
    deadline = now + seconds
    # not armed, or armed past this deadline
    if not now < _fires_at <= deadline and not _arm(seconds):
        return fn(*args)
    _active = _Limit(what, seconds, deadline)
    try:
        return fn(*args)
    finally:
        _active = None


def interrupt_limited(exc: BaseException) -> None:
    """From a signal handler (on the main thread): raise ``exc`` now if limited code is
    running, the frame interrupted being that code's; then again on each timer tick, should
    the code swallow it. Does nothing otherwise."""
    limit = _active
    if limit is None:
        return
    limit.interrupt = exc
    _arm(_REFIRE_SECONDS)
    raise exc
