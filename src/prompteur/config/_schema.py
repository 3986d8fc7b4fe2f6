"""The JSON Schema of suite files, for editors to complete and check them with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._models import Suite

__all__ = ["PLUGIN_TYPE_PATTERN", "suite_json_schema"]

#: A type the schema cannot list: a plugin's, written with its namespace (myplugin:check).
PLUGIN_TYPE_PATTERN = r"^(not-)?[A-Za-z0-9_.-]+:[A-Za-z0-9_.:-]+$"


def suite_json_schema(assertion_names: Iterable[str]) -> dict[str, Any]:
    """The JSON Schema of suite files as people write them: the loose shapes promptfoo
    accepts (a string for ``prompts``, provider ids as strings...) included.
    ``assertion_names`` are the registered assertion types."""
    schema = Suite.model_json_schema(by_alias=True)
    properties = schema["properties"]
    string = {"type": "string"}

    def one_or_many(item: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [item, {"type": "array", "items": item}]}

    properties["prompts"] = {
        "anyOf": [
            *one_or_many({"anyOf": [string, {"$ref": "#/$defs/PromptSpec"}]})["anyOf"],
            {
                "type": "object",
                "additionalProperties": string,
                "description": "file:// paths mapped to labels",
            },
        ],
        "description": "inline prompts, file:// paths (globs allowed), prompt://name@ref "
        "(registered prompts), or {id|raw|prompt, label}",
    }
    provider_map = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": {"type": "object"},
    }
    properties["providers"] = one_or_many(
        {"anyOf": [string, {"$ref": "#/$defs/ProviderSpec"}, provider_map]}
    )
    properties["targets"] = {
        **properties["providers"],
        "description": "promptfoo's other name for providers",
    }
    properties["tests"] = one_or_many({"anyOf": [string, {"$ref": "#/$defs/TestCase"}]})
    properties["outputPath"] = one_or_many(string)
    # registered types (and their not- forms) for editors to complete and check; a plugin
    # not installed where the schema is made gets through with a namespace only, so that a
    # misspelt built-in type ('contians') is still flagged
    names = sorted(assertion_names)
    schema["$defs"]["Assertion"]["properties"]["type"] = {
        "title": "Type",
        "description": "an assertion type, or 'not-' and a type: those registered where this "
        "schema was made, or a plugin's namespaced type (myplugin:check)",
        "anyOf": [
            {"type": "string", "enum": [*names, *(f"not-{name}" for name in names)]},
            {"type": "string", "pattern": PLUGIN_TYPE_PATTERN},
        ],
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "prompteur suite"
    return schema
