"""Where in its file a template's syntax error is: Jinja2 reports the template's line only,
and a template may sit anywhere in a file (a YAML block scalar, after a role marker)."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from ..config._reading import read_text
from ..core._errors import Location, SuiteError

__all__ = ["syntax_error_location"]

_TAG_OPENER = re.compile(r"\{[{%#]")
_TAG_CLOSER = {"{{": "}}", "{%": "%}", "{#": "#}"}


def _error_column(line: str) -> int:
    """Where on a template line Jinja2's syntax error most likely is (Jinja2 reports the
    line only): the first tag that is unclosed or does not parse alone, else the first tag,
    else the first character. 1-based."""
    from ._template import environment  # the one environment, for its syntax

    openers = [match.start() for match in _TAG_OPENER.finditer(line)]
    for start in openers:
        opener = line[start : start + 2]
        end = line.find(_TAG_CLOSER[opener], start + 2)
        if end < 0:
            return start + 1
        if opener == "{{":
            try:
                environment().parse(line[start : end + 2])
            except jinja2.TemplateSyntaxError:
                return start + 1
    if openers:
        return openers[0] + 1
    return len(line) - len(line.lstrip()) + 1


def syntax_error_location(source: str, origin: Location | None, lineno: int) -> Location | None:
    """The file position of line ``lineno`` of a template that starts at ``origin``. The
    template's text may sit in its file indented (a YAML block scalar), after a role
    marker, or past blank lines, so the erroneous line is looked up in the file; where it
    cannot be found, the position is counted from the origin."""
    if origin is None or not origin.line:
        return origin
    lines = source.splitlines()
    text = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    column = _error_column(text)
    expected = origin.line + lineno - 1
    if text.strip():
        try:
            file_lines = read_text(Path(origin.file), None).splitlines()
        except SuiteError:
            file_lines = []
        for number in range(expected, min(len(file_lines), expected + 1000) + 1):
            start = origin.column - 1 if number == origin.line and origin.column > 0 else 0
            found = file_lines[number - 1].find(text, start)
            if found >= 0:
                return Location(origin.file, number, found + column)
    if lineno == 1 and origin.column > 0:
        return Location(origin.file, origin.line, origin.column + column - 1)
    return Location(origin.file, expected, column)
