"""Writing a run into the store as it happens, in batches, with a heartbeat."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core._results import CellResult
from ..core._sinks import RunFinished, RunStarted
from ._cache import StoreCache
from ._checkpoint import WalCheckpointer
from ._liveness import HEARTBEAT_SECONDS, Beat, writing_here
from ._planned import PlannedRun
from ._records import RunInfo
from ._rows import AssertionsJson, result_row
from ._store import Store
from ._timer import FlushTimer

__all__ = ["StoreSink", "git_commit"]


def git_commit(folder: Path) -> str | None:
    """The commit checked out where the suite lives, if it is in a git repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


@dataclass(frozen=True, slots=True)
class _Batch:
    rows: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    beat: Beat


class _BatchWriter:
    """A thread writing a run's batches in order, off the event loop. At most ``depth``
    batches wait; a writer that failed raises its error at the next batch or at close."""

    def __init__(self, write: Callable[[_Batch], None], run_id: str, depth: int = 4) -> None:
        self.write = write
        self.batches: queue.Queue[_Batch | None] = queue.Queue(maxsize=depth)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"store writer {run_id}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.batches.get()) is not None:
            try:
                if self.failure is None:  # a batch after a failed one is not written
                    self.write(batch)
            except BaseException as exc:
                self.failure = exc
            finally:
                self.batches.task_done()

    def drain(self) -> None:
        """Wait until every batch handed over so far is written (or failed)."""
        self.batches.join()
        self._raise()

    def put(self, batch: _Batch) -> None:
        self._raise()
        self.batches.put(batch)

    def close(self) -> None:
        self.batches.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.failure is not None:
            raise self.failure


class StoreSink:
    """A sink that records the run, then its results in batches: when ``batch_size`` are
    waiting, and at the latest ``flush_seconds`` after the first of them arrived (on the
    event loop's timer while it gets control, as in a run; otherwise at the next case's
    first result, as when cells graded without a pause keep the loop busy), so that a run
    killed at any moment loses at most about that second of finished cells, which a resume
    runs again.
    A batch never splits a case graded as a whole (its cells arrive together), so that a
    resume never grades part of one. Each batch also updates the run's counters and
    heartbeat, and carries the new entries of ``cache`` (a StoreCache of the same store)
    in the same transaction: a stored cell's answers are never left out of the cache. A
    thread keeps the heartbeat going every ``heartbeat_seconds`` while no batch comes
    (slow models), so that other processes can tell this run is alive.

    With ``resume=True`` the run exists already and is only reopened (refused while another
    live process writes it); with ``replace=True`` stored cells are overwritten (re-running
    errored cells)."""

    def __init__(
        self,
        store: Store,
        plan: PlannedRun,
        *,
        suite_name: str | None = None,
        suite_path: str | None = None,
        resume: bool = False,
        replace: bool = False,
        batch_size: int = 2000,
        flush_seconds: float = 1.0,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        options: Mapping[str, Any] | None = None,
        cache: StoreCache | None = None,
    ) -> None:
        if cache is not None and cache.store is not store:
            raise ValueError("a StoreSink writes the entries of a cache of its own store only")
        self.store = store
        self.plan = plan
        self.suite_name = suite_name
        self.suite_path = suite_path
        self.resume = resume
        self.replace = replace
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.options = dict(options or {})
        self.cache = cache
        self.run_id: str | None = None
        self.info: RunInfo | None = None
        self._rows: list[dict[str, Any]] = []
        self._encode = AssertionsJson()
        self._oldest = 0.0  # when the first waiting row arrived
        self._last_case: tuple[int, int] | None = None
        # on the loop's own thread, as every other write of the run: no lock needed
        self._timer = FlushTimer(self.flush)
        self._earlier_s = 0.0  # time the run took in earlier segments (resumed runs)
        self._clock = 0.0
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None
        self._checkpoints = WalCheckpointer(store.engine)
        self._writer: _BatchWriter | None = None

    def _duration(self) -> float:
        return self._earlier_s + time.perf_counter() - self._clock

    def on_start(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        if self.cache is not None:
            # entries due go with the cells waiting then, never ahead of them
            self.cache.carried_by(self.flush)
        self._clock = time.perf_counter()
        if self.resume:
            self._earlier_s = self.store.reopen_run(event.run_id)
        else:
            folder = self.plan.suite.base_dir if self.plan.suite is not None else Path.cwd()
            self.store.start_run(
                event.run_id,
                self.plan,
                suite_name=self.suite_name,
                suite_path=self.suite_path,
                options={**event.options, **self.options},
                git_commit=git_commit(folder),
                started_at=event.started_at,
            )
        writing_here.add(event.run_id)
        self._writer = _BatchWriter(self._write, event.run_id)
        self._stop.clear()
        self._beating = threading.Thread(
            target=self._beat, args=(event.run_id,), name=f"heartbeat {event.run_id}", daemon=True
        )
        self._beating.start()
        self._checkpoints.start()

    def _beat(self, run_id: str) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                if not self.store.heartbeat(run_id, Beat.now(self._duration())):
                    return  # the run was closed (or deleted) by someone else
            except Exception:  # a missed beat only makes the run look stale
                continue

    def on_result(self, result: CellResult) -> None:
        assert self.run_id is not None
        case = (result.test_index, result.repeat)
        if case != self._last_case and (
            len(self._rows) >= self.batch_size
            # waiting too long: the timer cannot fire while cells are graded back to back
            or (self._rows and time.monotonic() - self._oldest >= self.flush_seconds)
        ):
            self.flush()
        if not self._rows:
            self._oldest = time.monotonic()
            self._timer.arm(self.flush_seconds)
        key = self.plan.tests[result.test_index].key
        self._rows.append(result_row(self.run_id, result, key, self._encode))
        self._last_case = case

    def flush(self) -> None:
        """Hand the waiting cells (and the cache's new entries) to the writer thread: the
        event loop never waits on the database, unless the writer is that far behind."""
        self._timer.cancel()
        entries = self.cache.unwritten() if self.cache is not None else []
        if self._rows or entries:
            batch = _Batch(self._rows, entries, Beat.now(self._duration()))
            self._rows = []
            if self.cache is not None:
                self.cache.handed_off()
            if self._writer is not None:
                self._writer.put(batch)
            else:
                self._write(batch)

    def drain(self) -> None:
        """Wait until what was handed to the writer is in the store (tests, tools)."""
        if self._writer is not None:
            self._writer.drain()

    def _write(self, batch: _Batch) -> None:
        self.store.write_results(
            batch.rows, replace=self.replace, beat=batch.beat, cache_entries=batch.entries
        )
        if self.cache is not None:
            self.cache.committed(batch.entries)
        self._checkpoints.written()

    def on_finish(self, event: RunFinished) -> None:
        self._stop.set()
        if self._beating is not None:
            self._beating.join()
            self._beating = None
        # the last batches need no checkpoint of ours: SQLite makes its own, and waiting
        # for one would only lengthen the run's end
        self._checkpoints.stop()
        try:
            try:
                self.flush()
            finally:
                if self._writer is not None:
                    writer, self._writer = self._writer, None
                    writer.close()  # every batch written, or the writer's failure raised
            self.store.finish_run(
                event.run_id,
                interrupted=event.summary.interrupted,
                duration_s=self._earlier_s + event.summary.duration_s,
            )
        finally:
            self._checkpoints.stop()
            writing_here.discard(event.run_id)
            if self.cache is not None:
                self.cache.carried_by(None)
        self.info = self.store.run(event.run_id)
