"""Recognising secrets, so that nothing the store or a report keeps holds one.

A value is a secret when its key names one (``apiKey``, ``api_token``, ``password``,
``Authorization``...) or when it looks like a credential whatever its key (``sk-...``,
``Bearer ...``). Names of environment variables (``apiKeyEnvar``) and token counts
(``max_tokens``) are not secrets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "is_secret_name", "looks_like_secret", "redact"]

REDACTED = "[redacted]"

_SECRET_NAME = re.compile(
    r"(api_?key|access_?key|private_?key|secret|passw(or)?d|passphrase|credential|"
    r"authorization|auth_?token|bearer|cookie|session_?id|^key$|_key$|^token$|_token$)"
)
_NOT_SECRET_NAME = re.compile(r"(envar|env|_?env_?var|_name|_path|_file|_tokens|_length)$")
_SECRET_VALUE = re.compile(
    r"^(sk-[A-Za-z0-9_-]{8,}|sk_(live|test)_\w{8,}|bearer\s+\S{8,}|basic\s+\S{8,}|"
    r"xox[abprs]-\S{8,}|gh[pousr]_\w{16,}|AKIA[0-9A-Z]{12,}|AIza[\w-]{20,})$",
    re.IGNORECASE,
)


def _normalised(name: str) -> str:
    """``apiKey``, ``api-key`` and ``API_KEY`` all become ``api_key``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    key = _normalised(name)
    return bool(_SECRET_NAME.search(key)) and not _NOT_SECRET_NAME.search(key)


def looks_like_secret(value: str) -> bool:
    return bool(_SECRET_VALUE.match(value.strip()))


def redact(value: Any) -> Any:
    """A copy of ``value`` (mappings and lists walked through) with every secret replaced
    by ``[redacted]``."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and is_secret_name(key) and item not in (None, "")
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str) and looks_like_secret(value):
        return REDACTED
    return value
