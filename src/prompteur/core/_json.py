"""JSON encoding on the hot paths (cache keys, case keys, stored cells) with orjson, about
ten times faster than the standard library on these small documents.

``canonical`` is the form hashed into keys: sorted keys, no spaces, UTF-8, and values JSON
cannot hold (dates...) written as their ``str()``. What JSON has no place for (lone
surrogates, integers past 64 bits) is written as ``storable_json`` makes it, never refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ._storable import storable_json

__all__ = ["canonical", "canonical_bytes", "dumps", "stable_hash"]

_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_PLAIN = orjson.OPT_NON_STR_KEYS


def _encode(value: Any, option: int) -> bytes:
    try:
        return orjson.dumps(value, default=str, option=option)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an integer past 64 bits
        return orjson.dumps(storable_json(value), default=str, option=option)


def canonical(value: Any) -> str:
    """Sorted keys, no spaces: the same value always gives the same text."""
    return _encode(value, _CANONICAL).decode()


def canonical_bytes(value: Any) -> bytes:
    """``canonical(value)`` encoded in UTF-8, as hashes take it."""
    return _encode(value, _CANONICAL)


def dumps(value: Any) -> str:
    return _encode(value, _PLAIN).decode()


def stable_hash(value: Any) -> str:
    """A hex digest of a JSON-able value that does not depend on key order."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
