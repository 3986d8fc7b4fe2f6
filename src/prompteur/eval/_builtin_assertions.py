"""The built-in deterministic assertion types (promptfoo's names and semantics)."""

from __future__ import annotations

import builtins
import csv
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _pyload
from ..config._source import loads_yaml, read_structured
from ..errors import SuiteError
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


# --- JSON ------------------------------------------------------------------------------------


def _schema_validator(spec: AssertionSpec, *, required: bool) -> Any:
    schema = spec.value
    if isinstance(schema, str) and schema.strip():
        if schema.startswith("file://"):
            path = spec.base_dir / schema.removeprefix("file://")
            try:
                schema = read_structured(path, None)
            except SuiteError as exc:
                raise AssertionValueError(f"cannot read the JSON schema: {exc}") from None
        else:
            try:
                schema = loads_yaml(schema)  # JSON is YAML too
            except ValueError:
                raise AssertionValueError("the JSON schema is neither JSON nor YAML") from None
    if schema is None or schema == "":
        if required:
            raise AssertionValueError(f"'{spec.type}' needs a JSON schema as 'value'")
        return None
    if not isinstance(schema, dict):
        raise AssertionValueError("a JSON schema must be an object")
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise AssertionValueError(f"invalid JSON schema: {exc.message}") from None
    return cls(schema)


def _schema_problem(validator: Any, document: Any) -> str | None:
    if validator is None:
        return None
    error = next(iter(validator.iter_errors(document)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the document"
    return f"{where}: {error.message}"


def _json_check(
    spec: AssertionSpec, *, schema_required: bool
) -> Callable[[GradingContext], GradeResult]:
    validator = _schema_validator(spec, required=schema_required)

    def grade(ctx: GradingContext) -> GradeResult:
        try:
            document = json.loads(ctx.output)
        except ValueError as exc:
            return _verdict(
                False,
                f"output is not valid JSON ({exc.msg} at char {exc.pos})"
                if isinstance(exc, json.JSONDecodeError)
                else "output is not valid JSON",
            )
        problem = _schema_problem(validator, document)
        if problem is not None:
            return _verdict(False, f"output JSON does not match the schema: {problem}")
        return _verdict(
            True, "output is valid JSON" + (" matching the schema" if validator else "")
        )

    return grade


@assertion("is-json")
def is_json(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output is valid JSON; with a value, it also matches that JSON schema."""
    return _json_check(spec, schema_required=False)


@assertion("json-schema")
def json_schema(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output is valid JSON matching the JSON schema given as value."""
    return _json_check(spec, schema_required=True)


def _embedded_json(text: str) -> list[Any]:
    """Every JSON object or array that appears inside ``text``, outermost first."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    while True:
        starts = [i for i in (text.find("{", index), text.find("[", index)) if i != -1]
        if not starts:
            return found
        start = min(starts)
        try:
            document, end = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        found.append(document)
        index = end


@assertion("contains-json")
def contains_json(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output contains a JSON object or array; with a value, one that matches the schema."""
    validator = _schema_validator(spec, required=False)

    def grade(ctx: GradingContext) -> GradeResult:
        documents = _embedded_json(ctx.output)
        if not documents:
            return _verdict(False, "output contains no JSON")
        if validator is None:
            return _verdict(True, "output contains JSON")
        problems = [_schema_problem(validator, d) for d in documents]
        if any(p is None for p in problems):
            return _verdict(True, "output contains JSON matching the schema")
        return _verdict(False, f"no JSON in the output matches the schema: {problems[0]}")

    return grade


# --- code --------------------------------------------------------------------------------------

_SAFE_GLOBALS: dict[str, Any] = {"__builtins__": builtins, "json": json, "re": re, "math": math}


def python_result(value: Any, threshold: float | None, source: str) -> GradeResult:
    """Interpret what python code returned: bool, number, or a {pass, score, reason} mapping."""
    if isinstance(value, bool):
        return _verdict(value, f"{source} returned {value}")
    if isinstance(value, int | float):
        score = float(value)
        passed = score >= threshold if threshold is not None else score > 0
        return GradeResult(passed, score, f"{source} returned score {score:g}")
    if isinstance(value, Mapping):
        raw_pass = value.get("pass", value.get("pass_"))
        raw_score = value.get("score")
        given = float(raw_score) if isinstance(raw_score, int | float) else None
        if raw_pass is None:
            if given is None:
                raise TypeError("the returned mapping has neither 'pass' nor 'score'")
            raw_pass = given >= threshold if threshold is not None else given > 0
        passed = bool(raw_pass)
        final = given if given is not None else (PASS if passed else FAIL)
        reason = str(value.get("reason") or f"{source} returned pass={passed}")
        return GradeResult(passed, final, reason)
    raise TypeError(f"expected bool, number or {{pass, score, reason}}, got {type(value).__name__}")


@assertion("python")
def python(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """Trusted Python: an inline expression or body over ``output`` and ``context``, or
    ``file://checks.py:fn`` called as ``fn(output, context)``. Returns bool, score or a mapping."""
    code_text = _require_text(spec)
    threshold = spec.threshold
    ref = _pyload.parse_callable_ref(code_text)
    fn: Callable[..., Any]
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

    def grade(ctx: GradingContext) -> GradeResult:
        return python_result(fn(ctx.output, ctx.as_dict()), threshold, source)

    return grade


# --- distance, size, and properties of the call -----------------------------------------------


@assertion("levenshtein")
def levenshtein(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The edit distance between output and value is at most the threshold (default 5)."""
    expected = _require_text(spec)
    limit = spec.threshold if spec.threshold is not None else 5.0
    from rapidfuzz.distance import Levenshtein

    def grade(ctx: GradingContext) -> GradeResult:
        distance = Levenshtein.distance(ctx.output, expected)
        ok = distance <= limit
        return _verdict(
            ok,
            f"edit distance to {_short(expected)} is {distance} ({'≤' if ok else '>'} {limit:g})",
        )

    return grade


def _count_bounds(spec: AssertionSpec) -> tuple[int | None, int | None]:
    value = spec.value
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        exact = int(value)
        return exact, exact
    if isinstance(value, dict):
        unknown = set(value) - {"min", "max"}
        if unknown:
            raise AssertionValueError(f"'word-count' takes 'min' and 'max', not {sorted(unknown)}")
        low, high = value.get("min"), value.get("max")
        if (low is None and high is None) or not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (low, high)
        ):
            raise AssertionValueError("'word-count' needs integer 'min' and/or 'max'")
        if low is not None and high is not None and low > high:
            raise AssertionValueError(f"'word-count' min ({low}) is greater than max ({high})")
        return low, high
    raise AssertionValueError("'word-count' needs a number or {min, max} as 'value'")


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


def _require_threshold(spec: AssertionSpec, unit: str) -> float:
    if spec.threshold is None:
        raise AssertionValueError(f"'{spec.type}' needs a 'threshold' ({unit})", key="threshold")
    return spec.threshold


@assertion("latency")
def latency(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The model call took at most ``threshold`` milliseconds."""
    limit = _require_threshold(spec, "milliseconds")

    def grade(ctx: GradingContext) -> GradeResult:
        if ctx.latency_ms is None:
            return GradeResult(False, FAIL, "latency is unknown", undecided=True)
        ok = ctx.latency_ms <= limit
        return _verdict(ok, f"latency {ctx.latency_ms:.0f} ms ({'≤' if ok else '>'} {limit:g} ms)")

    return grade


@assertion("cost")
def cost(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The model call cost at most ``threshold`` (in the provider's currency, usually USD)."""
    limit = _require_threshold(spec, "a cost")

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


@assertion("finish-reason")
def finish_reason(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The model stopped for the given reason (``stop``, ``length``, ``tool_calls``...)."""
    wanted = normalise_finish_reason(_require_text(spec))

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


def registered_names() -> Sequence[str]:
    """The names this module registers (for documentation)."""
    from ._registry import assertion_types

    return sorted(assertion_types())
