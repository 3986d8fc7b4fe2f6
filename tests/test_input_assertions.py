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


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        pytest.param(
            "tests:\n  - assert:\n      - contains\n",
            "suite.yaml:4:9: an assertion is a mapping such as {type: contains, value: ...}, "
            "not 'contains'",
            id="assertion-as-a-word",
        ),
        pytest.param(
            "tests:\n  - assert: contains\n",
            "suite.yaml:3:13: 'assert' is a list of assertions such as [{type: contains, "
            "value: ...}], not 'contains'",
            id="assert-as-a-word",
        ),
        pytest.param(
            "tests: [42]\n",
            "suite.yaml:2:9: a test is a mapping such as {vars: {...}, assert: [...]}, or a "
            "file:// path, not 42",
            id="test-as-a-number",
        ),
        pytest.param(
            "evaluateOptions: 3\n",
            "suite.yaml:2:18: 'evaluateOptions' is a mapping such as {maxConcurrency: 4}, not 3",
            id="options-as-a-number",
        ),
        pytest.param(
            "tests:\n  - repeat: 0\n",
            "suite.yaml:3:13: 'repeat' should be at least 1 (got 0)",
            id="bound",
        ),
        pytest.param(
            "tests:\n  - vars: [a, b]\n",
            "suite.yaml:3:11: 'vars' should be a mapping (got a list)",
            id="list-for-a-mapping",
        ),
    ],
)
def test_shape_errors_speak_of_the_suite_not_of_pydantic(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], part: str, expected: str
) -> None:
    error = eval_error(run_cli, write, "prompts: [hi]\n" + part)
    assert error == f"error: {expected}\n"
    assert "instance of" not in error and "Input should" not in error


def test_a_provider_written_as_a_number(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    error = eval_error(run_cli, write, "prompts: [hi]\nproviders: [file://provider.py, 42]\n")
    assert error == (
        "error: suite.yaml:2:33: a provider is an id such as 'openai:chat:gpt-4o-mini', or a "
        "mapping such as {id: ..., config: {...}}, not 42\n"
    )


def test_plain_problems_for_provider_config_errors() -> None:
    from pydantic import BaseModel, ValidationError

    from prompteur.config._errors import plain_problem

    class Config(BaseModel):
        temperature: float
        max_tokens: int

    with pytest.raises(ValidationError) as caught:
        Config.model_validate({"temperature": "hot", "max_tokens": 1.5})
    problems = [plain_problem(error) for error in caught.value.errors()]
    assert problems == ["should be a number", "should be a whole number"]
