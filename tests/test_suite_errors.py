"""Bad suites stop before any model is called, with one located line and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import SuiteError

# A python provider that leaves a mark when it is called: a bad suite must never call it.
PROVIDER = """
from pathlib import Path

def call_api(prompt, options, context):
    Path("called.marker").write_text("called")
    return prompt
"""


@pytest.fixture
def marker_provider(write: Callable[[str, str], Path]) -> Path:
    write("provider.py", PROVIDER)
    return Path("called.marker")


def eval_suite(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], text: str
) -> Result:
    write("suite.yaml", text)
    return run_cli("eval", "suite.yaml", "--no-progress")


CASES = [
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests:
          - vars: {topic: cats}
            assert:
              - type: contians
                value: cats
        """,
        "suite.yaml:6:15: unknown assertion type 'contians' (did you mean 'contains'?)",
        id="assertion-typo",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests:
          - vars: {topic: cats}
            asert:
              - type: contains
                value: cats
        """,
        "suite.yaml:5:5: unknown key 'asert' (did you mean 'assert'?)",
        id="key-typo",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        evaluateOptions:
          maxConcurency: 3
        """,
        "suite.yaml:4:3: unknown key 'maxConcurency' (did you mean 'maxConcurrency'?)",
        id="option-typo",
    ),
    pytest.param(
        """
        promts: ["hello"]
        """,
        "suite.yaml:1:1: unknown key 'promts' (did you mean 'prompts'?)",
        id="top-level-typo",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests:
          - vars: {topik: cats}
        """,
        "suite.yaml:4:5: prompt 'Tell me about {{topic}}': undefined variable 'topic' in test 'topik=cats'",
        id="undefined-variable",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests:
          - vars: {topic: cats}
            threshold: high
        """,
        "suite.yaml:5:16: 'threshold' should be a number (got 'high')",
        id="wrong-type",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests:
          - vars: {topic: cats}
            assert:
              - type: regex
                value: "([a-z"
        """,
        "suite.yaml:7:16: regex: invalid regular expression '([a-z'",
        id="bad-regex",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests:
          - vars: {topic: cats}
            assert:
              - type: latency
        """,
        "suite.yaml:6:9: latency: 'latency' needs a 'threshold' (milliseconds)",
        id="missing-threshold",
    ),
    pytest.param(
        """
        prompts: ["Tell me about {{topic"]
        providers: [file://provider.py]
        """,
        "suite.yaml:1:26: template syntax error in prompt 'Tell me about {{topic'",
        id="template-syntax",
    ),
    pytest.param(
        """
        prompts: ["hi"]
        providers: [opena:chat:gpt-4o]
        """,
        "suite.yaml:2:13: unknown provider 'opena:chat:gpt-4o' (did you mean 'openai'?)",
        id="provider-typo",
    ),
    pytest.param(
        """
        prompts: ["hi"]
        providers:
          - id: openai:chat:m
            config: {apiBaseUrl: "http://127.0.0.1:9/v1", temprature: 0}
        """,
        "suite.yaml:3:5: unknown config key 'temprature' for provider 'openai:chat:m' "
        "(did you mean 'temperature'?)",
        id="provider-config-typo",
    ),
    pytest.param(
        """
        prompts: ["hi"
        """,
        "suite.yaml:2:1: invalid YAML",
        id="yaml-syntax",
    ),
    pytest.param(
        """
        prompts: ["hi"]
        providers: [file://provider.py]
        tests: file://missing.csv
        """,
        "suite.yaml:3:8: file not found: missing.csv",
        id="missing-tests-file",
    ),
]


@pytest.mark.parametrize(("suite", "expected"), CASES)
def test_bad_suite_exits_2_with_located_line_before_any_call(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    marker_provider: Path,
    suite: str,
    expected: str,
) -> None:
    result = eval_suite(run_cli, write, suite)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    assert result.stderr.count("\n") == 1, "one line, no traceback"
    assert "Traceback" not in result.output
    assert not marker_provider.exists(), "no model may be called for a bad suite"


def test_errors_in_a_csv_tests_file_name_its_row_and_column(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    marker_provider: Path,
) -> None:
    write("cases.csv", 'q,__expected\nfirst,contains:a\nsecond,"regex:(unclosed"\n')
    result = eval_suite(
        run_cli,
        write,
        """
        prompts: ["{{q}}"]
        providers: [file://provider.py]
        tests: file://cases.csv
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cases.csv:3:2: regex: invalid regular expression"), (
        result.stderr
    )
    assert not marker_provider.exists()


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("contians:pear", "unknown assertion type 'contians' (did you mean 'contains'?)"),
        (
            "not-contians:pear",
            "unknown assertion type 'not-contians' (did you mean 'not-contains'?)",
        ),
        (
            "levenshtien(3):pear",
            "unknown assertion type 'levenshtien' (did you mean 'levenshtein'?)",
        ),
        ("rouge-n:pear", "unknown assertion type 'rouge-n'; "),
    ],
)
def test_a_typo_in_a_compact_csv_assertion_is_an_error(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    marker_provider: Path,
    cell: str,
    expected: str,
) -> None:
    write(
        "cases.csv",
        f"q,__description,__expected1,__expected2\npear,ok,contains:p,x\napple,typo,icontains:a,{cell}\n",
    )
    result = eval_suite(
        run_cli,
        write,
        """
        prompts: ["{{q}}"]
        providers: [file://provider.py]
        tests: file://cases.csv
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cases.csv:3:4: {expected}"), result.stderr
    assert "start it with 'equals:'" in result.stderr
    assert not marker_provider.exists()


def test_errors_in_a_yaml_tests_file_name_that_file(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    marker_provider: Path,
) -> None:
    write(
        "cases.yaml",
        """
        - vars: {q: one}
        - vars: {q: two}
          assert:
            - type: icontain
              value: two
        """,
    )
    result = eval_suite(
        run_cli,
        write,
        """
        prompts: ["{{q}}"]
        providers: [file://provider.py]
        tests: [file://cases.yaml]
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: cases.yaml:4:13: unknown assertion type 'icontain' (did you mean 'icontains'?)"
    ), result.stderr


def test_errors_in_a_jsonl_tests_file_name_its_line(
    write: Callable[[str, str], Path],
) -> None:
    write("cases.jsonl", '{"vars": {"q": "a"}}\n\n{"vars": {"q": "b"}, "threshold": "x"}\n')
    write("suite.yaml", "prompts: ['{{q}}']\nproviders: [echo]\ntests: file://cases.jsonl\n")
    with pytest.raises(SuiteError) as caught:
        prompteur.plan_suite("suite.yaml")
    assert str(caught.value).startswith("cases.jsonl:3:")
    assert "'threshold'" in str(caught.value)


def test_several_problems_are_counted_in_the_one_line(write: Callable[[str, str], Path]) -> None:
    # typos of known keys (a key neither prompteur nor promptfoo knows is only a warning)
    write("suite.yaml", "prompts: ['x']\nproviders: [echo]\ntest: 1\ndescripton: 2\n")
    with pytest.raises(SuiteError, match=r"unknown key 'test'.* \(and 1 more problem\)"):
        prompteur.plan_suite("suite.yaml")


def test_unknown_output_format_is_a_usage_error(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    marker_provider: Path,
) -> None:
    write("suite.yaml", "prompts: ['x']\nproviders: [file://provider.py]\n")
    result = run_cli("eval", "suite.yaml", "-o", "out.pdf")
    assert result.exit_code == 2
    assert "unsupported output out.pdf" in result.stderr
    assert not marker_provider.exists()


def test_missing_suite_file(run_cli: Callable[..., Result]) -> None:
    result = run_cli("eval", "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr == "error: file not found: nope.yaml\n"


def test_no_suite_in_folder_suggests_init(run_cli: Callable[..., Result]) -> None:
    result = run_cli("eval")
    assert result.exit_code == 2
    assert "prompteur init" in result.stderr


def test_debug_shows_the_traceback(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
) -> None:
    write("suite.yaml", "promts: ['x']\n")
    with pytest.raises(SuiteError):
        run_cli("--debug", "eval", "suite.yaml")


def test_template_syntax_errors_name_the_line_and_column_in_the_file(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], marker_provider: Path
) -> None:
    # a block scalar: its text starts on the next line, indented
    result = eval_suite(
        run_cli,
        write,
        """
        prompts:
          - |
            You are a helpful assistant.
            Answer about {{ topic | }} briefly.
            Thanks.
        providers: [file://provider.py]
        tests:
          - vars: {topic: cats}
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: suite.yaml:4:18: template syntax error"), result.stderr
    # a prompts file with several prompts, blank lines after the separator, and a chat
    write(
        "prompts.txt",
        "First {{ a }}\n---\n\nsystem: Be brief.\nuser: Tell me\n  about {% if a %}{{ a }\n",
    )
    result = eval_suite(
        run_cli,
        write,
        """
        prompts: [file://prompts.txt]
        providers: [file://provider.py]
        tests:
          - vars: {a: cats}
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: prompts.txt:6:19: template syntax error"), result.stderr
    assert not marker_provider.exists()


def test_csv_rows_are_located_with_a_column(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], marker_provider: Path
) -> None:
    write("t.csv", "topic,__expected\ncats,contains:cat\n,\n")
    write("u.csv", "topc,__expected\ndogs,contains:dog\n")
    result = eval_suite(
        run_cli,
        write,
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests: [file://t.csv, file://u.csv]
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: u.csv:2:1: prompt 'Tell me about {{topic}}': undefined variable 'topic'"
    ), result.stderr
    write("v.csv", "topic,doc\ncats,file://missing.txt\n")
    result = eval_suite(
        run_cli,
        write,
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [file://provider.py]
        tests: file://v.csv
        """,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: v.csv:2:2: file not found: missing.txt"), result.stderr
    assert not marker_provider.exists()
