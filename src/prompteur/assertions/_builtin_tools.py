"""Built-in checks of tool calls, as promptfoo makes them: is-valid-openai-tools-call,
is-valid-openai-function-call and is-valid-function-call. The output must be a call (or
calls) of a function the provider's config offers the model, with arguments its JSON
schema accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._builtin_assertions import _verdict
from ._registry import AssertionSpec, GradeResult, GradingContext, assertion

__all__: list[str] = []


class _Invalid(Exception):
    """Why a tool call does not stand (the verdict's reason)."""


def _parsed(output: str) -> Any:
    try:
        return json.loads(output)
    except ValueError:
        return output


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _check_arguments(name: str, arguments: Any, schema: Any) -> None:
    from jsonschema import exceptions, validators

    if not isinstance(schema, Mapping):
        return
    try:
        validator = validators.validator_for(schema)(schema)
        error = exceptions.best_match(validator.iter_errors(arguments))
    except exceptions.SchemaError as exc:
        raise _Invalid(
            f'the parameters of "{name}" are not a valid schema: {exc.message}'
        ) from None
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "arguments"
        raise _Invalid(f'Call to "{name}" does not match schema: {where}: {error.message}')


def _check_openai_call(call: Any, functions: Iterable[Any]) -> None:
    if isinstance(call, Mapping) and "function_call" in call:
        call = call["function_call"]
    if (
        not isinstance(call, Mapping)
        or not isinstance(call.get("name"), str)
        or not isinstance(call.get("arguments"), str)
    ):
        raise _Invalid(f"OpenAI did not return a valid-looking function call: {_dump(call)}")
    name = call["name"]
    try:
        arguments = json.loads(call["arguments"])
    except ValueError:
        raise _Invalid(f'the arguments of "{name}" are not JSON: {call["arguments"]!r}') from None
    schema = next(
        (
            f.get("parameters")
            for f in functions
            if isinstance(f, Mapping) and f.get("name") == name
        ),
        None,
    )
    if schema is None:
        raise _Invalid(f'Called "{name}", but there is no function with that name')
    _check_arguments(name, arguments, schema)


def _openai_tools(ctx: GradingContext) -> None:
    output = _parsed(ctx.output)
    if isinstance(output, str) and ("MCP Tool Result" in output or "MCP Tool Error" in output):
        failed = re.search(r"MCP Tool Error \(([^)]+)\): (.+)", output)
        if "MCP Tool Error" in output:
            tool, error = failed.groups() if failed else ("unknown", "unknown error")
            raise _Invalid(f"MCP tool call failed for {tool}: {error}")
        return
    if isinstance(output, Mapping) and "tool_calls" in output:
        output = output["tool_calls"]
    first = output[0] if isinstance(output, list) and output else None
    function = first.get("function") if isinstance(first, Mapping) else None
    if (
        not isinstance(function, Mapping)
        or not isinstance(function.get("name"), str)
        or not isinstance(function.get("arguments"), str)
    ):
        raise _Invalid(f"OpenAI did not return a valid-looking tools response: {_dump(output)}")
    tools = ctx.tools.tools if ctx.tools is not None else None
    if not isinstance(tools, list):
        raise _Invalid("the provider offers no tools (config.tools) to check the calls against")
    functions = [
        tool["function"]
        for tool in tools
        if isinstance(tool, Mapping) and tool.get("type") == "function" and "function" in tool
    ]
    for call in output:
        _check_openai_call(call.get("function") if isinstance(call, Mapping) else call, functions)


def _google_calls(output: str) -> list[Any]:
    """The function calls of a Gemini answer: the API's own shapes (a list of parts, a Live
    ``toolCall``), or the call objects prompteur's google provider writes one after another."""
    parsed = _parsed(output)
    if isinstance(parsed, Mapping) and "toolCall" in parsed:
        calls = (
            parsed["toolCall"].get("functionCalls")
            if isinstance(parsed["toolCall"], Mapping)
            else None
        )
        if isinstance(calls, list):
            return calls
    elif isinstance(parsed, list):
        return [p["functionCall"] for p in parsed if isinstance(p, Mapping) and "functionCall" in p]
    objects: list[Any] = []
    decoder, at, text = json.JSONDecoder(), 0, output.strip()
    while at < len(text):
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError:
            objects = []
            break
        objects.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    if objects and all(isinstance(o, Mapping) and "name" in o for o in objects):
        return objects
    raise _Invalid(f"Google did not return a valid-looking function call: {_dump(output)}")


def _lower_types(schema: Any) -> Any:
    """Gemini writes JSON schema types in capitals (``STRING``); JSON Schema does not."""
    if isinstance(schema, list):
        return [_lower_types(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    return {
        k: v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)
        for k, v in schema.items()
    }


def _google_function(ctx: GradingContext) -> None:
    calls = _google_calls(ctx.output)
    tools = ctx.tools.tools if ctx.tools is not None else None
    declarations = next(
        (
            t["functionDeclarations"]
            for t in tools or []
            if isinstance(t, Mapping) and "functionDeclarations" in t
        ),
        None,
    )
    for call in calls:
        name = call.get("name") if isinstance(call, Mapping) else None
        arguments = call.get("args") if isinstance(call, Mapping) else None
        if isinstance(arguments, str):
            arguments = _parsed(arguments)
        declared = next(
            (d for d in declarations or [] if isinstance(d, Mapping) and d.get("name") == name),
            None,
        )
        if declared is None:
            raise _Invalid(f'Called "{name}", but there is no function with that name')
        if declared.get("parameters"):  # no arguments still misses the required ones
            _check_arguments(str(name), arguments or {}, _lower_types(declared["parameters"]))


def _function_call(ctx: GradingContext) -> None:
    api = ctx.tools.api if ctx.tools is not None else None
    if api == "google":
        _google_function(ctx)
    elif api == "openai":
        functions = ctx.tools.functions if ctx.tools is not None else None
        _check_openai_call(_parsed(ctx.output), functions if isinstance(functions, list) else [])
    else:
        raise _Invalid(
            f"provider '{ctx.provider_id}' offers no functions to check a call against "
            "(an OpenAI-compatible provider's config.functions, a Gemini provider's config.tools)"
        )


def _grader(check: Callable[[GradingContext], None]) -> Callable[[GradingContext], GradeResult]:
    def grade(ctx: GradingContext) -> GradeResult:
        try:
            check(ctx)
        except _Invalid as exc:
            return _verdict(False, str(exc))
        return _verdict(True, "a valid call of a declared function")

    return grade


@assertion("is-valid-openai-tools-call")
def is_valid_openai_tools_call(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output is OpenAI tool calls of the provider's config.tools, with valid arguments."""
    return _grader(_openai_tools)


@assertion("is-valid-function-call")
def is_valid_function_call(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output is a call of a function the provider declares, with valid arguments."""
    return _grader(_function_call)


@assertion("is-valid-openai-function-call")
def is_valid_openai_function_call(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The same check as is-valid-function-call (promptfoo's older name)."""
    return _grader(_function_call)
