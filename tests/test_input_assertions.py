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
    from pydantic import BaseModel, Field, ValidationError, field_validator

    from prompteur.config._errors import plain_problem

    class Config(BaseModel):
        temperature: float
        max_tokens: int
        stop: list[str] = Field(default_factory=list, max_length=4)

        @field_validator("temperature")
        @classmethod
        def _in_range(cls, value: float) -> float:
            if not 0 <= value <= 2:
                raise ValueError("Must lie between 0 and 2")
            return value

    with pytest.raises(ValidationError) as caught:
        Config.model_validate({"temperature": "hot", "max_tokens": 1.5})
    problems = [plain_problem(error) for error in caught.value.errors()]
    assert problems == ["should be a number", "should be a whole number"]
    with pytest.raises(ValidationError) as caught:
        Config.model_validate({"temperature": 3, "max_tokens": 1, "stop": list("abcde")})
    problems = [plain_problem(error) for error in caught.value.errors()]
    assert problems == [
        "must lie between 0 and 2",
        "list should have at most 4 items after validation, not 5",
    ]


@pytest.mark.parametrize(
    ("assertion", "expected"),
    [
        pytest.param(
            "{type: latency, threshold: -1}",
            "suite.yaml:5:36: latency: the threshold is the most a call may take, in "
            "milliseconds: 0 or more, not -1",
            id="latency-below-zero",
        ),
        pytest.param(
            "{type: cost, threshold: -0.5}",
            "suite.yaml:5:33: cost: the threshold is the most a call may cost: 0 or more, not -0.5",
            id="cost-below-zero",
        ),
        pytest.param(
            "{type: levenshtein, value: hi, threshold: -1}",
            "suite.yaml:5:51: levenshtein: the threshold is the largest edit distance "
            "allowed: 0 or more, not -1",
            id="levenshtein-below-zero",
        ),
        pytest.param(
            "{type: word-count, value: -3}",
            "suite.yaml:5:35: word-count: the count must be 0 or more, not -3",
            id="word-count-below-zero",
        ),
        pytest.param(
            "{type: word-count, value: 2.5}",
            "suite.yaml:5:35: word-count: the count must be a whole number of words, not 2.5",
            id="word-count-fraction",
        ),
        pytest.param(
            "{type: word-count, value: {min: -1, max: 3}}",
            "suite.yaml:5:35: word-count: the 'min' must be 0 or more, not -1",
            id="word-count-min-below-zero",
        ),
        pytest.param(
            "{type: word-count, value: {min: 5, max: 2}}",
            "suite.yaml:5:35: word-count: 'word-count' min (5) is greater than max (2)",
            id="word-count-min-above-max",
        ),
        pytest.param(
            "{type: finish-reason, value: stopp}",
            "suite.yaml:5:38: finish-reason: unknown finish reason 'stopp' (did you mean "
            "'stop'?); known: stop, length, content_filter, tool_calls, function_call",
            id="finish-reason-typo",
        ),
        pytest.param(
            "{type: CONTAINS, value: hi}",
            "suite.yaml:5:16: unknown assertion type 'CONTAINS' (did you mean 'contains'?)",
            id="type-in-capitals",
        ),
        pytest.param(
            "{type: not-, value: hi}",
            "suite.yaml:5:16: the assertion type after 'not-' is missing (write "
            "'not-contains', for instance)",
            id="not-without-a-type",
        ),
    ],
)
def test_values_that_cannot_mean_anything_are_refused(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], assertion: str, expected: str
) -> None:
    assert eval_error(run_cli, write, with_assertion(assertion)) == f"error: {expected}\n"


@pytest.mark.parametrize(
    "assertion",
    [
        {"type": "finish-reason", "value": "SAFETY"},  # a provider's own reason
        {"type": "finish-reason", "value": "end_turn"},  # Anthropic's, read as stop
        {"type": "word-count", "value": "3"},  # from a CSV cell or a template
        {"type": "word-count", "value": {"max": 0}},
        {"type": "latency", "threshold": 0},
        {"type": "levenshtein", "value": "x", "threshold": 0},
    ],
)
def test_edge_values_that_mean_something_are_accepted(assertion: dict[str, object]) -> None:
    plan = prompteur.plan_suite(
        {"prompts": ["hi"], "providers": ["echo"], "tests": [{"assert": [assertion]}]}
    )
    assert len(plan.tests[0].assertions) == 1


def test_a_threshold_a_type_ignores_is_a_warning_once_not_an_error(
    write: Callable[[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    write(
        "suite.yaml",
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - assert:
              - {type: contains, value: hi, threshold: 2}
          - assert:
              - {type: not-contains, value: bye, threshold: 0.5}
              - {type: levenshtein, value: hi, threshold: 1}
        """,
    )
    with caplog.at_level("WARNING", logger="prompteur.suite"):
        result = prompteur.evaluate("suite.yaml")
    assert result.success  # promptfoo suites that set one still run
    assert [r.getMessage() for r in caplog.records] == [
        "warning: suite.yaml:5:48: 'threshold' has no effect on 'contains' assertions (they "
        "pass or fail outright) and is ignored, as in promptfoo"
    ]


def test_an_unknown_chat_role_gets_a_suggestion(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("chat.json", '[{"role": "system", "content": "x"},\n {"role": "sistem", "content": "y"}]')
    error = eval_error(
        run_cli, write, "prompts: [file://chat.json]\nproviders: [file://provider.py]\n"
    )
    assert error == (
        "error: chat.json:2:11: message 2 of prompt 'chat.json' needs a role of system, user, "
        "assistant, developer, tool, not 'sistem' (did you mean 'system'?)\n"
    )


def test_the_warning_reaches_the_terminal_as_one_line(write: Callable[[str, str], Path]) -> None:
    import subprocess
    import sys

    write("suite.yaml", with_assertion("{type: contains, value: '{', threshold: 2}"))
    write("provider.py", "def call_api(prompt, options, context):\n    return prompt\n")
    done = subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "suite.yaml", "--no-progress", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "warning: suite.yaml:5:49: 'threshold' has no effect on 'contains' assertions (they "
        "pass or fail outright) and is ignored, as in promptfoo"
    ]
