"""What nunjucks (promptfoo's template engine) does that Jinja2 does not: its filters
(``dump``, ``nl2br``), and how it writes a value into the text, so that a promptfoo suite
sends the same prompts here.

nunjucks writes a value as JavaScript's ``String(value)`` does: ``true``, not ``True``;
nothing for null; an array as its items joined by commas (``[1, "a"]`` → ``1,a``); an
object as ``[object Object]`` (write ``{{ x | dump }}`` for its JSON); numbers as
JavaScript prints them (``1.0`` → ``1``, ``1e-7`` → ``1e-7``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import jinja2

__all__ = ["NUNJUCKS_FILTERS", "js_text"]


def js_text(value: Any) -> str:
    """``value`` as nunjucks writes it into a template's output (JavaScript's String())."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # JavaScript numbers are doubles: beyond 2**53 they print as the double they are
        return str(value) if abs(value) < 2**53 else js_number(float(value))
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, list | tuple):
        # Array.prototype.join: null items are empty, nested arrays flatten
        return ",".join("" if item is None else js_text(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def js_number(value: float) -> str:
    """JavaScript's Number.prototype.toString() of a double (ECMA-262 Number::toString)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that read back as the same double, as JavaScript does
    parts = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, parts.digits))
    size = len(digits)
    point = int(parts.exponent) + size  # the decimal point sits after this many digits
    if size <= point <= 21:
        body = digits + "0" * (point - size)
    elif 0 < point <= 21:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        exponent = point - 1
        mark = f"e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
        body = digits + mark if size == 1 else f"{digits[0]}.{digits[1:]}{mark}"
    return sign + body


def _dump(value: Any, indent: int | str | None = None) -> str:
    """nunjucks' ``dump``: JSON.stringify(value, null, indent). Compact without an indent
    (``{"a":1}``), as promptfoo users' chat prompts expect, and never ASCII-escaped."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(indent, int) and not isinstance(indent, bool):
        spacing: int | str | None = min(indent, 10) if indent > 0 else None
    elif isinstance(indent, str):
        spacing = indent[:10] or None
    else:
        spacing = None
    separators = (",", ":") if spacing is None else (",", ": ")
    return json.dumps(value, ensure_ascii=False, indent=spacing, separators=separators, default=str)


def _nl2br(value: Any) -> str:
    """nunjucks' ``nl2br``: a ``<br />`` before each line break."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    return re.sub(r"\r\n|\n", "<br />\n", str(value))


def _load(value: Any) -> Any:
    """promptfoo's ``load``: the value read as JSON (JSON.parse)."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return json.loads(value if isinstance(value, str) else str(value))


def _pairs(value: Any) -> Any:
    """What a two-name ``for`` walks: an object's (key, value) pairs, as in nunjucks;
    anything else as it is (a list of pairs)."""
    if isinstance(value, Mapping):
        return list(value.items())
    return value


# `{% for key, value in expression %}`: nunjucks walks an object's entries, Jinja2 its keys
_FOR_PAIRS = re.compile(r"(\{%-?\s*for\s+\w+\s*,\s*\w+\s+in\s+)(.+?)(\s*-?%\})", re.DOTALL)


def nunjucks_source(source: str) -> str:
    """A template's text with nunjucks' meaning where Jinja2 reads it otherwise: a ``for``
    with two names over an object walks its entries."""
    if "{%" not in source:
        return source
    return _FOR_PAIRS.sub(r"\1(\2) | nunjucks_pairs\3", source)


#: Filters of nunjucks that Jinja2 lacks, and promptfoo's ``load``.
NUNJUCKS_FILTERS = {"dump": _dump, "nl2br": _nl2br, "load": _load, "nunjucks_pairs": _pairs}
