"""JSON encoding on the hot paths (cache keys, case keys, stored cells) with orjson, about
ten times faster than the standard library on these small documents.

``canonical`` is the form hashed into keys: sorted keys, no spaces, UTF-8, and values JSON
cannot hold (dates...) written as their ``str()``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["canonical", "canonical_bytes", "dumps", "stable_hash"]

_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_PLAIN = orjson.OPT_NON_STR_KEYS


def canonical(value: Any) -> str:
    """Sorted keys, no spaces: the same value always gives the same text."""
    return orjson.dumps(value, default=str, option=_CANONICAL).decode()


def canonical_bytes(value: Any) -> bytes:
    """``canonical(value)`` encoded in UTF-8, as hashes take it."""
    return orjson.dumps(value, default=str, option=_CANONICAL)


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=_PLAIN).decode()


def stable_hash(value: Any) -> str:
    """A hex digest of a JSON-able value that does not depend on key order."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
