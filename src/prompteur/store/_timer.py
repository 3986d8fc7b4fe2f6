"""The timer that bounds how long a buffered write may wait (cells, cache entries)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["FlushTimer"]


class FlushTimer:
    """Calls ``flush`` on the running event loop's thread ``seconds`` after ``arm`` (once,
    however often it is armed meanwhile). A flush that fails is tried again as long later:
    the buffer's owner flushes once more at the end and reports what lasts. With no loop
    running, ``arm`` does nothing: the owner then keeps the time."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._handle: asyncio.TimerHandle | None = None
        self._seconds = 0.0

    def arm(self, seconds: float) -> None:
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._seconds = seconds
        self._handle = loop.call_later(seconds, self._due)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _due(self) -> None:
        self._handle = None
        try:
            self._flush()
        except Exception:
            self.arm(self._seconds)
