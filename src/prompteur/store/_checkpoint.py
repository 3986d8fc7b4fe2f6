"""Checkpointing a SQLite store's write-ahead log beside a run that writes it."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

__all__ = ["WalCheckpointer"]


class WalCheckpointer:
    """Copies a SQLite store's write-ahead log into its database file on a thread of its
    own, after each batch a run writes (``written``). SQLite does it in the commit that
    takes the log past 1,000 pages (4 MB, every few thousand cells stored), and the run
    stops for it: 50 ms, three times for 10,000 cells on a small machine. Here it runs
    beside the run, one statement during which the interpreter's lock is released, so the
    log stays short and commits do not do it. SQLite's own checkpoint remains for when
    this thread falls behind. For other databases, and SQLite in memory, it does nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        url = engine.url
        on_disk = url.database not in (None, "", ":memory:")
        self.enabled = url.get_backend_name() == "sqlite" and on_disk
        self.done = 0  # checkpoints made
        self._due = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="wal checkpoint", daemon=True)
            self._thread.start()

    def written(self) -> None:
        """A batch was committed: checkpoint what the log holds, soon."""
        self._due.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._due.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        connection = None
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._stopping:
                    return
                try:
                    if connection is None:
                        connection = self.engine.raw_connection()
                    cursor = connection.cursor()
                    # PASSIVE: copies what it can without waiting on readers or writers
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    cursor.fetchall()
                    cursor.close()
                    self.done += 1
                except Exception:  # only an optimisation: SQLite still checkpoints itself
                    continue
        finally:
            if connection is not None:
                connection.close()
