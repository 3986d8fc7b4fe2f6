"""promptfoo's compact assertion strings, as CSV ``__expected`` columns hold them:
``contains:foo``, ``not-icontains:bar``, ``similar(0.8):text``, ``python:len(output)>3``, or
plain text for an ``equals`` check."""

from __future__ import annotations

import re
from typing import Any

from ..errors import SuiteError, did_you_mean

__all__ = ["parse_compact_assertion"]

_COMPACT = re.compile(
    r"^(?P<type>(?:not-)?[a-z][a-z0-9-]*)(?:\((?P<threshold>\d+(?:\.\d+)?)\))?(?::(?P<value>[\s\S]*))?$"
)
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


def parse_compact_assertion(text: str) -> dict[str, Any]:
    """``contains:foo``, ``not-icontains:bar``, ``similar(0.8):text``, ``python:len(output)>3``;
    text that names no known type is an ``equals`` check of the whole text. A prefix that
    is a near miss of a registered type (``contians:pear``) raises SuiteError (unlocated)."""
    from ..eval._registry import find_assertion, split_negation

    stripped = text.strip()
    for prefix, kind in _CODE_PREFIXES.items():
        if stripped.startswith(prefix):
            return {"type": kind, "value": stripped[len(prefix) :].strip()}
    match = _COMPACT.match(stripped)
    if match:
        kind = match["type"]
        base, _ = split_negation(kind)
        if find_assertion(base) is None and match["value"] is not None:
            _reject_unknown_prefix(kind, base, match["value"])
        if find_assertion(base) is not None and (
            match["value"] is not None or base in _NO_VALUE_TYPES
        ):
            item: dict[str, Any] = {"type": kind}
            value = match["value"]
            if value is not None and value != "":
                item["value"] = value.strip() if base not in _LIST_TYPES else value
            if match["threshold"] is not None:
                item["threshold"] = float(match["threshold"])
            return item
    return {"type": "equals", "value": text}


def _reject_unknown_prefix(kind: str, base: str, value: str) -> None:
    """Raise for ``type:value`` whose type is promptfoo's or a near miss of a registered
    one: a typo must not quietly become an equals check that fails for the wrong reason."""
    from ..eval._registry import assertion_types

    if value.startswith("//"):  # a URL (http://...), not an assertion
        return
    names = list(assertion_types())
    hint = did_you_mean(base, names)
    if not hint and base not in _PROMPTFOO_TYPES:
        return
    if hint and kind != base:
        hint = hint.replace("'", "'not-", 1)
    raise SuiteError(
        f"unknown assertion type '{kind}'{hint}; to expect this exact text, start it with 'equals:'"
    )
