"""Data a suite may hold but prompteur cannot keep: nesting too deep for the JSON that keys
and the store are made of, and integers beyond 64 bits. Refused when the file is read, at
their place, rather than as a traceback when the first key is hashed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..core._errors import SuiteError

if TYPE_CHECKING:
    from ._source import SourceFile

__all__ = ["MAX_DEPTH", "check_storable"]

# orjson refuses documents nested more than 255 levels; case keys and the stored suite wrap
# a test's data in a few more, so the data itself stops well short of that
MAX_DEPTH = 200
_MARGIN = 255 - MAX_DEPTH
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson writes


def check_storable(
    data: Any, source: SourceFile | None, keypath: tuple[str | int, ...] = ()
) -> None:
    """Raise a located SuiteError when ``data`` nests deeper than MAX_DEPTH or holds an
    integer orjson cannot write. The check is orjson itself (C speed, whatever the size),
    over the data wrapped in as many lists as the limit leaves; only when it fails is the
    data walked to find the place."""
    wrapped = data
    for _ in range(_MARGIN):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        found = _first_problem(data)
        if found is not None:
            where, problem = found
            place = ".".join(str(k) for k in keypath + where)
            if source is None:  # a mapping from Python: the keys say where
                raise SuiteError(f"{place}: {problem}" if place else problem) from None
            raise SuiteError(problem, source.location(keypath + where)) from None


def _first_problem(data: Any) -> tuple[tuple[str | int, ...], str] | None:
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while pending:
        value, keypath = pending.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
            return keypath, (
                f"the integer {_short(value)} does not fit in 64 bits; write it as a string "
                "(in quotes) to keep its digits"
            )
        children: list[tuple[str | int, Any]] = []
        if isinstance(value, dict):
            children = [(k, v) for k, v in value.items() if isinstance(k, str | int)]
        elif isinstance(value, list | tuple):
            children = list(enumerate(value))
        if children and len(keypath) >= MAX_DEPTH:
            # the place of the outermost value that holds the nesting: a few levels in
            return keypath[:4], (
                f"data nested more than {MAX_DEPTH} levels deep; prompteur keeps values as "
                "JSON, which cannot nest that far"
            )
        pending.extend((child, (*keypath, key)) for key, child in reversed(children))
    return None


def _short(value: int) -> str:
    # str() of a very long integer raises ValueError (Python's limit on digits)
    return str(value) if value.bit_length() <= 128 else f"of {value.bit_length()} bits"
