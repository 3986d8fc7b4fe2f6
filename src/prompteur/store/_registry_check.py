"""Checking a template before the registry keeps it: it must hold something to send and
compile, and an error names its line and column in the file the template came from."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

from ..core._errors import Location, TemplateError
from ..prompts._template import _ROLE_LINE, CHAT_ROLES, ROLES, environment, parse_role_markers

if TYPE_CHECKING:
    from ._registry_source import PromptSource

__all__ = ["Place", "check_source", "syntax_error", "text_parts"]


@dataclass(frozen=True)
class Place:
    """Where a template's text starts in a file. ``exact``: positions in the text map to
    positions in the file (not so in a JSON string, whose line breaks are escapes)."""

    file: str
    line: int = 1
    column: int = 1
    exact: bool = True

    def at(self, line: int, column: int) -> Location:
        if not self.exact:
            return Location(self.file, self.line, self.column)
        if line == 1:
            return Location(self.file, self.line, self.column + column - 1)
        return Location(self.file, self.line + line - 1, column)

    def inner(self, line: int, column: int) -> Place:
        start = self.at(line, column)
        return Place(self.file, start.line, start.column, self.exact)


def text_parts(text: str) -> list[tuple[str, int, int]]:
    """The parts a text template compiles to, as :func:`parse_role_markers` splits them,
    each with the line and column (in ``text``) where its stripped body starts."""
    if parse_role_markers(text) is None:
        return [(text, 1, 1)]
    found: list[tuple[list[str], int, int]] = []
    for number, text_line in enumerate(text.splitlines(keepends=True), start=1):
        match = _ROLE_LINE.match(text_line.rstrip("\r\n"))
        if match:
            rest = match.group(2)
            if rest:
                found.append(([rest + "\n"], number, match.start(2) + 1))
            else:
                found.append(([], number + 1, 1))
        elif found:
            found[-1][0].append(text_line)
    parts = []
    for chunks, line, column in found:
        raw = "".join(chunks)
        lead = raw[: len(raw) - len(raw.lstrip())]
        if "\n" in lead:
            line += lead.count("\n")
            column = len(lead) - lead.rfind("\n")
        else:
            column += len(lead)
        parts.append((raw.strip(), line, column))
    return parts


def check_source(
    source: PromptSource, place: Place, message_places: Sequence[Place] | None = None
) -> None:
    """Refuse a template that could never render: one with nothing in it, or one that
    does not compile (with the line and column of the error in its file)."""
    if source.format == "messages":
        messages = json.loads(source.template)
        if not isinstance(messages, list):
            raise TemplateError("a chat prompt must be a list of messages", place.at(1, 1))
        _check_messages(messages, place, message_places)
    else:
        parts = text_parts(source.template)
        if not any(body.strip() for body, _, _ in parts):
            raise TemplateError("the prompt is empty", place.at(1, 1))
        for body, line, column in parts:
            error = syntax_error(body)
            if error is not None:
                where = place.inner(line, column).at(error[0], error[1])
                raise TemplateError(f"template syntax error: {error[2]}", where)
    try:  # the project's compiler has the last word: what it refuses, a run would refuse
        source.template_for(id=place.file, label=place.file)
    except TemplateError as exc:
        raise TemplateError(exc.message, exc.location or place.at(1, 1)) from None


def _check_messages(
    messages: Sequence[Any], place: Place, message_places: Sequence[Place] | None
) -> None:
    if not any(isinstance(m, dict) and str(m.get("content") or "").strip() for m in messages):
        raise TemplateError("the prompt holds no message with any content", place.at(1, 1))
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue  # the compiler names it below
        where = message_places[index] if message_places else Place(place.file, 0, 0, False)
        if message.get("role") not in CHAT_ROLES:
            raise TemplateError(
                f"message {index + 1} has the role {message.get('role')!r}: use "
                f"{', '.join(ROLES)}, developer or tool",
                where.at(1, 1),
            )
        error = syntax_error(str(message.get("content") or ""))
        if error is None:
            continue
        line, column, problem = error
        inside = "" if where.exact else f" (line {line}, column {column} of its content)"
        raise TemplateError(
            f"template syntax error in message {index + 1}{inside}: {problem}",
            where.at(line, column),
        )


def syntax_error(text: str) -> tuple[int, int, str] | None:
    """(line, column, message) of the first Jinja2 syntax error in ``text``, if any.
    Jinja2 gives the line; the column is that of the tag the error is found in."""
    failure = _compile_error(text)
    if failure is None:
        return None
    line, message = failure
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    start = starts[line - 1] if line - 1 < len(starts) else starts[-1]
    end = starts[line] if line < len(starts) else len(text)
    # the shortest prefix that fails the same way ends inside the faulty tag
    low, high = start, end
    if _compile_error(text[:high]) != failure:
        high = len(text)
    while low < high:
        middle = (low + high) // 2
        if _compile_error(text[:middle]) == failure:
            high = middle
        else:
            low = middle + 1
    segment = text[start : max(high, start)]
    tag = max(segment.rfind("{{"), segment.rfind("{%"), segment.rfind("{#"))
    if tag < 0:
        tags = [i for i in (text.find(d, start, end) for d in ("{{", "{%", "{#")) if i >= 0]
        tag = min(tags) - start if tags else 0
    return line, tag + 1, message


def _compile_error(text: str) -> tuple[int, str] | None:
    try:
        environment().compile(text)
    except jinja2.TemplateSyntaxError as exc:
        return exc.lineno or 1, exc.message or "invalid template"
    return None
