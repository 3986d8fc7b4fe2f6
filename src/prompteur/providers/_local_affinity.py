"""Which worker process serves which request: calls that share a prompt prefix go where
that prefix already is.

Each worker keeps the KV cache of its last prompt, and reuses its longest common prefix
with the next one (``_local_worker.PrefixReuse``). Calls that share demonstrations or a
long instruction are therefore cheaper on the worker that served the last of them. A free
worker takes, among the oldest waiting requests, the first one that shares a prefix with
its own last prompt; a request that shares none goes to the free worker whose cache is
least worth keeping (empty, else least recently used); a request whose worker is busy goes
to any free one, so no worker waits while requests do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["WINDOW", "Affinity", "prompt_key", "shared_length"]

#: characters of a prompt that decide where it goes (a prefix longer than this is as good)
KEY_CHARS = 4096
#: a shared prefix shorter than this is worth little (the worker reuses whole blocks of
#: 32 tokens, about 128 characters of text)
MIN_SHARED_CHARS = 128
#: how far down the queue a free worker looks for a request of its own
WINDOW = 16


def prompt_key(messages: Sequence[Mapping[str, Any]]) -> str:
    """The leading part of a chat request as text: roles and contents in order."""
    parts: list[str] = []
    size = 0
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else orjson.dumps(content).decode()
        part = f"\x1e{message.get('role')}\x1f{text}"
        parts.append(part)
        size += len(part)
        if size >= KEY_CHARS:
            break
    return "".join(parts)[:KEY_CHARS]


def shared_length(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (by halving: slices
    compare in C, so this costs microseconds on prompts of thousands of characters)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass
class Affinity:
    """The last prompt each worker served, and the choice of a free worker's next request."""

    workers: int
    last: list[str | None] = field(init=False)
    last_used: list[int] = field(init=False)
    clock: int = 0

    def __post_init__(self) -> None:
        self.last = [None] * self.workers
        self.last_used = [0] * self.workers

    def owner(self, key: str) -> int | None:
        """The worker whose last prompt shares the longest worthwhile prefix with ``key``."""
        best, best_length = None, MIN_SHARED_CHARS - 1
        for slot, last in enumerate(self.last):
            if last is not None:
                length = shared_length(key, last)
                if length > best_length:
                    best, best_length = slot, length
        return best

    def spare(self, idle: Sequence[int]) -> int:
        """The free worker whose cache is least worth keeping: empty, else least recent."""
        return min(idle, key=lambda s: (self.last[s] is not None, self.last_used[s], s))

    def choose(self, slot: int, keys: Sequence[str], idle: Sequence[int]) -> int | None:
        """The index in ``keys`` (the waiting requests, oldest first) that free worker
        ``slot`` takes, or None if each is better left to another free worker."""
        fallback = None
        for index, key in enumerate(keys[:WINDOW]):
            owner = self.owner(key)
            if owner == slot:
                return index
            if fallback is not None:
                continue
            if owner is None:
                if self.spare(idle) == slot:
                    fallback = index
            elif owner not in idle:  # its worker is busy: throughput first
                fallback = index
        return fallback

    def served(self, slot: int, key: str) -> None:
        """Worker ``slot`` takes a request: its cache will hold this prompt."""
        self.clock += 1
        self.last[slot] = key
        self.last_used[slot] = self.clock

    def forget(self, slot: int) -> None:
        """Worker ``slot`` lost its cache (its process ended)."""
        self.last[slot] = None
