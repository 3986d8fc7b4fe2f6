"""A SQLite store's write-ahead log is checkpointed beside a run, not inside its commits."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import prompteur
from prompteur.store import Store, StoreSink
from prompteur.store._checkpoint import WalCheckpointer


def _log_frames(path: Path) -> tuple[int, int]:
    """The log's frames, and how many of them are in the database file (as a checkpoint
    reports them: this one copies what is left, if anything)."""
    connection = sqlite3.connect(path, isolation_level=None)
    _, log, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    connection.close()
    return int(log), int(copied)


def test_the_log_is_copied_on_the_checkpointers_thread(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    checkpoints = WalCheckpointer(store.engine)
    assert checkpoints.enabled
    checkpoints.start()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (text TEXT)")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO filler VALUES (?)", [("x" * 2000,) for _ in range(50)])
    checkpoints.written()
    deadline = time.monotonic() + 10
    while checkpoints.done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    checkpoints.stop()
    assert checkpoints.done == 1
    log, copied = _log_frames(tmp_path / "store.db")
    assert log == copied > 0
    store.close()


def test_other_stores_have_no_checkpointer(store_url: str) -> None:
    store = Store(store_url)
    checkpoints = WalCheckpointer(store.engine)
    assert checkpoints.enabled == store_url.startswith("sqlite:")
    checkpoints.start()  # does nothing where it is not enabled
    checkpoints.written()
    checkpoints.stop()
    store.close()
    assert not WalCheckpointer(Store("sqlite:///:memory:").engine).enabled


def test_a_run_stops_its_checkpointer(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    suite = {
        "prompts": ["a {{n}}"],
        "providers": ["echo"],
        "tests": [{"vars": {"n": n}} for n in range(30)],
    }
    plan = prompteur.plan_suite(suite)
    sink = StoreSink(store, plan, batch_size=5)
    result = prompteur.evaluate(plan, sinks=[sink])
    assert result.summary.done == 30
    assert sink._checkpoints._thread is None
    assert store.run(result.run_id).done == 30
    store.close()
