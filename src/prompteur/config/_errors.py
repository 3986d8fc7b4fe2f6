"""Turning pydantic validation errors into one located, readable line."""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..core._errors import SuiteError, did_you_mean
from ._source import KeyPath, Origin

__all__ = ["located_validation_error", "plain_problem"]

# Tags of the discriminated unions in the schema; pydantic puts them in error paths.
_UNION_TAGS = {"case", "file"}


def _clean_path(loc: tuple[Any, ...]) -> KeyPath:
    path: list[str | int] = []
    for part in loc:
        if (
            isinstance(part, str)
            and part in _UNION_TAGS
            and (not path or isinstance(path[-1], int) or path[-1] == "defaultTest")
        ):
            continue
        path.append(part)
    return tuple(path)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation can hold (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(get_args(annotation)[0])
    if origin in (list, tuple, Union, types.UnionType) or origin is not None:
        found: list[type[BaseModel]] = []
        for arg in get_args(annotation):
            found.extend(_models_in(arg))
        return found
    return []


def _model_at(root: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        if field is None:
            return None
        candidates = _models_in(field.annotation)
        model = candidates[0] if candidates else None
    return model


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


# What each part of a suite is, said to someone who wrote something else in its place.
_SHAPES = {
    "Assertion": "an assertion is a mapping such as {type: contains, value: ...}",
    "ProviderSpec": "a provider is an id such as 'openai:chat:gpt-4o-mini', or a mapping "
    "such as {id: ..., config: {...}}",
    "TestCase": "a test is a mapping such as {vars: {...}, assert: [...]}, or a file:// path",
    "PromptSpec": "a prompt is text, a file:// path, or a mapping such as {raw: ..., label: ...}",
    "EvaluateOptions": "'evaluateOptions' is a mapping such as {maxConcurrency: 4}",
    "TestOptions": "'options' is a mapping such as {provider: ..., disableVarExpansion: true}",
}


def plain_problem(error: Any) -> str:
    """What is wrong with a value, from one pydantic error, in a user's words ("should be
    a number"), without the input itself."""
    kind = error["type"]
    context = error.get("ctx") or {}
    plain = {
        "dict_type": "should be a mapping",
        "list_type": "should be a list",
        "string_type": "should be text",
        "float_type": "should be a number",
        "float_parsing": "should be a number",
        "int_type": "should be a whole number",
        "int_parsing": "should be a whole number",
        "int_from_float": "should be a whole number",
        "bool_type": "should be true or false",
        "bool_parsing": "should be true or false",
        "finite_number": "should be a finite number",
    }.get(kind)
    if plain is not None:
        return plain
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds and bounds[kind][1] in context:
        words, key = bounds[kind]
        limit = context[key]
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # "at least 0", as the user would write it
        return f"should be {words} {limit}"
    message = str(error["msg"])
    # "Input should be ..." reads "should be ..."; a validator's own words are kept
    for prefix in ("Input ", "Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def _shown(given: Any) -> str:
    if isinstance(given, dict):
        return "a mapping"
    if isinstance(given, list):
        return "a list"
    shown = repr(given)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _describe(error: Any, path: KeyPath, root: type[BaseModel]) -> str:
    kind = error["type"]
    key = str(path[-1]) if path else ""
    if kind == "extra_forbidden":
        model = _model_at(root, path[:-1])
        hint = did_you_mean(key, _known_keys(model)) if model else ""
        return f"unknown key '{key}'{hint}"
    if kind == "missing":
        return f"missing required key '{key}'"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind in ("value_error", "assertion_error"):
        return message
    given = error.get("input")
    shape = _SHAPES.get(str((error.get("ctx") or {}).get("class_name", "")))
    if kind in ("model_type", "model_attributes_type") and shape:
        return f"{shape}, not {_shown(given)}"
    if kind == "list_type" and key == "assert":
        shape = "'assert' is a list of assertions such as [{type: contains, value: ...}]"
        return f"{shape}, not {_shown(given)}"
    where = f"'{key}'" if key and not key.isdigit() else "the value"
    return f"{where} {plain_problem(error)} (got {_shown(given)})"


def located_validation_error(
    exc: ValidationError, origin: Origin | None, root: type[BaseModel]
) -> SuiteError:
    """The first problem of ``exc`` as a SuiteError at its place in the source file."""
    # An unknown key usually explains a missing one (a typo), so it is reported first.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    path = _clean_path(tuple(first["loc"]))
    message = _describe(first, path, root)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    location = None
    if origin is not None:
        location = origin.location(*path, at_key=first["type"] == "extra_forbidden")
    return SuiteError(message, location)
