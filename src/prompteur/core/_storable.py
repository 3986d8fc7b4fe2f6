"""Values as a store can keep them. SQLite and PostgreSQL take text as UTF-8, which a lone
surrogate (half of a UTF-16 pair, as a JSON escape like ``"\\ud83d"`` decodes to) is not;
PostgreSQL's text holds no NUL character; integer columns hold 32 bits; and a NaN in
SQLite's REAL columns reads back as NULL. Every layer that takes values in (the runner, the
store's rows) uses these, so one value never loses a run."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_STORED_INT",
    "REPLACEMENT",
    "storable_json",
    "storable_text",
    "text_problem",
    "without_surrogates",
]

REPLACEMENT = "\ufffd"
#: The largest integer every store's integer columns hold (PostgreSQL's ``integer``).
MAX_STORED_INT = 2**31 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
# what JSON holds as a number: orjson refuses integers past 64 bits
_JSON_INT = (-(2**63), 2**64 - 1)


def _plural(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def text_problem(text: str, *, nul: bool = True) -> str | None:
    """What in ``text`` a store cannot keep as it is (lone surrogates, and NUL characters
    unless ``nul`` is False), in words; None when there is nothing (said in constant time
    for ASCII text without NUL)."""
    problems = []
    if not text.isascii() and (surrogates := len(_SURROGATE.findall(text))):
        problems.append(_plural(surrogates, "lone surrogate") + " (not valid Unicode)")
    if nul and (nuls := text.count("\x00")):
        problems.append(_plural(nuls, "NUL character"))
    return " and ".join(problems) or None


def storable_text(text: str, *, nul: bool = True) -> str:
    """``text`` with its lone surrogates, and its NUL characters unless ``nul`` is False,
    replaced by U+FFFD (what a UTF-8 decoder puts for what it cannot read)."""
    if not text.isascii():
        text = _SURROGATE.sub(REPLACEMENT, text)
    if nul and "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    return text


def storable_json(value: Any) -> Any:
    """``value`` with what JSON cannot hold made into what it can: text without lone
    surrogates (keys too), integers past 64 bits as their digits, non-finite numbers as
    null (which orjson writes for them anyway, said here so readers expect it)."""
    if isinstance(value, str):
        return storable_text(value, nul=False)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if _JSON_INT[0] <= value <= _JSON_INT[1] else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {
            storable_text(k, nul=False) if isinstance(k, str) else storable_json(k): (
                storable_json(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [storable_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: storable_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value  # the rest (dates, encoded fragments...): the encoder writes them


def without_surrogates(value: Any) -> Any:
    """``value`` (text, or mappings and lists of it) with lone surrogates replaced by U+FFFD;
    the very same object when it holds none, as nearly all values do."""
    if isinstance(value, str):
        if value.isascii() or _SURROGATE.search(value) is None:
            return value
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, Mapping):
        items = [(without_surrogates(k), without_surrogates(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        kept = [without_surrogates(v) for v in value]
        if all(v is v0 for v, v0 in zip(kept, value, strict=True)):
            return value
        return type(value)(kept) if isinstance(value, tuple) else kept
    return value
