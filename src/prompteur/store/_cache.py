"""The completion cache, kept in the store's ``cache`` table.

Lookups go through one raw DB-API connection (a prepared primary-key read costs
microseconds, which a fully cached re-run of ten thousand cells needs). New entries are
buffered, and written at the latest ``flush_seconds`` after the first of them (or when
``batch_size`` wait): a run killed at any moment loses at most that second of answers,
which were paid for. While a StoreSink of the same store records a run, they go with its
batches of results, and when they are due first, the results waiting then go with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Text, cast, delete, func, select

from ..providers._base import Completion, Usage
from . import _schema as t
from ._rows import KEYS_PER_QUERY, placeholder, select_in
from ._store import Store, _insert
from ._timer import FlushTimer

__all__ = ["CacheStats", "StoreCache"]


@dataclass(frozen=True)
class CacheStats:
    entries: int
    providers: dict[str, int]
    bytes: int | None


def _completion_json(completion: Completion) -> dict[str, Any]:
    return {
        "output": completion.output,
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "finish_reason": completion.finish_reason,
        "cost": completion.cost,
        "model": completion.model,
    }


def _completion(data: dict[str, Any]) -> Completion:
    return Completion(
        output=data["output"],
        usage=Usage(data.get("prompt_tokens"), data.get("completion_tokens")),
        finish_reason=data.get("finish_reason"),
        cost=data.get("cost"),
        model=data.get("model"),
        cached=True,
    )


def _by_key(row: dict[str, Any]) -> str:
    return str(row["key"])


class StoreCache:
    """A CompletionCache backed by a Store. ``batch_size`` bounds the entries kept in
    memory; ``flush_seconds`` how long one may wait to be written (while an event loop
    runs; otherwise until the next batch, or ``flush``)."""

    def __init__(self, store: Store, batch_size: int = 2000, flush_seconds: float = 1.0) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.hits = 0
        self.misses = 0
        self._pending: dict[str, dict[str, Any]] = {}
        # handed to a sink's writer thread, not committed yet: still served from here
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._carrier: Callable[[], None] | None = None
        self._timer = FlushTimer(self._write_due)
        self._raw: Any = None
        self._cursor: Any = None
        self._query = ""

    def _connection(self) -> Any:
        if self._raw is None:
            self._raw = self.store.engine.raw_connection()
            if self.store.engine.dialect.name == "postgresql":
                # plain reads: no transaction left open between lookups
                self._raw.driver_connection.autocommit = True
            marker = placeholder(self.store.engine.dialect.paramstyle)
            self._query = f"SELECT completion, latency_ms FROM cache WHERE key = {marker}"
        return self._raw

    def get(self, key: str) -> tuple[Completion, float | None] | None:
        pending = self._pending.get(key) or self._in_flight.get(key)
        if pending is not None:
            self.hits += 1
            return _completion(pending["completion"]), pending["latency_ms"]
        if self._cursor is None:
            self._cursor = self._connection().cursor()
        self._cursor.execute(self._query, (key,))
        row = self._cursor.fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        data = row[0]
        if isinstance(data, str | bytes):  # SQLite keeps JSON as text
            data = orjson.loads(data)
        return _completion(data), row[1]

    def get_many(self, keys: list[str]) -> dict[str, tuple[Completion, float | None]]:
        """The entries found among ``keys``, in one query per few hundred keys."""
        found: dict[str, tuple[Completion, float | None]] = {}
        wanted = []
        for key in keys:
            pending = self._pending.get(key) or self._in_flight.get(key)
            if pending is not None:
                found[key] = _completion(pending["completion"]), pending["latency_ms"]
            else:
                wanted.append(key)
        if self._cursor is None:
            self._cursor = self._connection().cursor()
        query = "SELECT key, completion, latency_ms FROM cache WHERE key IN"
        paramstyle = self.store.engine.dialect.paramstyle
        for key, data, latency_ms in select_in(self._cursor, paramstyle, query, wanted):
            if isinstance(data, str | bytes):  # SQLite keeps JSON as text
                data = orjson.loads(data)
            found[key] = _completion(data), latency_ms
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put(
        self, key: str, provider_id: str, completion: Completion, latency_ms: float | None
    ) -> None:
        if not self._pending:
            self._timer.arm(self.flush_seconds)
        self._pending[key] = {
            "key": key,
            "provider_id": provider_id,
            "completion": _completion_json(completion),
            "latency_ms": latency_ms,
            "created_at": time.time(),
        }
        if len(self._pending) >= self.batch_size:
            self._write_due()

    def carried_by(self, flush: Callable[[], None] | None) -> None:
        """Have ``flush`` (a StoreSink's, which writes these entries in the transaction of
        its cells) write the entries when they are due, with the cells that wait then; the
        cache writes them itself again with None."""
        self._carrier = flush

    def _write_due(self) -> None:
        (self._carrier or self.flush)()

    def unwritten(self) -> list[dict[str, Any]]:
        """The entries not in the store yet, as rows of the ``cache`` table, in key order
        (writers that meet on the same keys then lock them in the same order, and cannot
        deadlock). Call ``written`` once they are committed."""
        return sorted(self._pending.values(), key=_by_key)

    def written(self) -> None:
        """The entries ``unwritten`` gave are in the store (no other came in between:
        both run on the event loop's thread)."""
        self._pending.clear()
        self._timer.cancel()

    def handed_off(self) -> None:
        """The entries ``unwritten`` gave go to a writer thread: they are served from memory
        until it calls ``committed`` with them."""
        self._in_flight.update(self._pending)  # one C call: atomic for the writer thread
        self.written()

    def committed(self, rows: list[dict[str, Any]]) -> None:
        """On the writer thread: these entries are in the store now."""
        for row in rows:
            self._in_flight.pop(row["key"], None)

    def flush(self) -> None:
        if self._pending:
            rows = self.unwritten()
            with self.store.engine.begin() as conn:
                _insert(conn, t.cache, rows, keys=["key"])
        self.written()

    def close(self) -> None:
        self.flush()
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    # --- embeddings (the ``similar`` assertion) --------------------------------------------------

    def get_embeddings(self, keys: list[str]) -> dict[str, bytes]:
        """Stored vectors (float32 bytes) by key, for the keys the store has."""
        found: dict[str, bytes] = {}
        with self.store.engine.connect() as conn:
            for start in range(0, len(keys), KEYS_PER_QUERY):
                chunk = keys[start : start + KEYS_PER_QUERY]
                rows = conn.execute(
                    select(t.embeddings.c.key, t.embeddings.c.vector).where(
                        t.embeddings.c.key.in_(chunk)
                    )
                )
                found.update({key: bytes(vector) for key, vector in rows})
        return found

    def put_embeddings(self, model: str, vectors: dict[str, bytes]) -> None:
        if not vectors:
            return
        now = time.time()
        rows = [
            {"key": key, "model": model, "vector": vector, "created_at": now}
            for key, vector in vectors.items()
        ]
        with self.store.engine.begin() as conn:
            _insert(conn, t.embeddings, rows, keys=["key"])

    # --- maintenance ----------------------------------------------------------------------------

    def stats(self) -> CacheStats:
        with self.store.engine.connect() as conn:
            by_provider: dict[str, int] = dict(
                conn.execute(
                    select(t.cache.c.provider_id, func.count()).group_by(t.cache.c.provider_id)
                ).all()
            )
            size = conn.execute(
                select(func.sum(func.length(cast(t.cache.c.completion, Text))))
            ).scalar()
        return CacheStats(
            sum(by_provider.values()), by_provider, int(size) if size is not None else None
        )

    def clear(self, provider_id: str | None = None) -> int:
        self._pending.clear()
        query = delete(t.cache)
        if provider_id is not None:
            query = query.where(t.cache.c.provider_id == provider_id)
        with self.store.engine.begin() as conn:
            return int(conn.execute(query).rowcount or 0)
