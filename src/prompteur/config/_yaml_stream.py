"""Reading a large YAML list of test cases a few hundred items at a time, so that a file of
tens of thousands of cases is never held whole as parsed data (peak memory stays near the
plan's own) and the parser's working memory stays small.

Only the plain shape is read this way: a block sequence at column 0, without anchors,
aliases, tags' directives or several documents. Anything else, and any chunk that does not
parse into the items it should hold, is left to the whole-file parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ITEMS_PER_CHUNK", "STREAM_FROM_CHARS", "NotASimpleList", "yaml_list_items"]

#: Files shorter than this are parsed whole (most suites): streaming is for large ones.
STREAM_FROM_CHARS = 256 * 1024
ITEMS_PER_CHUNK = 200

_AFTER_DASH = " \t\r\n"  # what follows the dash of a block sequence's item
# anchors and aliases, documents and directives: a chunk could not be read on its own
_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[{,])[&*][^\s\[\]{},]", re.MULTILINE)
_DOCUMENT_MARKS = ("---", "...", "%")


def _needs_whole_parse(text: str) -> bool:
    # plain substring tests first: a regular expression over megabytes costs 0.1 s
    if text.startswith(_DOCUMENT_MARKS) or any(f"\n{m}" in text for m in _DOCUMENT_MARKS):
        return True
    return ("&" in text or "*" in text) and _ANCHOR_OR_ALIAS.search(text) is not None


_PREAMBLE_LINE = re.compile(r"^\s*(#.*)?$")


class NotASimpleList(ValueError):
    """A chunk did not parse into the items it should hold: read the file whole."""


def yaml_list_items(text: str, parse: Callable[[str], Any]) -> Iterator[Any] | None:
    """The items of a large YAML list, parsed chunk by chunk with ``parse`` as they are
    consumed; None when the text is small or not of the plain shape (parse it whole).
    Raises ValueError (from ``parse``, or NotASimpleList) while iterating when a chunk does
    not read as it should; the caller then parses the whole text for the real error."""
    if len(text) < STREAM_FROM_CHARS or _needs_whole_parse(text):
        return None
    starts = _item_starts(text)
    if not starts or not all(_PREAMBLE_LINE.match(line) for line in text[: starts[0]].splitlines()):
        return None
    return _items(text, starts, parse)


def _item_starts(text: str) -> list[int]:
    """Where the column-0 items start: a dash at the start of a line, then a blank or the
    line's end. Found by searching for line breaks followed by a dash (a regular
    expression anchored at line starts scans 3 MB in 40 ms; this, in 10)."""
    starts = []
    dash = 0 if text.startswith("-") else _next_line_dash(text, 0)
    while dash != -1:
        if text[dash + 1 : dash + 2] in _AFTER_DASH:  # the text's end ("") too
            starts.append(dash)
        dash = _next_line_dash(text, dash)
    return starts


def _next_line_dash(text: str, after: int) -> int:
    found = text.find("\n-", after)
    return -1 if found == -1 else found + 1


def _items(text: str, starts: list[int], parse: Callable[[str], Any]) -> Iterator[Any]:
    for first in range(0, len(starts), ITEMS_PER_CHUNK):
        following = first + ITEMS_PER_CHUNK
        end = starts[following] if following < len(starts) else len(text)
        chunk = parse(text[starts[first] : end])
        if not isinstance(chunk, list) or len(chunk) != min(ITEMS_PER_CHUNK, len(starts) - first):
            raise NotASimpleList("the file is not a plain list of items")
        yield from chunk
