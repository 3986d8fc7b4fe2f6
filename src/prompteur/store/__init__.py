"""The results store (SQLite or PostgreSQL): runs, their cells, and the completion cache."""

from ._cache import CacheStats, StoreCache
from ._engine import default_store_url, store_url
from ._migrations import LATEST_VERSION, migrate
from ._sink import StoreSink, git_commit
from ._store import CellOutcome, RunInfo, Store, StoreError

__all__ = [
    "LATEST_VERSION",
    "CacheStats",
    "CellOutcome",
    "RunInfo",
    "Store",
    "StoreCache",
    "StoreError",
    "StoreSink",
    "default_store_url",
    "git_commit",
    "migrate",
    "store_url",
]
