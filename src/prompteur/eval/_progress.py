"""Progress of a run: a rich bar with ETA and live counts on a terminal, plain periodic
lines otherwise (CI logs). Both are sinks."""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING

from ..core._results import CellResult
from ..core._sinks import RunFinished, RunStarted

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["BarProgress", "LineProgress"]


class _Counts:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.passed = 0
        self.failed = 0
        self.errors = 0

    def add(self, result: CellResult) -> None:
        self.done += 1
        status = result.status
        if status == "pass":
            self.passed += 1
        elif status == "fail":
            self.failed += 1
        else:
            self.errors += 1

    def text(self) -> str:
        return f"{self.passed} pass · {self.failed} fail · {self.errors} error"


class BarProgress:
    """A rich progress bar on the console's stream (stderr for the CLI)."""

    def __init__(self, console: Console, name: str = "eval") -> None:
        self.console = console
        self.name = name  # the command running (bias, robustness run the same cells)
        self.counts = _Counts()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last = 0.0

    def on_start(self, event: RunStarted) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.counts.total = event.total_cells
        self._progress = Progress(
            TextColumn(f"[bold]{self.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[passed]} pass[/] · [red]{task.fields[failed]} fail[/]"
                " · [yellow]{task.fields[errors]} error[/]"
            ),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.name, total=event.total_cells, passed=0, failed=0, errors=0
        )

    def on_result(self, result: CellResult) -> None:
        self.counts.add(result)
        now = time.monotonic()
        if (
            self._progress is not None
            and self._task is not None
            and (now - self._last > 0.1 or self.counts.done == self.counts.total)
        ):
            self._last = now
            c = self.counts
            self._progress.update(
                self._task, completed=c.done, passed=c.passed, failed=c.failed, errors=c.errors
            )

    def on_finish(self, event: RunFinished) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class LineProgress:
    """A line every ``every`` seconds and at the end: for logs, where a bar would be noise."""

    def __init__(self, stream: IO[str], every: float = 5.0, name: str = "eval") -> None:
        self.stream = stream
        self.name = name
        self.every = every
        self.counts = _Counts()
        self._started = 0.0
        self._last = 0.0

    def on_start(self, event: RunStarted) -> None:
        self.counts.total = event.total_cells
        self._started = self._last = time.monotonic()
        self.stream.write(f"{self.name}: {event.total_cells} cells to run\n")
        self.stream.flush()

    def on_result(self, result: CellResult) -> None:
        self.counts.add(result)
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._line(now)

    def _line(self, now: float) -> None:
        c = self.counts
        elapsed = now - self._started
        percent = 100 * c.done / c.total if c.total else 100.0
        eta = ""
        if 0 < c.done < c.total:
            remaining = elapsed / c.done * (c.total - c.done)
            eta = f" · eta {_clock(remaining)}"
        self.stream.write(
            f"{self.name}: {c.done}/{c.total} ({percent:.0f}%) · {c.text()}"
            f" · {_clock(elapsed)} elapsed{eta}\n"
        )
        self.stream.flush()

    def on_finish(self, event: RunFinished) -> None:
        self._line(time.monotonic())


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
