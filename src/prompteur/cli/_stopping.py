"""SIGTERM stops a run the way Ctrl-C does: a CI job cancelled, ``timeout``, ``docker
stop`` or a service manager ask politely first, and the run then writes what finished,
closes its reports, and says how to resume, instead of dying with a batch in memory."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["StoppedByTerm", "stop_on_sigterm"]

T = TypeVar("T")


class StoppedByTerm(Exception):
    """The run was stopped by SIGTERM (and closed, as after Ctrl-C)."""


async def stop_on_sigterm(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``; on SIGTERM it is cancelled, as ``asyncio.run`` cancels its task on
    Ctrl-C (the runner's sinks still receive the finish event), then StoppedByTerm is
    raised. A second SIGTERM ends the process at once: a run killed at any moment is
    resumed all the same."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    asked = False

    def stop() -> None:
        nonlocal asked
        asked = True
        loop.remove_signal_handler(signal.SIGTERM)  # the default action again
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        return await work
    try:
        return await work
    except asyncio.CancelledError:
        if asked:
            raise StoppedByTerm("stopped by SIGTERM") from None
        raise
    finally:
        if not asked:
            loop.remove_signal_handler(signal.SIGTERM)
