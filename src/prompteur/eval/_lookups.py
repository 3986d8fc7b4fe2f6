"""Each cell's request and what the completion cache holds for it, read ahead of the
cell's turn in batches where the cache can read many entries at once."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from ..providers._base import Completion, CompletionRequest, Provider
from ..providers._cache import CacheKeys, CompletionCache
from ._plan import Cell, Plan

__all__ = ["PREFETCH_CELLS", "Ahead", "CacheLookups", "Found"]

#: Cells whose cache entries are read in one query (a fully cached run's lookups).
PREFETCH_CELLS = 256

#: A cached completion and the latency (ms) it first took.
Found = tuple[Completion, float | None]
#: What is read ahead for a cell: its request, its cache key, and the entry found.
Ahead = tuple[CompletionRequest, str, Found | None]


class CacheLookups:
    """The requests of a plan's cells and their cache entries, for the runner."""

    def __init__(self, plan: Plan, cache: CompletionCache | None, keys: CacheKeys) -> None:
        self.plan = plan
        self.cache = cache
        self.keys = keys

    def prepared(
        self, provider: Provider, cells: Iterator[Cell]
    ) -> Iterator[tuple[Cell, Ahead | None]]:
        """The cells, each with what was read ahead for it: the cache is read in batches
        (one query for many cells, where the cache can do that: a fully cached run then
        costs microseconds a cell). None where nothing was (the cell looks up for itself)."""
        get_many = getattr(self.cache, "get_many", None)
        if not callable(get_many) or self.keys.key_of_provider(provider) is None:
            yield from ((cell, None) for cell in cells)
            return
        while True:
            batch = list(itertools.islice(cells, PREFETCH_CELLS))
            if not batch:
                return
            keyed: list[tuple[Cell, CompletionRequest | None, str | None]] = []
            own = self.plan.test_providers or self.plan.prompt_providers
            for cell in batch:
                if own and self.plan.provider_of(cell) is not provider:
                    keyed.append((cell, None, None))  # another provider: it looks up itself
                    continue
                request = self._request_or_none(cell)
                key = None if request is None else self.keys.key(provider, request, cell.repeat)
                keyed.append((cell, request, key))
            hits = get_many([key for _, _, key in keyed if key is not None])
            for cell, request, key in keyed:
                if request is None or key is None:
                    yield cell, None
                else:
                    yield cell, (request, key, hits.get(key))

    def request(self, cell: Cell) -> CompletionRequest:
        """The cell's request; raises what rendering its prompt raises."""
        prompt = self.plan.prompts[cell.prompt]
        return CompletionRequest(
            self.plan.messages(cell.prompt, cell.test),
            prompt.chat,
            self.plan.tests[cell.test].vars,
            prompt.params,
        )

    def _request_or_none(self, cell: Cell) -> CompletionRequest | None:
        try:
            return self.request(cell)
        except Exception:  # reported when the cell runs
            return None

    def lookup(
        self, provider: Provider, cell: Cell, request: CompletionRequest
    ) -> tuple[str | None, Found | None]:
        """The cell's cache key and what the cache holds for it."""
        if self.cache is None:
            return None, None
        key = self.keys.key(provider, request, cell.repeat)
        return key, self.cache.get(key) if key is not None else None
