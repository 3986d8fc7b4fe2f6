"""Built-in assertion types on code, distance, size, and the call itself: python,
levenshtein, word-count, latency, cost, finish-reason."""

from __future__ import annotations

import builtins
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core import _pyload
from ..core._errors import SuiteError, did_you_mean
from ..core._time_limit import call_with_time_limit
from ._builtin_assertions import FAIL, PASS, _require_text, _short, _verdict
from ._judge import GradingError
from ._python_explain import explain_false
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

# --- code --------------------------------------------------------------------------------------

_SAFE_GLOBALS: dict[str, Any] = {"__builtins__": builtins, "json": json, "re": re, "math": math}

#: Seconds a python check may take on one output; past them, it is the cell's error.
PYTHON_CHECK_SECONDS = 10.0


def _score(value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GradingError(
            f"{source} returned a malformed result: its score is {value!r}, not a number"
        )
    score = float(value)
    if not math.isfinite(score):
        raise GradingError(
            f"{source} returned a malformed result: its score is {score:g}, not a finite number"
        )
    return score


def python_result(value: Any, threshold: float | None, source: str) -> GradeResult:
    """Interpret what python code returned: bool, number, or a {pass, score, reason} mapping.
    Anything else, a ``pass`` that is not a bool or a score that is not a finite number, is
    a malformed result: GradingError (the cell's error; its output was not judged)."""
    if isinstance(value, bool):
        return _verdict(value, f"{source} returned {value}")
    if isinstance(value, int | float):
        score = _score(value, source)
        passed = score >= threshold if threshold is not None else score > 0
        return GradeResult(passed, score, f"{source} returned score {score:g}")
    if isinstance(value, Mapping):
        raw_pass = value.get("pass", value.get("pass_"))
        raw_score = value.get("score")
        given = _score(raw_score, source) if raw_score is not None else None
        if raw_pass is None:
            if given is None:
                raise GradingError(
                    f"{source} returned a malformed result: a mapping with neither "
                    "'pass' nor 'score'"
                )
            raw_pass = given >= threshold if threshold is not None else given > 0
        if not isinstance(raw_pass, bool):
            raise GradingError(
                f"{source} returned a malformed result: 'pass' is {raw_pass!r}, not true or false"
            )
        final = given if given is not None else (PASS if raw_pass else FAIL)
        reason = str(value.get("reason") or f"{source} returned pass={raw_pass}")
        return GradeResult(raw_pass, final, reason)
    raise GradingError(
        f"{source} returned a malformed result: {type(value).__name__}; expected a bool, "
        "a number or {pass, score, reason}"
    )


@assertion("python")
def python(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """Trusted Python: an inline expression or body over ``output`` and ``context``, or
    ``file://checks.py:fn`` called as ``fn(output, context)``. Returns bool, score or a mapping.
    ``context`` is promptfoo's, the assertion's own ``config`` included."""
    code_text = _require_text(spec)
    threshold = spec.threshold
    config = spec.config
    ref = _pyload.parse_callable_ref(code_text)
    fn: Callable[..., Any]
    is_expression = False
    if ref is not None:
        path, name = ref
        try:
            fn = _pyload.load_callable(path, name or "get_assert", spec.base_dir)
        except SuiteError as exc:
            raise AssertionValueError(exc.message) from None
        source = f"{Path(path).name}:{name or 'get_assert'}"
    else:
        try:
            code, is_expression = _pyload.compile_inline(code_text)
        except SuiteError as exc:
            raise AssertionValueError(exc.message) from None
        source = "python"
        if is_expression:

            def fn(output: str, context: dict[str, Any]) -> Any:
                return eval(code, _SAFE_GLOBALS, {"output": output, "context": context})
        else:
            namespace: dict[str, Any] = dict(_SAFE_GLOBALS)
            exec(code, namespace)
            fn = namespace["_prompteur_assert"]

    # a passing verdict is made once: immutable, it serves every cell (and each cell's
    # stored result is then encoded once for the whole run)
    passed = python_result(True, threshold, source)
    what = "python check" if ref is None else f"python check {source}"
    expression = code_text if ref is None and is_expression else None

    def grade(ctx: GradingContext) -> GradeResult:
        context = ctx.as_promptfoo_context(config)
        value = call_with_time_limit(PYTHON_CHECK_SECONDS, what, fn, ctx.output, context)
        if value is True:
            return passed
        if value is False:
            return GradeResult(False, FAIL, _why_false(ctx.output, context))
        return python_result(value, threshold, source)

    def _why_false(output: str, context: dict[str, Any]) -> str:
        """What the check looked at, and the values it saw."""
        if expression is None:
            function = "the check's body" if ref is None else source
            return f"{function} returned False for output {_short(output)}"
        scope = {"output": output, "context": context}

        def evaluate(part: str) -> Any:
            return call_with_time_limit(
                PYTHON_CHECK_SECONDS, what, eval, part, _SAFE_GLOBALS, dict(scope)
            )

        return explain_false(expression, evaluate, output, context)

    return grade


# --- distance, size, and properties of the call -----------------------------------------------


@assertion("levenshtein")
def levenshtein(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The edit distance between output and value is at most the threshold (default 5)."""
    expected = _require_text(spec)
    limit = _non_negative(
        spec.threshold if spec.threshold is not None else 5.0,
        "the largest edit distance allowed",
    )
    from rapidfuzz.distance import Levenshtein

    def grade(ctx: GradingContext) -> GradeResult:
        distance = Levenshtein.distance(ctx.output, expected)
        ok = distance <= limit
        return _verdict(
            ok,
            f"edit distance to {_short(expected)} is {distance} ({'≤' if ok else '>'} {limit:g})",
        )

    return grade


def _word_count(value: Any, what: str) -> int:
    """A count of words as written in a suite: a whole number of 0 or more (CSV cells and
    templated values give text)."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise AssertionValueError(f"the {what} must be a whole number of words, not {value!r}")
    if value < 0:
        raise AssertionValueError(f"the {what} must be 0 or more, not {value}")
    return value


def _count_bounds(spec: AssertionSpec) -> tuple[int | None, int | None]:
    value = spec.value
    if isinstance(value, dict):
        unknown = set(value) - {"min", "max"}
        if unknown:
            raise AssertionValueError(f"'word-count' takes 'min' and 'max', not {sorted(unknown)}")
        if value.get("min") is None and value.get("max") is None:
            raise AssertionValueError("'word-count' needs 'min', 'max' or both")
        low, high = (
            None if value.get(key) is None else _word_count(value[key], f"'{key}'")
            for key in ("min", "max")
        )
        if low is not None and high is not None and low > high:
            raise AssertionValueError(f"'word-count' min ({low}) is greater than max ({high})")
        return low, high
    if value is None or isinstance(value, list):
        raise AssertionValueError("'word-count' needs a number or {min, max} as 'value'")
    exact = _word_count(value, "count")
    return exact, exact


@assertion("word-count")
def word_count(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output has exactly N words, or between ``min`` and ``max``."""
    low, high = _count_bounds(spec)

    def grade(ctx: GradingContext) -> GradeResult:
        count = len(ctx.output.split())
        ok = (low is None or count >= low) and (high is None or count <= high)
        if low == high:
            wanted = f"{low}"
        elif high is None:
            wanted = f"at least {low}"
        elif low is None:
            wanted = f"at most {high}"
        else:
            wanted = f"{low} to {high}"
        return _verdict(ok, f"output has {count} words (wanted {wanted})")

    return grade


def _require_threshold(spec: AssertionSpec, unit: str, meaning: str) -> float:
    if spec.threshold is None:
        raise AssertionValueError(f"'{spec.type}' needs a 'threshold' ({unit})", key="threshold")
    # no call takes less than no time, or costs less than nothing
    return _non_negative(spec.threshold, meaning)


def _non_negative(threshold: float, meaning: str) -> float:
    if threshold < 0:
        raise AssertionValueError(
            f"the threshold is {meaning}: 0 or more, not {threshold:g}", key="threshold"
        )
    return threshold


@assertion("latency")
def latency(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The model call took at most ``threshold`` milliseconds."""
    limit = _require_threshold(spec, "milliseconds", "the most a call may take, in milliseconds")

    def grade(ctx: GradingContext) -> GradeResult:
        if ctx.latency_ms is None:
            return GradeResult(False, FAIL, "latency is unknown", undecided=True)
        ok = ctx.latency_ms <= limit
        return _verdict(ok, f"latency {ctx.latency_ms:.0f} ms ({'≤' if ok else '>'} {limit:g} ms)")

    return grade


@assertion("cost")
def cost(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The model call cost at most ``threshold`` (in the provider's currency, usually USD)."""
    limit = _require_threshold(spec, "a cost", "the most a call may cost")

    def grade(ctx: GradingContext) -> GradeResult:
        if ctx.cost is None:
            return GradeResult(
                False, FAIL, f"cost is unknown for provider {ctx.provider_id}", undecided=True
            )
        ok = ctx.cost <= limit
        return _verdict(ok, f"cost {ctx.cost:.6g} ({'≤' if ok else '>'} {limit:g})")

    return grade


FINISH_REASON_ALIASES = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "eos": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "content_filtered": "content_filter",
}


def normalise_finish_reason(reason: str | None) -> str | None:
    """Map provider-specific finish reasons onto OpenAI's vocabulary."""
    if reason is None:
        return None
    key = reason.strip().lower()
    return FINISH_REASON_ALIASES.get(key, key)


#: The reasons OpenAI's API gives, which the others' are mapped onto.
FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls", "function_call")


@assertion("finish-reason")
def finish_reason(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The model stopped for the given reason (``stop``, ``length``, ``tool_calls``...)."""
    written = _require_text(spec)
    wanted = normalise_finish_reason(written)
    known = [*FINISH_REASONS, *FINISH_REASON_ALIASES]
    # a provider may report reasons of its own, so only a near miss of a known one is a typo
    hint = did_you_mean(str(wanted), known) if wanted not in known else ""
    if hint:
        raise AssertionValueError(
            f"unknown finish reason {written!r}{hint}; known: {', '.join(FINISH_REASONS)}"
        )

    def grade(ctx: GradingContext) -> GradeResult:
        actual = normalise_finish_reason(ctx.finish_reason)
        if actual is None:
            reason = f"finish reason is unknown for provider {ctx.provider_id}"
            return GradeResult(False, FAIL, reason, undecided=True)
        ok = actual == wanted
        return _verdict(
            ok, f"finish reason is {actual!r}" + ("" if ok else f" (wanted {wanted!r})")
        )

    return grade
