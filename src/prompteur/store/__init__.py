"""The results store (SQLite or PostgreSQL): runs, their cells, the completion cache, and
the prompt registry's versions and labels.

The registry is imported on first use: most runs never touch it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._cache import CacheStats, StoreCache
from ._engine import default_store_url, store_url
from ._migrations import LATEST_VERSION, migrate
from ._sink import StoreSink, git_commit
from ._store import CellOutcome, RunInfo, Store, StoreError

if TYPE_CHECKING:
    from ._registry import PromptRegistry, PromptSource, PromptVersion, RegistryError

__all__ = [
    "LATEST_VERSION",
    "CacheStats",
    "CellOutcome",
    "PromptRegistry",
    "PromptSource",
    "PromptVersion",
    "RegistryError",
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

_LAZY = {"PromptRegistry", "PromptSource", "PromptVersion", "RegistryError"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("._registry", __name__), name)
    globals()[name] = value
    return value
