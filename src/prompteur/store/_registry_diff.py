"""Word diffs between two versions' templates."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["word_diff"]

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str, *, plain: bool = False) -> Text:
    """``new`` against ``old`` word by word: removed words struck through in red, added
    ones in green; with ``plain``, git's markers instead ([-removed-], {+added+})."""
    from rich.text import Text

    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    text = Text()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            text.append("".join(a[i1:i2]))
            continue
        if op in ("delete", "replace"):
            removed = "".join(a[i1:i2])
            text.append(f"[-{removed}-]" if plain else removed, style="bold red strike")
        if op in ("insert", "replace"):
            added = "".join(b[j1:j2])
            text.append(f"{{+{added}+}}" if plain else added, style="bold green")
    return text
