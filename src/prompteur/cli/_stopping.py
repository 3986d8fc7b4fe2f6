"""SIGTERM stops a run the way Ctrl-C does: a CI job cancelled, ``timeout``, ``docker
stop`` or a service manager ask politely first, and the run then writes what finished,
closes its reports, and says how to resume, instead of dying with a batch in memory.

Both are caught by handlers of the signal module, not only by the event loop's: those run
on the main thread at once, even while it runs a python check or a template that loops,
which they end (the loop would see the signal only once that code returned). A second
signal ends the process at once, whatever still runs: a run killed at any moment resumes
all the same."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

from ..core._interrupts import StopSignal
from ..core._time_limit import interrupt_limited

__all__ = ["StoppedByTerm", "stop_on_sigterm"]

T = TypeVar("T")

#: The exit code of a run stopped by a signal.
EXIT_STOPPED = 130


class StoppedByTerm(Exception):
    """The run was stopped by SIGTERM (and closed, as after Ctrl-C)."""


def _exit_now(run_id: str | None) -> None:
    """End the process at once (a second signal): no thread is waited for, nothing is
    flushed; the store keeps what it committed, as after kill -9."""
    hint = f"; resume with: prompteur eval --resume {run_id}" if run_id else ""
    # os.write: the signal may have come in the middle of a print
    os.write(2, f"\nstopped at once{hint}\n".encode())
    os._exit(EXIT_STOPPED)


async def stop_on_sigterm(
    work: Coroutine[Any, Any, T], run_id: Callable[[], str | None] = lambda: None
) -> T:
    """Await ``work``; on SIGTERM or Ctrl-C it is cancelled (the runner's sinks still
    receive the finish event), a python check or template running then is ended, and
    StoppedByTerm (or KeyboardInterrupt) is raised. A second signal ends the process at
    once, printing the resume command for ``run_id()``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    asked: int | None = None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal asked
        if asked is not None:
            _exit_now(run_id())
        asked = signum
        if task is not None:
            task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wakes the loop if it waits on a select
        interrupt_limited(StopSignal())  # raises here if a check is running

    try:
        # the loop's own handler only wakes it (the wakeup fd, whichever thread the signal
        # lands on); the work is done by on_signal, on the main thread, at once
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        return await work
    previous_sigint = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return await work
    except asyncio.CancelledError:
        if asked == signal.SIGTERM:
            raise StoppedByTerm("stopped by SIGTERM") from None
        if asked == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous_sigint)
        loop.remove_signal_handler(signal.SIGTERM)  # the default action again
