"""The completion cache seen from the runner: a protocol, and the documented cache key.

A completion is cached under the SHA-256 of the canonical JSON (sorted keys, no spaces,
UTF-8) of
``{"v": 1, "provider": IDENTITY, "messages": [[ROLE, CONTENT], ...], "params": PARAMS}``:
IDENTITY is the provider's ``identity()`` (id, model, endpoint, generation parameters; never
a secret), the messages are the rendered prompt, PARAMS the prompt's own settings (a
.prompty file's). Two keys join it when they apply: ``"repeat": N`` for the N-th repeat of
a case (N ≥ 1), so that repeats are independent samples rather than copies of the first
answer, and ``"vars": VARS`` for providers that see the test's variables as well as the
prompt (``vars_in_cache_key = True``, as python providers do). Only successful completions
are cached. Providers without ``identity()`` or with ``cacheable = False`` are never cached.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from ..core._json import canonical
from ._base import Completion, CompletionRequest, Provider

__all__ = ["BatchedCompletionCache", "CacheKeys", "CompletionCache", "cache_key"]

CACHE_KEY_VERSION = 1


class CompletionCache(Protocol):
    def get(self, key: str) -> tuple[Completion, float | None] | None:
        """The cached completion and the latency (ms) it originally took, if any."""
        ...

    def put(
        self, key: str, provider_id: str, completion: Completion, latency_ms: float | None
    ) -> None: ...

    def flush(self) -> None:
        """Write anything buffered; called when a run ends."""
        ...


class BatchedCompletionCache(CompletionCache, Protocol):
    """A cache that can also read many entries at once (the runner reads ahead with it)."""

    def get_many(self, keys: list[str]) -> dict[str, tuple[Completion, float | None]]:
        """The entries found among ``keys`` (missing keys are left out)."""
        ...


_dumps = canonical


class CacheKeys:
    """Computes cache keys, encoding each provider's identity once per run (the same text
    as :func:`cache_key`, which encodes the whole payload at once)."""

    def __init__(self) -> None:
        self._identities: dict[int, tuple[Provider, str | None]] = {}

    def _identity(self, provider: Provider) -> str | None:
        found = self._identities.get(id(provider))
        if found is None or found[0] is not provider:
            identity = getattr(provider, "identity", None)
            text = None
            if callable(identity) and getattr(provider, "cacheable", True):
                text = _dumps(identity())
            found = (provider, text)
            self._identities[id(provider)] = found
        return found[1]

    def key_of_provider(self, provider: Provider) -> str | None:
        """The provider's encoded identity, None when it is not cacheable."""
        return self._identity(provider)

    def key(self, provider: Provider, request: CompletionRequest, repeat: int = 0) -> str | None:
        identity = self._identity(provider)
        if identity is None:
            return None
        messages = _dumps([[m.role, m.content] for m in request.messages])
        # the keys in sorted order, as canonical JSON writes them
        text = f'{{"messages":{messages},"params":{_dumps(dict(request.params))},'
        text += f'"provider":{identity},'
        if repeat:
            text += f'"repeat":{int(repeat)},'
        text += f'"v":{CACHE_KEY_VERSION}'
        if _vars_in_key(provider):
            text += f',"vars":{_dumps(dict(request.vars))}'
        return hashlib.sha256((text + "}").encode()).hexdigest()


def _vars_in_key(provider: Provider) -> bool:
    return bool(getattr(provider, "vars_in_cache_key", False))


def cache_key(provider: Provider, request: CompletionRequest, repeat: int = 0) -> str | None:
    """The cache key of a call (the ``repeat``-th time its case is asked), or None when the
    provider is not cacheable."""
    identity = getattr(provider, "identity", None)
    if not callable(identity) or not getattr(provider, "cacheable", True):
        return None
    payload: dict[str, Any] = {
        "v": CACHE_KEY_VERSION,
        "provider": identity(),
        "messages": [[m.role, m.content] for m in request.messages],
        "params": dict(request.params),
    }
    if repeat:
        payload["repeat"] = int(repeat)
    if _vars_in_key(provider):
        payload["vars"] = dict(request.vars)
    return hashlib.sha256(_dumps(payload).encode()).hexdigest()
