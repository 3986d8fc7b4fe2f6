"""Reading a judge's verdict: the first object in its answer, and the fields of a verdict.

Small judges answer loosely: raw newlines inside strings (llama.cpp's JSON grammar lets
control characters through), Python literals (``{'pass': True}``), trailing commas, bare
keys (``{pass: true}``, as promptfoo's own prompts write the format), an object wrapped
in prose or a code fence, ``1``/``"yes"`` for true. All of that is read. What cannot be
read with confidence (a score off the scale it was asked for, a verdict without its
fields) raises ValueError, which makes the judge ask once more.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["as_bool", "as_score", "field", "parse_json_object", "reason_of"]

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)
#: Raw control characters inside strings are accepted (strict=False).
_DECODER = json.JSONDecoder(strict=False)
#: Longer answers are not a verdict; the bound also keeps ast.literal_eval cheap.
MAX_CHARS = 20_000

_TRUE = {"true", "yes", "y", "t", "pass", "passed", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "fail", "failed", "0", "0.0"}


def parse_json_object(text: str) -> dict[str, Any]:
    """The first object in ``text`` (bare, in a code fence, or amid prose), read leniently."""
    text = text[:MAX_CHARS]
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        for match in re.finditer(r"\{", candidate):
            found = _object_at(candidate, match.start())
            if found is not None:
                return found
    raise ValueError("no JSON object found")


def _object_at(text: str, start: int) -> dict[str, Any] | None:
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    end = _balanced_end(text, start)
    if end is None:
        return None
    chunk = text[start:end]
    try:
        value = json.loads(_as_json(chunk), strict=False)
    except ValueError:
        try:
            value = ast.literal_eval(chunk)  # literals only: never evaluates code
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _string_end(text: str, start: int) -> int:
    """The index after the string that opens at ``start`` (its quote), or len(text)."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _balanced_end(text: str, start: int) -> int | None:
    """The index after the brace that closes the one at ``start``, skipping strings."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _string_end(text, i)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


_WORDS = {"True": "true", "true": "true", "False": "false", "false": "false"}
_WORDS |= {"None": "null", "null": "null", "none": "null"}


def _as_json(chunk: str) -> str:
    """Python-ish or JavaScript-ish object text as JSON: single-quoted strings, bare keys,
    True/False/None, trailing commas."""
    out: list[str] = []
    last = ""  # the last character written that is not a space
    i = 0
    n = len(chunk)
    while i < n:
        char = chunk[i]
        if char in "\"'":
            end = _string_end(chunk, i)
            body = chunk[i + 1 : end - 1]
            if char == "'":
                body = body.replace("\\'", "'").replace('"', '\\"')
            out.append(f'"{body}"')
            last = '"'
            i = end
            continue
        if char == ",":
            k = i + 1
            while k < n and chunk[k].isspace():
                k += 1
            if k < n and chunk[k] in "}]":
                i += 1  # a trailing comma
                continue
        if char.isalpha() or char == "_":
            k = i
            while k < n and (chunk[k].isalnum() or chunk[k] == "_"):
                k += 1
            word = chunk[i:k]
            rest = k
            while rest < n and chunk[rest].isspace():
                rest += 1
            if rest < n and chunk[rest] == ":" and last in ("{", ","):
                out.append(json.dumps(word))
            else:
                out.append(_WORDS.get(word, word))
            last = word[-1]
            i = k
            continue
        out.append(char)
        if not char.isspace():
            last = char
        i += 1
    return "".join(out)


# --- the fields of a verdict -----------------------------------------------------------------


def field(data: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` present (keys compared case-insensitively)."""
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def reason_of(data: Mapping[str, Any]) -> str:
    reason = field(data, "reason", "reasoning", "explanation", "rationale")
    return " ".join(str(reason).split()) if reason is not None else "no reason given"


def as_bool(value: Any, name: str) -> bool:
    """true/false, 1/0, and the words judges use for them ("yes", "no", "pass", ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().strip(".!").lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"'{name}' is not a boolean: {value!r}")


def as_score(value: Any, low: float, high: float, name: str = "score") -> float:
    """A number on the scale [low, high] that the judge was asked for. A string may be a
    number, "N/high", or, on a 0-1 scale, a percentage. Anything off the scale raises:
    whether 7 meant 7/10 or a mistake cannot be told."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        ratio = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", text)
        percent = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*%", text)
        if ratio and float(ratio.group(2)) == high:
            number = float(ratio.group(1))
        elif percent and (low, high) == (0, 1):
            number = float(percent.group(1)) / 100
        elif re.fullmatch(r"-?\d+(?:\.\d+)?", text):
            number = float(text)
    if number is None or math.isnan(number):
        raise ValueError(f"'{name}' is not a number: {value!r}")
    if not low <= number <= high:
        raise ValueError(f"'{name}' must lie between {low:g} and {high:g}, got {value!r}")
    return number
