"""Built-in JSON assertion types: is-json, json-schema, contains-json."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..config._source import loads_yaml, read_structured
from ..core._errors import SuiteError
from ._builtin_assertions import _verdict
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

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
    ref = _unresolvable_ref(schema, cls)
    if ref is not None:
        if ref.startswith("#"):
            problem = "points to a place this schema does not have (such as '#/$defs/name')"
        else:
            problem = "is not part of this schema, and remote schemas are not fetched"
        raise AssertionValueError(f"the JSON schema's $ref {ref!r} {problem}")
    return cls(schema)


def _unresolvable_ref(schema: dict[str, Any], cls: Any) -> str | None:
    """The first ``$ref`` of ``schema`` that validation could not follow (every output
    would fail on it), found now, before any model is called. References are resolved as
    jsonschema resolves them: in the schema (``$id`` scopes included) and the meta-schemas
    it ships; nothing is fetched."""
    from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]
    from referencing import Specification
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012, specification_with

    specification: Specification[Any] = specification_with(
        cls.META_SCHEMA.get("$id", ""), default=DRAFT202012
    )
    root = specification.create_resource(schema)
    base = root.id() or ""
    pending = [(root, REGISTRY.with_resource(base, root).resolver(base_uri=base))]
    while pending:
        resource, resolver = pending.pop()
        contents = resource.contents
        ref = contents.get("$ref") if isinstance(contents, dict) else None
        if isinstance(ref, str):
            try:
                resolver.lookup(ref)
            except Unresolvable:
                return ref
        # subresources are the schema's own subschemas: values of enum or const are not
        pending.extend((sub, resolver.in_subresource(sub)) for sub in resource.subresources())
    return None


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
