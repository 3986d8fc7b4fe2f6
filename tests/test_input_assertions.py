"""Assertions that cannot mean anything are refused when the suite loads, with one located
line in plain words; values that can are accepted as promptfoo accepts them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur

PROVIDER = """
from pathlib import Path

def call_api(prompt, options, context):
    Path("called.marker").write_text("called")
    return prompt
"""


def eval_error(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], suite: str
) -> str:
    """Run the suite: it must stop before any call with exit code 2 and one error line."""
    write("provider.py", PROVIDER)
    write("suite.yaml", suite)
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert not Path("called.marker").exists(), "no model may be called for a bad suite"
    return result.stderr


def with_assertion(assertion: str) -> str:
    return (
        'prompts: ["{}"]\nproviders: [file://provider.py]\ntests:\n'
        f"  - assert:\n      - {assertion}\n"
    )


@pytest.mark.parametrize(
    ("schema", "ref"),
    [
        ('{"$ref": "#/nope"}', "#/nope"),
        ('{properties: {a: {"$ref": "#/$defs/missing"}}, $defs: {b: {}}}', "#/$defs/missing"),
        ('{"$ref": "https://example.com/schema.json"}', "https://example.com/schema.json"),
    ],
)
def test_a_json_schema_ref_that_leads_nowhere_is_refused_at_load(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], schema: str, ref: str
) -> None:
    error = eval_error(run_cli, write, with_assertion(f"{{type: json-schema, value: {schema}}}"))
    assert error.startswith(f"error: suite.yaml:5:36: json-schema: the JSON schema's $ref '{ref}'")


def test_json_schema_refs_that_resolve_are_followed() -> None:
    schema = {
        "$defs": {"city": {"type": "string"}},
        "type": "object",
        "properties": {"city": {"$ref": "#/$defs/city"}, "next": {"$ref": "#"}},
        "enum": [{"city": "Paris"}, {"$ref": "#/not-a-reference-here"}],
    }
    result = prompteur.evaluate(
        {
            "prompts": ['{"city": "Paris"}'],
            "providers": ["echo"],
            "tests": [{"assert": [{"type": "json-schema", "value": schema}]}],
        }
    )
    assert result.success
