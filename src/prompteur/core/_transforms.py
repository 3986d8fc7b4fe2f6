"""promptfoo's transforms: code that reshapes an output (``options.transform``, an
assertion's ``transform``) or a test's vars (``transformVars``) before they are used.

A transform is inline JavaScript (an expression, or a body that returns) over ``output``
(or ``vars``) and ``context``, or a file: ``file://x.js[:fn]``, ``file://x.py[:fn]`` (a
Python function defaults to ``get_transform``), called as ``fn(value, context)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from . import _pyload
from ._errors import PrompteurError, SuiteError
from ._js import JavaScriptError, inline_function, js_file_function
from ._time_limit import call_with_time_limit

__all__ = ["TRANSFORM_SECONDS", "Transform", "TransformError", "load_transform"]

#: Seconds a Python transform may take on one value.
TRANSFORM_SECONDS = 10.0

_FILE = re.compile(
    r"^file://(?P<path>.+?\.(?P<ext>py|js|cjs|mjs|ts))(?::(?P<fn>[A-Za-z_$][\w$]*))?$"
)

Transform = Callable[[Any, dict[str, Any]], Any]


class TransformError(PrompteurError):
    """A transform threw, ran too long, or returned nothing."""


def load_transform(
    code: str, kind: Literal["output", "vars"], base_dir: Path, what: str
) -> Transform:
    """The transform ``code`` (inline JavaScript or a file reference) as a function of
    (value, context); a transform that cannot be loaded is a SuiteError."""
    text = code.strip()
    if text.startswith("file://"):
        match = _FILE.match(text)
        if match is None:
            raise SuiteError(f"{what}: unsupported transform file {text} (use .js or .py)")
        path, function = match["path"], match["fn"]
        if match["ext"] == "py":
            try:
                python = _pyload.load_callable(path, function or "get_transform", base_dir)
            except SuiteError as exc:
                raise SuiteError(f"{what}: {exc.message}") from None
            label = f"{what} {Path(path).name}:{function or 'get_transform'}"

            def run_python(value: Any, context: dict[str, Any]) -> Any:
                try:
                    return call_with_time_limit(TRANSFORM_SECONDS, label, python, value, context)
                except PrompteurError:
                    raise
                except Exception as exc:
                    raise TransformError(f"{label} raised {type(exc).__name__}: {exc}") from None

            return _checked(run_python, label)
        js = js_file_function(path, function, base_dir, what)
    else:
        try:
            js = inline_function(text, (kind, "context"), what)
        except JavaScriptError as exc:
            raise SuiteError(str(exc)) from None

    def run_js(value: Any, context: dict[str, Any]) -> Any:
        try:
            return js(value, context)
        except JavaScriptError as exc:
            raise TransformError(str(exc)) from None

    return _checked(run_js, what)


def _checked(function: Transform, label: str) -> Transform:
    def transform(value: Any, context: dict[str, Any]) -> Any:
        result = function(value, context)
        if result is None:  # promptfoo: a transform must give something back
            raise TransformError(f"{label} returned nothing")
        return result

    return transform
