"""The optimizer's searches in the store: each one's settings, the calls it was charged
(written before each call is made, so a search killed at any moment keeps them) and its
latest state, so that ``optimize --resume`` continues it within the same budget."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from . import _schema as t
from ._errors import StoreError
from ._store import Store

__all__ = ["SearchRecord", "SearchStore"]


@dataclass(frozen=True)
class SearchRecord:
    id: str
    suite_path: str | None
    config: Mapping[str, Any]
    status: str
    charged: Mapping[str, Any]
    state: Mapping[str, Any] | None
    created_at: float


class SearchStore:
    """Reads and writes the optimizer's searches."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, search_id: str, suite_path: str | None, config: Mapping[str, Any]) -> None:
        now = time.time()
        with self.store.engine.begin() as conn:
            conn.execute(
                t.optimize_searches.insert().values(
                    id=search_id,
                    suite_path=suite_path,
                    config=dict(config),
                    status="running",
                    charged={},
                    state=None,
                    created_at=now,
                    updated_at=now,
                )
            )

    def charge(self, search_id: str, charged: Mapping[str, Any]) -> None:
        """Keep what the search has been charged so far (called before each call)."""
        self._update(search_id, charged=dict(charged))

    def save_state(self, search_id: str, state: Mapping[str, Any], status: str) -> None:
        self._update(search_id, state=dict(state), status=status)

    def set_status(self, search_id: str, status: str) -> None:
        self._update(search_id, status=status)

    def _update(self, search_id: str, **values: Any) -> None:
        table = t.optimize_searches
        with self.store.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.id == search_id)
                .values(updated_at=time.time(), **values)
            )

    def get(self, search_id: str | None = None, suite_path: str | None = None) -> SearchRecord:
        """The search ``search_id``, else the latest unfinished one (of ``suite_path``)."""
        table = t.optimize_searches
        query = select(table)
        if search_id:
            query = query.where(table.c.id == search_id)
        else:
            query = query.where(table.c.status != "finished")
            if suite_path is not None:
                query = query.where(table.c.suite_path == suite_path)
            query = query.order_by(table.c.created_at.desc()).limit(1)
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            what = f"no optimizer search '{search_id}'" if search_id else "no unfinished search"
            raise StoreError(f"{what} in this store to resume")
        return SearchRecord(
            row.id,
            row.suite_path,
            row.config or {},
            row.status,
            row.charged or {},
            row.state,
            row.created_at,
        )
