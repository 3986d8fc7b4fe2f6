"""What a viewer keeps between requests for a run's grid: the ordered row positions under
each filter, the rows of finished runs, and each run's human verdicts. Every entry is
kept with the run's version (its counters, status and ratings) and used only while the
run is still at that version: a rating, a re-run or a deletion makes it stale."""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from ._grid_records import GridFilter, GridRow

__all__ = ["GridCache", "RunVersion"]

# (status, done, passed, failed, errors, finished_at, ratings, last rating id)
RunVersion = tuple[Any, ...]

POSITION_LISTS = 64  # filters × runs whose ordered positions are kept
CACHED_ROWS = 50_000  # rows of finished runs, over all runs (~1 KB each with two cells)


class GridCache:
    """Thread-safe: a server's routes read grids from several threads at once."""

    def __init__(self, rows: int = CACHED_ROWS, position_lists: int = POSITION_LISTS) -> None:
        self._lock = threading.Lock()
        self._positions: OrderedDict[tuple[str, GridFilter], tuple[RunVersion, array[int]]]
        self._positions = OrderedDict()
        # run id -> (the version its cells were read at, its rows by position)
        self._rows: OrderedDict[str, tuple[RunVersion, dict[int, GridRow]]] = OrderedDict()
        self._verdicts: dict[str, tuple[RunVersion, dict[str, bool]]] = {}
        # the lists being found now, each with what its finder sets once it is kept
        self._finding: dict[tuple[str, GridFilter, RunVersion], threading.Event] = {}
        self._row_budget = rows
        self._position_lists = position_lists
        self._kept_rows = 0

    def kept_positions(
        self, run_id: str, grid: GridFilter, version: RunVersion
    ) -> array[int] | None:
        """The run's row positions that match ``grid``, if they were kept at ``version``."""
        key = (run_id, grid)
        with self._lock:
            found = self._positions.get(key)
            if found is not None and found[0] == version:
                self._positions.move_to_end(key)
                return found[1]
        return None

    def positions(
        self,
        run_id: str,
        grid: GridFilter,
        version: RunVersion,
        compute: Callable[[], Iterable[int]],
    ) -> array[int]:
        """The run's row positions that match ``grid``, in its order. Asked for by several
        requests at once (a search's page and its count), they are found once: the others
        wait for them."""
        finding = (run_id, grid, version)
        while True:
            found = self.kept_positions(run_id, grid, version)
            if found is not None:
                return found
            with self._lock:
                busy = self._finding.get(finding)
                if busy is None:
                    mine = self._finding[finding] = threading.Event()
                    break
            busy.wait()  # then look again: its finder may have failed
        try:
            positions = array("q", compute())
            with self._lock:
                key = (run_id, grid)
                self._positions[key] = (version, positions)
                self._positions.move_to_end(key)
                while len(self._positions) > self._position_lists:
                    self._positions.popitem(last=False)
        finally:
            with self._lock:
                del self._finding[finding]
            mine.set()
        return positions

    def verdicts(
        self, run_id: str, version: RunVersion, compute: Callable[[], dict[str, bool]]
    ) -> dict[str, bool]:
        """The latest human verdict of each rated cell of the run."""
        with self._lock:
            found = self._verdicts.get(run_id)
            if found is not None and found[0] == version:
                return found[1]
        verdicts = compute()
        with self._lock:
            if len(self._verdicts) > 1000:
                self._verdicts.clear()
            self._verdicts[run_id] = (version, verdicts)
        return verdicts

    def rows(
        self, run_id: str, version: RunVersion, positions: Iterable[int]
    ) -> dict[int, GridRow]:
        """The rows among ``positions`` kept for the run at ``version``."""
        with self._lock:
            found = self._rows.get(run_id)
            if found is None:
                return {}
            if found[0] != version:
                self._drop(run_id)
                return {}
            self._rows.move_to_end(run_id)
            kept = found[1]
            return {p: kept[p] for p in positions if p in kept}

    def keep_rows(self, run_id: str, version: RunVersion, rows: Iterable[GridRow]) -> None:
        """Keep rows of a run read at ``version`` (rows of finished runs only: a running
        run's rows grow as its cells arrive)."""
        rows = list(rows)
        with self._lock:
            found = self._rows.get(run_id)
            if found is None or found[0] != version:
                self._drop(run_id)
                found = self._rows[run_id] = (version, {})
            self._rows.move_to_end(run_id)
            # the least recently read runs make room for this one
            while self._kept_rows + len(rows) > self._row_budget and len(self._rows) > 1:
                self._drop(next(iter(self._rows)))
            kept = found[1]
            for row in rows:
                if row.test_pos not in kept and self._kept_rows < self._row_budget:
                    kept[row.test_pos] = row
                    self._kept_rows += 1

    def _drop(self, run_id: str) -> None:
        found = self._rows.pop(run_id, None)
        if found is not None:
            self._kept_rows -= len(found[1])
