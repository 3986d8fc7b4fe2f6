"""Turning pydantic validation errors into one located, readable line."""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..errors import SuiteError, did_you_mean
from ._source import KeyPath, Origin

__all__ = ["located_validation_error"]

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
    shown = repr(given) if not isinstance(given, dict | list) else type(given).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    where = f"'{key}'" if key and not key.isdigit() else "value"
    return f"{where}: {message[0].lower() + message[1:]} (got {shown})"


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
