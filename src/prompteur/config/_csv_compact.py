"""promptfoo's compact assertion strings, as CSV ``__expected`` columns hold them:
``contains:foo``, ``not-icontains:bar``, ``similar(0.8):text``, ``python:len(output)>3``, or
plain text for an ``equals`` check."""

from __future__ import annotations

import re
from typing import Any

from ..core._errors import SuiteError, did_you_mean
from ._assertion_types import AssertionTypes, split_negation

__all__ = ["parse_compact_assertion"]

# loose on purpose: a malformed threshold or a type in capitals is refused, not read as text
_COMPACT = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9-]*)(?:\((?P<threshold>[^()]*)\))?(?::(?P<value>[\s\S]*))?$"
)
_THRESHOLD = re.compile(r"^\d+(?:\.\d+)?$|^\.\d+$")
_CODE_PREFIXES = {
    "python:": "python",
    "fn:": "javascript",
    "eval:": "javascript",
    "javascript:": "javascript",
    "grade:": "llm-rubric",
    "llm-rubric:": "llm-rubric",
}
_LIST_TYPES = {"contains-any", "contains-all", "icontains-any", "icontains-all"}
_NO_VALUE_TYPES = {"is-json", "contains-json"}
# promptfoo's own assertion types: in promptfoo, `rouge-n:...` is that assertion, so here it
# is an unknown type rather than an equals check of the text
_PROMPTFOO_NAMES = (
    "bleu classifier contains-html contains-sql contains-xml context-faithfulness "
    "context-recall context-relevance conversation-relevance gleu guardrails is-html is-sql "
    "is-valid-function-call is-valid-openai-function-call is-valid-openai-tools-call is-xml "
    "meteor model-graded-factuality moderation perplexity perplexity-score rouge-n ruby "
    "trace-error-spans trace-span-count trace-span-duration webhook"
)
_PROMPTFOO_TYPES = frozenset(_PROMPTFOO_NAMES.split())


def parse_compact_assertion(text: str, types: AssertionTypes) -> dict[str, Any]:
    """``contains:foo``, ``not-icontains:bar``, ``similar(0.8):text``, ``python:len(output)>3``;
    text that names no known type is an ``equals`` check of the whole text. A prefix that
    is a near miss of a registered type (``contians:pear``) raises SuiteError (unlocated)."""
    stripped = text.strip()
    for prefix, kind in _CODE_PREFIXES.items():
        if stripped.startswith(prefix):
            return {"type": kind, "value": stripped[len(prefix) :].strip()}
    match = _COMPACT.match(stripped)
    if match:
        kind = match["type"]
        base, _ = split_negation(kind)
        if kind != kind.lower() and match["value"] is not None:
            _reject_capitals(kind, types)
        if not types.is_registered(base) and match["value"] is not None:
            _reject_unknown_prefix(kind, base, match["value"], types)
        if types.is_registered(base) and (match["value"] is not None or base in _NO_VALUE_TYPES):
            item: dict[str, Any] = {"type": kind}
            value = match["value"]
            if value is not None and value != "":
                item["value"] = value.strip() if base not in _LIST_TYPES else value
            if match["threshold"] is not None:
                item["threshold"] = _threshold(kind, match["threshold"])
            return item
    return {"type": "equals", "value": text}


def _threshold(kind: str, text: str) -> float:
    if not _THRESHOLD.match(text.strip()):
        raise SuiteError(
            f"'{kind}({text})': the threshold in parentheses must be a number of 0 or more, "
            f"as in {kind}(0.8):text"
        )
    return float(text)


def _reject_capitals(kind: str, types: AssertionTypes) -> None:
    """Types are lower case: ``Contains:x`` is a typo of ``contains:x``, not a text to equal."""
    lower = kind.lower()
    if not types.is_registered(split_negation(lower)[0]) and f"{lower}:" not in _CODE_PREFIXES:
        return
    raise SuiteError(
        f"unknown assertion type '{kind}' (did you mean '{lower}'?); "
        "to expect this exact text, start it with 'equals:'"
    )


def _reject_unknown_prefix(kind: str, base: str, value: str, types: AssertionTypes) -> None:
    """Raise for ``type:value`` whose type is promptfoo's or a near miss of a registered
    one: a typo must not quietly become an equals check that fails for the wrong reason."""
    if value.startswith("//"):  # a URL (http://...), not an assertion
        return
    names = list(types.names())
    hint = did_you_mean(base, names)
    if not hint and base not in _PROMPTFOO_TYPES:
        return
    if hint and kind != base:
        hint = hint.replace("'", "'not-", 1)
    raise SuiteError(
        f"unknown assertion type '{kind}'{hint}; to expect this exact text, start it with 'equals:'"
    )
