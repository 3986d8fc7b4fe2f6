"""The ``javascript`` assertion: promptfoo's JavaScript checks, run in the embedded engine."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..core._errors import SuiteError
from ..core._js import JavaScriptError, JsFunction, inline_function, js_file_function
from ._builtin_assertions import _require_text, _short
from ._builtin_code import python_result
from ._judge import GradingError
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

_OTHER_FILE = re.compile(r"^file://(?P<path>.+?\.(?P<ext>ts|mts|cts|py))(?::[A-Za-z_$][\w$]*)?$")
_FILE = re.compile(r"^file://(?P<path>.+?\.(?:js|cjs|mjs))(?::(?P<fn>[A-Za-z_$][\w$]*))?$")


def _load(code: str, spec: AssertionSpec) -> tuple[JsFunction, str]:
    other = _OTHER_FILE.match(code.strip())
    if other is not None:
        raise AssertionValueError(
            f"{other['path']}: TypeScript is not run by the embedded JavaScript engine "
            "(write it in .js)"
            if other["ext"] == "ts"
            else f"{other['path']} is Python: write the check as type 'python'"
        )
    match = _FILE.match(code.strip())
    try:
        if match is not None:
            function = js_file_function(match["path"], match["fn"], spec.base_dir, "javascript")
            return function, ""
        # promptfoo trims the end: a YAML block scalar's last newline is no second line
        return inline_function(code.rstrip(), ("output", "context"), "javascript"), code.strip()
    except (SuiteError, JavaScriptError) as exc:
        raise AssertionValueError(str(exc).removeprefix("javascript: ")) from None


@assertion("javascript")
def javascript(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """Trusted JavaScript: an expression or function body over ``output`` and ``context``,
    or ``file://checks.js[:fn]``; returns a bool, a score or {pass, score, reason}. What it
    throws fails the check with its message."""
    function, shown = _load(_require_text(spec), spec)
    threshold = spec.threshold
    config = spec.config
    source = f"javascript {_short(shown)}" if shown else function.what

    def grade(ctx: GradingContext) -> GradeResult:
        try:
            value: Any = function(ctx.output, ctx.as_promptfoo_context(config))
            return python_result(value, threshold, source)
        except (JavaScriptError, GradingError) as exc:
            return GradeResult(False, 0.0, str(exc), undecided=True)

    return grade
