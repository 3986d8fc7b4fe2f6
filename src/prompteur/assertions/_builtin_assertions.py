"""The built-in deterministic assertion types (promptfoo's names and semantics): the text
checks here, JSON in ``_builtin_json``, code and the call's properties in ``_builtin_code``."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence

from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

PASS = 1.0
FAIL = 0.0


def _verdict(passed: bool, reason: str) -> GradeResult:
    return GradeResult(passed, PASS if passed else FAIL, reason)


def _two_verdicts(
    check: Callable[[str], bool], passed: str, failed: str
) -> Callable[[GradingContext], GradeResult]:
    """A grader for a yes/no check of the output whose reasons do not depend on the output:
    both verdicts are made once (they are immutable) and handed out."""
    yes, no = GradeResult(True, PASS, passed), GradeResult(False, FAIL, failed)

    def grade(ctx: GradingContext) -> GradeResult:
        return yes if check(ctx.output) else no

    return grade


def _short(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text)


def _require_text(spec: AssertionSpec) -> str:
    value = spec.value
    if value is None or isinstance(value, dict | list) or value == "":
        raise AssertionValueError(f"'{spec.type}' needs a text 'value'")
    return str(value)


def _text_list(spec: AssertionSpec) -> list[str]:
    value = spec.value
    if isinstance(value, str):
        # promptfoo's compact form: a comma-separated list, quotes allowed around items
        items = next(csv.reader([value], skipinitialspace=True), [])
    elif isinstance(value, list):
        items = [str(v) for v in value]
    else:
        items = []
    items = [item.strip() for item in items if item.strip()]
    if not items:
        raise AssertionValueError(f"'{spec.type}' needs a list of strings as 'value'")
    return items


# --- substring and prefix checks -------------------------------------------------------------


@assertion("equals")
def equals(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output equals the value (compared as JSON when the value is an object or list)."""
    expected = spec.value
    if isinstance(expected, dict | list):

        def grade_json(ctx: GradingContext) -> GradeResult:
            try:
                parsed = json.loads(ctx.output)
            except ValueError:
                return _verdict(False, "output is not JSON")
            same = parsed == expected
            return _verdict(
                same,
                "output equals the expected JSON"
                if same
                else "output differs from the expected JSON",
            )

        return grade_json
    if expected is None:
        raise AssertionValueError("'equals' needs a 'value'")
    text = str(expected)
    shown = _short(text)
    return _two_verdicts(text.__eq__, f"output equals {shown}", f"output is not equal to {shown}")


@assertion("contains")
def contains(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains the value (case-sensitive)."""
    needle = _require_text(spec)
    shown = _short(needle)
    return _two_verdicts(
        lambda output: needle in output,
        f"output contains {shown}",
        f"output does not contain {shown}",
    )


@assertion("icontains")
def icontains(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains the value, ignoring case."""
    needle = _require_text(spec)
    folded, shown = needle.lower(), _short(needle)
    return _two_verdicts(
        lambda output: folded in output.lower(),
        f"output contains {shown} (ignoring case)",
        f"output does not contain {shown} (ignoring case)",
    )


def _any_all(
    spec: AssertionSpec, *, need_all: bool, fold: bool
) -> Callable[[GradingContext], GradeResult]:
    needles = _text_list(spec)
    probes = [n.lower() for n in needles] if fold else needles
    case_note = " (ignoring case)" if fold else ""

    def grade(ctx: GradingContext) -> GradeResult:
        haystack = ctx.output.lower() if fold else ctx.output
        found = [n for n, p in zip(needles, probes, strict=True) if p in haystack]
        if need_all:
            missing = [n for n in needles if n not in found]
            if missing:
                return _verdict(False, f"output lacks {', '.join(map(_short, missing))}{case_note}")
            return _verdict(True, f"output contains all of {len(needles)} values{case_note}")
        if found:
            return _verdict(True, f"output contains {_short(found[0])}{case_note}")
        return _verdict(
            False, f"output contains none of {', '.join(map(_short, needles))}{case_note}"
        )

    return grade


@assertion("contains-any")
def contains_any(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains at least one of the values."""
    return _any_all(spec, need_all=False, fold=False)


@assertion("contains-all")
def contains_all(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains every one of the values."""
    return _any_all(spec, need_all=True, fold=False)


@assertion("icontains-any")
def icontains_any(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains at least one of the values, ignoring case."""
    return _any_all(spec, need_all=False, fold=True)


@assertion("icontains-all")
def icontains_all(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains every one of the values, ignoring case."""
    return _any_all(spec, need_all=True, fold=True)


@assertion("starts-with")
def starts_with(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output starts with the value."""
    prefix = _require_text(spec)
    shown = _short(prefix)
    return _two_verdicts(
        lambda output: output.startswith(prefix),
        f"output starts with {shown}",
        f"output does not start with {shown}",
    )


@assertion("regex")
def regex(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output matches the regular expression (Python syntax, searched anywhere)."""
    pattern_text = _require_text(spec)
    try:
        pattern = re.compile(pattern_text)
    except re.error as exc:
        raise AssertionValueError(f"invalid regular expression {pattern_text!r}: {exc}") from None

    return _two_verdicts(
        lambda output: pattern.search(output) is not None,
        f"output matches /{pattern_text}/",
        f"output does not match /{pattern_text}/",
    )


def registered_names() -> Sequence[str]:
    """The names this module registers (for documentation)."""
    from ._registry import assertion_types

    return sorted(assertion_types())
