"""Word diffs, as segments a template marks up (it escapes their text)."""

from __future__ import annotations

import difflib
import re

__all__ = ["word_diff"]

_TOKENS = re.compile(r"\s+|[^\s]+")
MAX_TOKENS = 4000  # past this, a diff costs more than it tells


def word_diff(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """(kind, text) segments from ``before`` to ``after``: kind is ``same``, ``del`` or
    ``ins``; whitespace counts as words, so joining the ``same`` and ``ins`` segments gives
    ``after`` back."""
    a = _TOKENS.findall(before or "")[:MAX_TOKENS]
    b = _TOKENS.findall(after or "")[:MAX_TOKENS]
    segments: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(("ins", "".join(b[j1:j2])))
    return segments
