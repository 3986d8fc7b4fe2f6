"""``python``: an in-process function as a model. Ids: ``python:file.py:fn`` or promptfoo's
``file://provider.py`` (function ``call_api``). The function is trusted code.

It is called as ``fn(prompt, options, context)`` (sync or async) with the rendered prompt
text, ``{"config": ...}`` and ``{"vars": ..., "messages": [...]}``, and returns either the
output text or a mapping with ``output`` and optionally ``tokenUsage`` ({prompt,
completion, total, cached}; counts given as strings are parsed, unusable ones ignored),
``cost``, ``finish_reason``, ``model`` and ``error``.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config._models import ProviderSpec
from ..core import _pyload
from ..core._errors import PermanentProviderError, SuiteError
from ..core._secrets import redact
from ..core._threads import run_on_daemon_thread
from ..core._trust import check_code
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    ProviderContext,
    parse_cost,
    parse_usage,
)

__all__ = ["PythonProvider", "create_python_provider"]

DEFAULT_FUNCTION = "call_api"


class PythonProvider(BaseProvider):
    #: the function sees the test's variables, not only the prompt: they decide its output
    vars_in_cache_key = True

    def __init__(
        self, id: str, label: str | None, fn: Callable[..., Any], config: Mapping[str, Any]
    ) -> None:
        super().__init__(id, label)
        self.fn = fn
        self.config = dict(config)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.code_hash = _source_hash(fn)

    def identity(self) -> Mapping[str, Any]:
        # the code's own text is part of what decides the output: edits invalidate the cache
        return {"id": self.id, "config": redact(self.config), "code": self.code_hash}

    async def complete(self, request: CompletionRequest) -> Completion:
        options = {"config": self.config}
        context = {"vars": dict(request.vars), "messages": [m.to_dict() for m in request.messages]}
        if self.is_async:
            result = await self.fn(request.text, options, context)
        else:  # a blocking function must not stall the other cells, nor the exit if stuck
            result, raised = await run_on_daemon_thread(
                _returning, self.fn, request.text, options, context
            )
            if raised is not None:
                # raised here rather than through the thread's future: a GeneratorExit
                # thrown into the awaiting task would close the run's coroutines instead
                raise raised
        return _to_completion(result)


def _returning(fn: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    """``fn(*args)``, and what it raised (whatever it is)."""
    try:
        return fn(*args), None
    except BaseException as exc:  # handed back to the caller, which raises it
        return None, exc


def _source_hash(fn: Callable[..., Any]) -> str | None:
    try:
        source = inspect.getsourcefile(fn)
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16] if source else None
    except (OSError, TypeError):
        return None


def _to_completion(result: Any) -> Completion:
    if isinstance(result, Completion):
        return result
    if isinstance(result, str):
        return Completion(result, finish_reason="stop")
    if not isinstance(result, Mapping):
        raise PermanentProviderError(
            f"python provider returned {type(result).__name__}; expected text or a mapping"
        )
    if result.get("error"):
        raise PermanentProviderError(str(result["error"]))
    output = result.get("output")
    if output is None:
        raise PermanentProviderError("python provider returned a mapping without 'output'")
    if not isinstance(output, str):
        import json

        output = json.dumps(output, ensure_ascii=False)
    # the function's own numbers are parsed defensively: a string or junk count must not
    # reach the run's totals (promptfoo's shape is {total, prompt, completion, cached})
    usage = result.get("tokenUsage") or result.get("token_usage")
    finish = result.get("finish_reason") or result.get("finishReason") or "stop"
    return Completion(
        output=output,
        usage=parse_usage(usage),
        finish_reason=str(finish),
        cost=parse_cost(result.get("cost")),
        model=str(result["model"]) if result.get("model") else None,
    )


def create_python_provider(spec: ProviderSpec, context: ProviderContext) -> PythonProvider:
    ref = spec.id.removeprefix("python:") if spec.id.startswith("python:") else spec.id
    parsed = _pyload.parse_callable_ref(ref)
    if parsed is None:
        raise SuiteError(
            f"python provider '{spec.id}' must name a .py file, as "
            "'python:provider.py:fn' or 'file://provider.py'",
            context.origin,
        )
    path, name = parsed
    function = name or DEFAULT_FUNCTION
    check_code(f"python provider '{spec.id}'", context.origin)
    try:
        fn = _pyload.load_callable(path, function, context.base_dir)
    except SuiteError as exc:
        raise SuiteError(exc.message, context.origin) from None
    if problem := _call_problem(fn, f"{path}:{function}"):
        raise SuiteError(problem, context.origin)
    return PythonProvider(spec.id, spec.label, fn, spec.config)


def _call_problem(fn: Callable[..., Any], name: str) -> str | None:
    """Why ``fn`` cannot be called as ``fn(prompt, options, context)``, or None; found here,
    it would otherwise be a TypeError in every cell."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C function: it will tell at the call
        return None
    try:
        signature.bind(None, None, None)
    except TypeError:
        return (
            f"python provider {name}{signature} cannot be called as "
            "(prompt, options, context); give it those three parameters"
        )
    return None
