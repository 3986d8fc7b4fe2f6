"""promptfoo's extension hooks: ``extensions: [file://hooks.py:fn]`` names Python functions
called as ``fn(hook_name, context)`` at four points of a run, with promptfoo's contexts:

- ``beforeAll`` ``{suite}``, at planning: the suite as data; what the hook returns (or
  changes in place) of its prompts, tests, scenarios, defaultTest and derivedMetrics is
  the suite that runs;
- ``beforeEach`` ``{test}``, at planning, once per test case (promptfoo calls it before
  each of the case's cells): the vars, description and metadata it gives back are the
  case's;
- ``afterEach`` ``{test, result}`` after each cell, ``afterAll`` ``{prompts, results,
  suite}`` at the end, with results in promptfoo's shape (success, score, response...).

Hooks are trusted code, run in-process. What a hook raises at planning refuses the suite;
at run time it is a warning, and the run goes on."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from ..config._errors import located_validation_error
from ..config._models import Suite, TestCase
from ..config._tests import ResolvedTest
from ..core._errors import PrompteurError, SuiteError
from ..core._pyload import load_callable
from ..core._results import CellResult
from ..core._time_limit import TimeLimitExceeded, call_with_time_limit

__all__ = ["ExtensionHooks", "load_extension_hooks"]

_LOG = logging.getLogger("prompteur.suite")

#: The longest one hook call may run.
HOOK_SECONDS = 60.0

_PYTHON = re.compile(r"^file://(?P<path>.+?\.py):(?P<fn>[A-Za-z_]\w*)$")
_JAVASCRIPT = re.compile(r"^file://.+?\.(?:js|cjs|mjs|ts|mts|cts)(?::[\w$]+)?$")
#: What a beforeAll hook may change, as in promptfoo.
_SUITE_PARTS = ("prompts", "tests", "scenarios", "defaultTest", "derivedMetrics")
#: What a beforeEach hook may change here.
_TEST_PARTS = ("vars", "description", "metadata")

Hook = Callable[[str, dict[str, Any]], Any]


@dataclass
class ExtensionHooks:
    """The suite's hooks, each a (label, function), called in the order written."""

    hooks: Sequence[tuple[str, Hook]]
    #: the results as promptfoo shapes them, kept for afterAll
    rows: list[dict[str, Any]] = field(default_factory=list)

    def _call(self, name: str, context: dict[str, Any]) -> dict[str, Any]:
        for label, hook in self.hooks:
            try:
                returned = call_with_time_limit(HOOK_SECONDS, label, hook, name, context)
            except PrompteurError as exc:
                raise SuiteError(f"extensions: {label} at {name}: {exc}") from None
            except TimeLimitExceeded as exc:  # not an Exception: the hook's own excepts miss it
                raise SuiteError(f"extensions: {exc} at {name}") from None
            except Exception as exc:
                raise SuiteError(
                    f"extensions: {label} raised {type(exc).__name__} at {name}: {exc}"
                ) from None
            if isinstance(returned, dict):
                context = returned
        return context

    def before_all(self, suite: Suite) -> Suite:
        """The suite the beforeAll hooks make of ``suite``."""
        data = suite.model_dump(mode="json", by_alias=True, exclude_none=True)
        if not isinstance(data.get("defaultTest"), dict):
            data["defaultTest"] = TestCase().model_dump(mode="json", by_alias=True)
        base = _copy(data)
        context = self._call("beforeAll", {"suite": data})
        given = context.get("suite")
        if not isinstance(given, dict):
            raise SuiteError("extensions: beforeAll returned a context without its 'suite'")
        merged = {**base, **{k: given[k] for k in _SUITE_PARTS if k in given}}
        try:
            made = Suite.model_validate(merged)
        except ValidationError as exc:
            error = located_validation_error(exc, None, Suite)
            raise SuiteError(f"extensions: beforeAll made an invalid suite: {error}") from None
        made._base_dir = suite._base_dir
        made._source = suite._source
        return made

    def before_each(self, tests: Iterable[ResolvedTest]) -> list[ResolvedTest]:
        """The tests as the beforeEach hooks give them back."""
        changed = []
        for test in tests:
            given = {
                "description": test.description,
                "vars": dict(test.vars),
                "assert": [a.model_dump(mode="json", by_alias=True) for a in test.assertions],
                "options": dict(test.options),
                "metadata": dict(test.metadata),
                "threshold": test.threshold,
            }
            context = self._call("beforeEach", {"test": _copy(given)})
            returned = context.get("test")
            if not isinstance(returned, dict):
                raise SuiteError("extensions: beforeEach returned a context without its 'test'")
            other = [k for k in given if k not in _TEST_PARTS and returned.get(k) != given[k]]
            if other:
                raise SuiteError(
                    f"extensions: beforeEach changed the test's '{other[0]}'; here a hook "
                    f"may change {', '.join(_TEST_PARTS)}"
                )
            changed.append(_changed_test(test, returned))
        return changed

    def after_each(self, result: CellResult, keep: bool) -> None:
        """Call the afterEach hooks with a finished cell (kept for afterAll if ``keep``)."""
        row = result_row(result)
        if keep:
            self.rows.append(row)
        # copies: what a hook changes in place stays out of the plan and the later cells
        test = {"description": result.test_description, "vars": _copy(dict(result.vars))}
        self._warn_on_error("afterEach", {"test": test, "result": _copy(row)})

    def after_all(self, prompts: Sequence[dict[str, Any]], suite: Suite | None) -> None:
        data = suite.model_dump(mode="json", by_alias=True, exclude_none=True) if suite else {}
        context = {"prompts": _copy(list(prompts)), "results": _copy(self.rows), "suite": data}
        self._warn_on_error("afterAll", context)

    def _warn_on_error(self, name: str, context: dict[str, Any]) -> None:
        try:
            self._call(name, context)
        except SuiteError as exc:
            _LOG.warning("warning: %s", exc.message)


def _changed_test(test: ResolvedTest, returned: dict[str, Any]) -> ResolvedTest:
    """``test`` with the vars, description and metadata a beforeEach hook gave back."""
    for part in ("vars", "metadata"):
        if not isinstance(returned.get(part) or {}, dict):
            raise SuiteError(
                f"extensions: beforeEach gave '{part}' as {type(returned[part]).__name__}, "
                "not a mapping"
            )
    description = returned.get("description")
    if description is not None and not isinstance(description, str):
        raise SuiteError(
            f"extensions: beforeEach gave 'description' as {type(description).__name__}, not text"
        )
    return replace(
        test,
        vars=dict(returned.get("vars") or {}),
        description=description,
        metadata=dict(returned.get("metadata") or {}),
    )


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (a hook may change what it is given)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def result_row(result: CellResult) -> dict[str, Any]:
    """A cell as promptfoo's hooks see a result."""
    prompt_tokens = result.prompt_tokens or 0
    completion_tokens = result.completion_tokens or 0
    usage = {
        "prompt": prompt_tokens,
        "completion": completion_tokens,
        "total": prompt_tokens + completion_tokens,
    }
    return {
        "success": result.passed,
        "score": result.score,
        "error": result.error,
        "vars": dict(result.vars),
        "prompt": {"raw": result.prompt, "label": result.prompt_id},
        "provider": {"id": result.provider_id, "label": result.provider_id},
        "response": {
            "output": result.output,
            "tokenUsage": usage,
            "cost": result.cost,
            "cached": result.cached,
        },
        "latencyMs": result.latency_ms,
        "cost": result.cost,
        "tokenUsage": usage,
        "gradingResult": {
            "pass": result.passed,
            "score": result.score,
            "componentResults": [
                {
                    "pass": a.passed,
                    "score": a.score,
                    "reason": a.reason,
                    "assertion": {"type": a.type},
                }
                for a in result.assertions
            ],
        },
        "metadata": dict(result.metadata),
        "testIdx": result.test_index,
        "promptIdx": result.prompt_index,
    }


def load_extension_hooks(suite: Suite) -> ExtensionHooks | None:
    """The suite's hooks (``extensions``), loaded; None when it names none."""
    if not suite.extensions:
        return None
    hooks = []
    for position, reference in enumerate(suite.extensions):
        where = suite.origin.location("extensions", position) if suite.origin else None
        text = reference.strip()
        if _JAVASCRIPT.match(text):
            raise SuiteError(
                "JavaScript extension hooks are not run here (they use Node's modules): "
                "write the hook in Python, file://hooks.py:fn",
                where,
            )
        match = _PYTHON.match(text)
        if match is None:
            raise SuiteError(
                f"an extension is a Python function, file://hooks.py:fn, not {text!r}", where
            )
        try:
            function = load_callable(match["path"], match["fn"], suite.base_dir)
        except SuiteError as exc:
            raise SuiteError(f"extensions: {exc.message}", exc.location or where) from None
        hooks.append((f"{match['path']}:{match['fn']}", function))
    return ExtensionHooks(hooks)
