"""Values a suite may hold but prompteur cannot (nesting too deep for JSON, integers over
64 bits, text that is not UTF-8, NaN and infinite numbers) and malformed compact CSV
assertions: each is one located error line, exit code 2, no traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _check(result: Result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {expected}"), result.stderr


def test_json_nested_too_deep_in_a_suite_is_one_located_line(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    text = '{"prompts": ["{{x}}"], "providers": ["echo"],\n "tests": [{"vars": {"x": '
    write("suite.json", text + _deep(300) + "}}]}")
    result = run_cli("eval", "suite.json", "--no-progress")
    _check(result, "suite.json:2:")
    assert "nested" in result.stderr


def test_json_nested_too_deep_in_a_tests_file_names_that_file(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("cases.json", '[{"vars": {"x": 1}},\n {"vars": {"x": ' + _deep(260) + "}}]")
    write("suite.yaml", "prompts: ['{{x}}']\nproviders: [echo]\ntests: file://cases.json\n")
    _check(run_cli("eval", "suite.yaml", "--no-progress"), "cases.json:2:")


def test_json_nested_too_deep_in_a_var_file_names_that_file(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("deep.json", _deep(300))
    write(
        "suite.yaml",
        "prompts: ['{{x}}']\nproviders: [echo]\ntests:\n  - vars: {x: file://deep.json}\n",
    )
    _check(run_cli("eval", "suite.yaml", "--no-progress"), "deep.json:1:")


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_an_integer_over_64_bits_in_a_var_is_one_located_line(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], number: int, kind: str
) -> None:
    if kind == "yaml":
        write(
            "suite.yaml",
            f"prompts: ['{{{{x}}}}']\nproviders: [echo]\ntests:\n  - vars: {{x: {number}}}\n",
        )
        where = "suite.yaml:4:"
    else:
        data = {"prompts": ["{{x}}"], "providers": ["echo"]}
        write(
            "suite.yaml", json.dumps(data)[:-1] + f',\n"tests": [{{"vars": {{"x": {number}}}}}]}}'
        )
        where = "suite.yaml:2:"
    result = run_cli("eval", "suite.yaml", "--no-progress")
    _check(result, where)
    assert "64" in result.stderr


def test_an_integer_within_64_bits_is_kept(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "suite.yaml",
        f"prompts: ['{{{{x}}}}']\nproviders: [echo]\ntests:\n  - vars: {{x: {2**63 - 1}}}\n",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["suite.yaml", "cases.yaml", "prompt.txt"])
def test_invalid_utf8_names_the_file_and_line(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path, name: str
) -> None:
    write(
        "suite.yaml", "prompts: [file://prompt.txt]\nproviders: [echo]\ntests: file://cases.yaml\n"
    )
    write("cases.yaml", "- vars: {x: 1}\n")
    write("prompt.txt", "{{x}}\n")
    path = tmp_path / name
    path.write_bytes(path.read_bytes() + b"# caf\xe9 \xff\n")
    lines = path.read_bytes().count(b"\n")
    result = run_cli("eval", "suite.yaml", "--no-progress")
    _check(result, f"{name}:{lines}:")
    assert "UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("levenshtein(-1):x", "levenshtein"),
        ("levenshtein(abc):x", "levenshtein"),
        ("levenshtein():x", "levenshtein"),
        ("similar(0.8.1):x", "similar"),
        ("Contains:x", "did you mean 'contains'?"),
        ("NOT-ICONTAINS:x", "did you mean 'not-icontains'?"),
    ],
)
def test_a_malformed_compact_assertion_is_an_error(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], cell: str, expected: str
) -> None:
    write("cases.csv", f"q,__expected\npear,contains:p\napple,{cell}\n")
    write("suite.yaml", "prompts: ['{{q}}']\nproviders: [echo]\ntests: file://cases.csv\n")
    result = run_cli("eval", "suite.yaml", "--no-progress")
    _check(result, "cases.csv:3:2:")
    assert expected in result.stderr


@pytest.mark.parametrize(
    ("q", "cell"),
    [
        ("appel", "levenshtein(2):apple"),
        ("Apples: red", "Apples: red"),
        ("http://x.org/a:b", "http://x.org/a:b"),
    ],
)
def test_well_formed_compact_cells_still_run(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], q: str, cell: str
) -> None:
    write("cases.csv", f"q,__expected\n{q},{cell}\n")
    write("suite.yaml", "prompts: ['{{q}}']\nproviders: [echo]\ntests: file://cases.csv\n")
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", ".nan"),
        ("threshold", ".inf"),
        ("threshold", "-.inf"),
        ("weight", ".inf"),
        ("weight", ".nan"),
    ],
)
def test_nan_and_infinite_numbers_in_a_suite_are_refused(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], field: str, value: str
) -> None:
    write(
        "suite.yaml",
        "prompts: ['{{x}}']\nproviders: [echo]\ntests:\n  - vars: {x: 1}\n    assert:\n"
        f"      - {{type: contains, value: '1', {field}: {value}}}\n",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    _check(result, "suite.yaml:6:")
    assert "finite" in result.stderr


def test_nan_in_evaluate_options_is_refused(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "suite.yaml",
        "prompts: ['{{x}}']\nproviders: [echo]\nevaluateOptions: {timeoutMs: .nan}\n"
        "tests:\n  - vars: {x: 1}\n",
    )
    _check(run_cli("eval", "suite.yaml", "--no-progress"), "suite.yaml:3:")


@pytest.mark.parametrize("value", ["nan", "inf", "-nan", "Infinity"])
def test_nan_and_infinite_timeouts_are_refused(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], value: str
) -> None:
    write("suite.yaml", "prompts: ['{{x}}']\nproviders: [echo]\ntests:\n  - vars: {x: 1}\n")
    result = run_cli("eval", "suite.yaml", "--no-progress", "--timeout", value)
    assert result.exit_code == 2, result.output
    assert "--timeout" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_pass_thresholds_and_scores_are_refused(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], value: str
) -> None:
    write("suite.yaml", "prompts: ['{{x}}']\nproviders: [echo]\ntests:\n  - vars: {x: 1}\n")
    result = run_cli("eval", "suite.yaml", "--no-progress", "--pass-threshold", value)
    assert result.exit_code == 2, result.output
    result = run_cli("rate", "latest", "--score", value)
    assert result.exit_code == 2, result.output
    assert "--score" in result.stderr


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"timeout": 0.0},
        {"delay": float("nan")},
        {"retry_base_delay": float("inf")},
        {"retry_max_delay": -1.0},
    ],
)
def test_library_options_refuse_nan_and_infinities(options: dict[str, float]) -> None:
    import prompteur

    with pytest.raises(ValueError, match="finite number"):
        prompteur.EvalOptions(**options)


def test_a_mapping_suite_with_a_huge_integer_is_a_suite_error() -> None:
    import prompteur
    from prompteur.core._errors import SuiteError

    suite = {"prompts": ["{{x}}"], "providers": ["echo"], "tests": [{"vars": {"x": 2**70}}]}
    with pytest.raises(SuiteError, match=r"^tests\.0\.vars\.x: the integer 1180591620717411303424"):
        prompteur.plan_suite(suite)
