"""Compiling a test's assertions: each distinct setting once, since graders are pure
functions of their spec and the tests of a large suite mostly share their checks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jinja2

from ..assertions._grading import CompiledAssertion, compile_assertion
from ..assertions._judge import JudgePool
from ..assertions._registry import (
    IGNORES_THRESHOLD,
    AssertionSpec,
    AssertionValueError,
    UnknownAssertionType,
    check_assertion_type,
    split_negation,
)
from ..assertions._transformed import with_transform
from ..config._tests import ResolvedTest
from ..core._errors import SuiteError
from ..core._json import canonical
from ..core._transforms import Transform, load_transform
from ..prompts._template import render_string

__all__ = ["AssertionCompiler"]

# Warnings about a suite that still runs; without a logging setup, Python prints them to
# stderr as they are (its last-resort handler), one line each.
_LOG = logging.getLogger("prompteur.suite")


def _render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Assertion values may use the test's variables, as in promptfoo: ``{{expected}}``."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return render_string(value, variables)
    if isinstance(value, list):
        return [_render_value(v, variables) for v in value]
    return value


_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})


def _settings_key(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return canonical(value)


class AssertionCompiler:
    """Compiles assertions, once per distinct settings: graders are pure functions of their
    spec, so the tests of a large suite that share a check share its grader."""

    def __init__(self, judges: JudgePool | None = None) -> None:
        self._cache: dict[tuple[Any, ...], CompiledAssertion] = {}
        self._known_types: set[str] = set()
        self._warned_thresholds: set[str] = set()
        self.judges = judges
        self._transforms: dict[tuple[str, str, str], Transform] = {}

    def transform(self, code: str, kind: str, test: ResolvedTest, what: str) -> Transform:
        """A transform, loaded once per code and folder."""
        key = (code, kind, str(test.base_dir))
        found = self._transforms.get(key)
        if found is None:
            found = load_transform(
                code, "vars" if kind == "vars" else "output", test.base_dir, what
            )
            self._transforms[key] = found
        return found

    def _warn_unused_threshold(self, base: str, test: ResolvedTest, position: int) -> None:
        """Say once per type, where it is first written, that a threshold does nothing."""
        if base in self._warned_thresholds:
            return
        self._warned_thresholds.add(base)
        origin = test.assertion_origin(position)
        where = f"{origin.location('threshold')}: " if origin else ""
        _LOG.warning(
            "warning: %s'threshold' has no effect on '%s' assertions (they pass or fail "
            "outright) and is ignored, as in promptfoo",
            where,
            base,
        )

    def compile(self, test: ResolvedTest) -> tuple[CompiledAssertion, ...]:
        compiled: list[CompiledAssertion] = []
        options_key = _settings_key(test.options) if test.options else None
        folder = str(test.base_dir)
        for position, assertion in enumerate(test.assertions):
            try:
                value = assertion.value
                # text first, without a call: nearly every value of a large suite is text
                if type(value) is str:
                    if ("{{" in value or "{%" in value) and not assertion.type.endswith("python"):
                        value = render_string(value, test.vars)
                    settings = value
                else:
                    if not assertion.type.endswith("python"):
                        value = _render_value(value, test.vars)
                    settings = value if type(value) in _PLAIN_VALUES else _settings_key(value)
                provider = assertion.provider
                metric = _metric_name(assertion.metric, test, position)
                key = (
                    assertion.type,
                    settings,
                    assertion.threshold,
                    assertion.weight,
                    metric,
                    folder,
                    options_key,
                    None if provider is None else _settings_key(provider),
                    assertion.transform,
                    None if assertion.config is None else _settings_key(assertion.config),
                    assertion.context_transform,
                    None if assertion.rubric_prompt is None else canonical(assertion.rubric_prompt),
                )
                found = self._cache.get(key)
                if found is None:
                    if assertion.type not in self._known_types:
                        check_assertion_type(assertion.type)
                        self._known_types.add(assertion.type)
                    base, negate = split_negation(assertion.type)
                    if assertion.threshold is not None and base in IGNORES_THRESHOLD:
                        self._warn_unused_threshold(base, test, position)
                    spec = AssertionSpec(
                        base,
                        value,
                        assertion.threshold,
                        negate,
                        test.base_dir,
                        test.options
                        if assertion.rubric_prompt is None
                        else {**test.options, "rubric_prompt": assertion.rubric_prompt},
                        assertion.provider,
                        self.judges,
                        config=assertion.config,
                        context_transform=(
                            self.transform(
                                assertion.context_transform, "output", test, "contextTransform"
                            )
                            if assertion.context_transform
                            else None
                        ),
                    )
                    found = compile_assertion(
                        assertion.type, spec, weight=assertion.weight, metric=metric
                    )
                    if assertion.transform:
                        transform = self.transform(assertion.transform, "output", test, "transform")
                        found = with_transform(found, transform)
                    self._cache[key] = found
                compiled.append(found)
            except AssertionValueError as exc:
                origin = test.assertion_origin(position)
                where = origin.location(exc.key) if origin else None
                raise SuiteError(f"{assertion.type}: {exc}", where) from None
            except UnknownAssertionType as exc:
                origin = test.assertion_origin(position)
                raise SuiteError(str(exc), origin.location("type") if origin else None) from None
            except jinja2.TemplateError as exc:
                origin = test.assertion_origin(position)
                where = origin.location("value") if origin else None
                raise SuiteError(f"{assertion.type}: cannot render value: {exc}", where) from None
            except SuiteError as exc:  # e.g. a grader provider that cannot be made
                if exc.location is not None:
                    raise
                origin = test.assertion_origin(position)
                where = origin.location() if origin else None
                raise SuiteError(f"{assertion.type}: {exc.message}", where) from None
        return tuple(compiled)


def _metric_name(metric: str | None, test: ResolvedTest, position: int) -> str | None:
    """A metric's name is a template of the case's variables: ``accuracy {{category}}``."""
    if not metric or ("{{" not in metric and "{%" not in metric):
        return metric
    try:
        return render_string(metric, test.vars)
    except jinja2.TemplateError as exc:
        origin = test.assertion_origin(position)
        where = origin.location("metric") if origin else None
        raise SuiteError(f"metric: cannot render {metric!r}: {exc}", where) from None
