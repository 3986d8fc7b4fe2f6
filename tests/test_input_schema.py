"""`prompteur schema`: the JSON Schema editors complete suite files with."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from click.testing import Result

from prompteur.assertions._registry import assertion_types


@pytest.fixture
def schema(run_cli: Callable[..., Result]) -> dict[str, Any]:
    result = run_cli("schema")
    assert result.exit_code == 0
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_assertion_types_are_listed_for_completion(schema: dict[str, Any]) -> None:
    kinds = schema["$defs"]["Assertion"]["properties"]["type"]
    (listed,) = [choice["enum"] for choice in kinds["anyOf"] if "enum" in choice]
    assert {"contains", "not-contains", "llm-rubric", "not-llm-rubric"} <= set(listed)
    assert set(listed) == set(assertion_types()) | {f"not-{name}" for name in assertion_types()}


def test_good_suites_validate_and_odd_types_do_not(schema: dict[str, Any]) -> None:
    suite = {
        "prompts": ["Tell me about {{topic}}"],
        "providers": ["echo"],
        "defaultTest": {"assert": [{"type": "not-contains", "value": "sorry"}]},
        "tests": [
            {
                "vars": {"topic": "cats"},
                "assert": [
                    {"type": "contains", "value": "cats"},
                    {"type": "similar", "value": "felines", "threshold": 0.7},
                    {"type": "my-plugin:check"},  # a plugin's type, not installed here
                ],
            }
        ],
    }
    jsonschema.validate(suite, schema)
    suite["tests"][0]["assert"] = [{"type": "contains cats"}]  # type: ignore[index]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(suite, schema)


@pytest.mark.parametrize("kind", ["contians", "not-contians", "CONTAINS", "not-", "ruby"])
def test_misspelt_or_unsupported_types_are_flagged_by_the_schema(
    schema: dict[str, Any], kind: str
) -> None:
    suite = {"prompts": ["hi"], "tests": [{"assert": [{"type": kind, "value": "x"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(suite, schema)


def test_every_registered_type_and_a_namespaced_plugin_type_pass(schema: dict[str, Any]) -> None:
    kinds = [*assertion_types(), "not-icontains", "acme:tone", "not-acme.checks:polite"]
    suite = {
        "prompts": ["hi"],
        "tests": [{"assert": [{"type": kind, "value": "x"} for kind in kinds]}],
        "defaultTest": {"options": {"prefix": "Be brief. ", "suffix": "!"}},
    }
    jsonschema.validate(suite, schema)
