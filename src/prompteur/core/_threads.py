"""Blocking user code (a synchronous python provider) run off the event loop on daemon
threads. asyncio's default executor will not do: its threads are joined when the loop
closes and again when the interpreter exits, so one call that never returns would keep
prompteur from ever ending, though its cell has long been recorded as timed out."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["run_on_daemon_thread"]

T = TypeVar("T")

_Job = tuple[
    contextvars.Context, Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, Any
]


class _DaemonThreads:
    """Threads that never keep the process alive: one is started when none is idle, and
    an idle one takes the next call. A thread stuck in a call is simply never idle again."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job that no queued job has claimed

    def submit(self, job: _Job) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        if start:
            threading.Thread(target=self._work, name=self.name, daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            context, fn, args, loop, future = self._jobs.get()
            try:
                outcome: tuple[Any, BaseException | None] = (context.run(fn, *args), None)
            except BaseException as exc:  # handed to the awaiting task, as an executor does
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, *outcome)
            del context, fn, args, loop, future, outcome
            with self._lock:
                self._idle += 1


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled (the call timed out, or the run was stopped)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_threads = _DaemonThreads("prompteur user code")


async def run_on_daemon_thread(fn: Callable[..., T], /, *args: Any) -> T:
    """``fn(*args)`` on a daemon thread, with the caller's context variables (as
    ``asyncio.to_thread``); cancelling the await abandons the call, whose thread then
    finishes it, or never does, without holding anything up."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _threads.submit((contextvars.copy_context(), fn, args, loop, future))
    return await future
