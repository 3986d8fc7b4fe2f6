"""Telling the run being stopped from user code that raises what stopping raises.

Checks and python providers are trusted code run in-process: whatever they raise
(``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``, ``CancelledError``...) is their
cell's error, not the end of the run. Only a real Ctrl-C, or the run's task being cancelled,
stops the run. ``asyncio.run`` turns the first Ctrl-C into a cancellation and raises
KeyboardInterrupt in whatever code runs at the second; a run watches SIGINT to know that a
KeyboardInterrupt came from the keyboard."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any

__all__ = ["StopSignal", "describe_exception", "stops_the_run", "watching_interrupts"]


class StopSignal(asyncio.CancelledError):
    """Raised in the check or template that runs when a stop signal (SIGTERM, Ctrl-C)
    arrives: the run is being stopped, whatever task that code runs in."""


class _SigintWatch:
    """Counts the SIGINTs a run receives, handing each on to the handler it replaced."""

    def __init__(self, previous: Callable[[int, FrameType | None], Any] | None) -> None:
        self.sigints = 0
        self.previous = previous

    def __call__(self, signum: int, frame: FrameType | None) -> Any:
        self.sigints += 1
        if self.previous is not None:
            return self.previous(signum, frame)
        return None


_watch: ContextVar[_SigintWatch | None] = ContextVar("prompteur_sigint_watch", default=None)


@contextmanager
def watching_interrupts() -> Iterator[None]:
    """Within it, SIGINTs are counted (the handler in place still runs); elsewhere than
    the main thread no signal arrives, so a KeyboardInterrupt there is always code's."""
    previous = signal.getsignal(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread()
    watch = _SigintWatch(previous if callable(previous) else None)
    installed = False
    if main and callable(previous):
        try:
            signal.signal(signal.SIGINT, watch)
            installed = True
        except ValueError:  # not the main interpreter
            pass
    token = _watch.set(watch)
    try:
        yield
    finally:
        _watch.reset(token)
        if installed and signal.getsignal(signal.SIGINT) is watch:
            signal.signal(signal.SIGINT, previous)


def stops_the_run(exc: BaseException) -> bool:
    """Whether ``exc``, raised while a check or a provider ran, is the run being stopped
    (a real Ctrl-C, the run's task cancelled) rather than that code's own doing. Outside a
    watched run a KeyboardInterrupt is taken as real."""
    if isinstance(exc, StopSignal):
        return True
    if isinstance(exc, asyncio.CancelledError):
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no event loop: nothing of ours cancelled it
            return True
        return task is None or task.cancelling() > 0
    if isinstance(exc, KeyboardInterrupt):
        watch = _watch.get()
        return watch is None or watch.sigints > 0
    return False


def describe_exception(exc: BaseException) -> str:
    """``Name: message``, or the name alone for an exception without a message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
