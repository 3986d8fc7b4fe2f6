"""Keys that neither prompteur nor promptfoo reads. promptfoo warns about a key its schema
does not know and runs on; so does prompteur, for the suite's own keys, its inline tests
(``defaultTest`` too), their options and their assertions. Left in place, to be refused:
a key of promptfoo's schema that prompteur does not read (its feature would be lost), and
a typo of a key prompteur reads (one or two letters off: ``asert``), which promptfoo would
silently drop."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from rapidfuzz.distance import Levenshtein

from ..core._errors import did_you_mean
from ._models import Assertion, Suite, TestCase, TestOptions
from ._source import KeyPath, SourceFile

__all__ = ["PROMPTFOO_KEYS", "without_foreign_keys"]

_LOG = logging.getLogger("prompteur.suite")

#: The keys of promptfoo's config schema (0.118), by the part of a config they belong to.
PROMPTFOO_KEYS: dict[str, frozenset[str]] = {
    "suite": frozenset(
        [
            "tags",
            "description",
            "providers",
            "targets",
            "prompts",
            "tests",
            "scenarios",
            "defaultTest",
            "outputPath",
            "sharing",
            "nunjucksFilters",
            "env",
            "derivedMetrics",
            "extensions",
            "metadata",
            "redteam",
            "writeLatestResults",
            "tracing",
            "evaluateOptions",
            "commandLineOptions",
        ]
    ),
    "test": frozenset(
        [
            "description",
            "vars",
            "provider",
            "providerOutput",
            "assert",
            "assertScoringFunction",
            "options",
            "threshold",
            "metadata",
        ]
    ),
    "options": frozenset(
        [
            "prefix",
            "suffix",
            "postprocess",
            "transform",
            "transformVars",
            "storeOutputAs",
            "rubricPrompt",
            "provider",
            "factuality",
            "disableVarExpansion",
            "disableConversationVar",
            "runSerially",
        ]
    ),
    "assertion": frozenset(
        [
            "type",
            "value",
            "config",
            "threshold",
            "weight",
            "provider",
            "rubricPrompt",
            "metric",
            "transform",
            "contextTransform",
            "assert",
        ]
    ),
}


#: Keys close to one of ours that promptfoo's own examples write and promptfoo drops (its
#: schema does not know them): ignored with a warning, as promptfoo ignores them, rather
#: than refused as a typo. ``options.providers`` reads as graders, but promptfoo's grading
#: uses ``options.provider`` only.
DROPPED_BY_PROMPTFOO: dict[str, frozenset[str]] = {"options": frozenset(["providers"])}


def _ours(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields) | {
        field.alias for field in model.model_fields.values() if field.alias
    }


_OURS = {
    "suite": _ours(Suite),
    "test": _ours(TestCase),
    "options": _ours(TestOptions),
    "assertion": _ours(Assertion),
}


def without_foreign_keys(data: dict[str, Any], source: SourceFile) -> dict[str, Any]:
    """The suite without the keys neither tool reads, each named in a warning."""
    data = _pruned(data, "suite", (), source)
    tests = data.get("tests")
    if isinstance(tests, list):
        tests = [_test(t, ("tests", i), source) for i, t in enumerate(tests)]
        data = {**data, "tests": tests}
    if isinstance(data.get("defaultTest"), dict):
        data = {**data, "defaultTest": _test(data["defaultTest"], ("defaultTest",), source)}
    return data


def _test(test: Any, path: KeyPath, source: SourceFile) -> Any:
    if not isinstance(test, dict) or "path" in test:  # a file or generator, with settings
        return test
    test = _pruned(test, "test", path, source)
    if isinstance(test.get("options"), dict):
        test = {**test, "options": _pruned(test["options"], "options", (*path, "options"), source)}
    asserts = test.get("assert")
    if isinstance(asserts, list):
        asserts = [
            _pruned(a, "assertion", (*path, "assert", i), source) if isinstance(a, dict) else a
            for i, a in enumerate(asserts)
        ]
        test = {**test, "assert": asserts}
    return test


def _pruned(node: dict[str, Any], part: str, path: KeyPath, source: SourceFile) -> dict[str, Any]:
    ours, theirs = _OURS[part], PROMPTFOO_KEYS[part]
    foreign = [
        key
        for key in node
        if isinstance(key, str)
        and key not in ours
        and key not in theirs
        and not key.startswith("$")  # $schema, and $ref pointers that lead nowhere
        and (key in DROPPED_BY_PROMPTFOO.get(part, ()) or not _typo_of(key, ours))
    ]
    if not foreign:
        return node
    _warn(foreign, ours, path, source)
    return {k: v for k, v in node.items() if k not in foreign}


def _warn(keys: Iterable[str], ours: set[str], path: KeyPath, source: SourceFile) -> None:
    for key in keys:
        _LOG.warning(
            "warning: %s: key '%s' is not part of prompteur's or promptfoo's config and is "
            "ignored, as promptfoo ignores it%s",
            source.location((*path, key), at_key=True),
            key,
            did_you_mean(key, sorted(ours)),
        )


def _typo_of(key: str, ours: set[str]) -> bool:
    """Whether ``key`` looks like a misspelling of one of our keys (two letters off, or
    as close as ``assertions`` to ``assert``): refused then, not ignored, since dropping
    it could make a failing suite pass."""
    lowered = key.lower()
    if any(Levenshtein.distance(lowered, k.lower(), score_cutoff=2) <= 2 for k in ours):
        return True
    return bool(difflib.get_close_matches(key, list(ours), n=1, cutoff=0.75))
