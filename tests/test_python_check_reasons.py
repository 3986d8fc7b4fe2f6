"""A failing python check says what it checked and the values it saw, not "returned False"."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

SUITE = """
prompts: ["{{q}}"]
providers: [echo]
tests:
  - vars: {q: "41", answer: "42"}
    assert:
      - type: python
        value: int(output) == int(context["vars"]["answer"])
      - type: python
        value: len(output) > 3 and output.startswith("4")
      - type: python
        value: not output.isdigit()
      - type: python
        value: |
          x = output.strip()
          return x == "42"
      - type: python
        value: file://checks.py:is_answer
"""

CHECKS = "def is_answer(output, context):\n    return output == context['vars']['answer']\n"


@pytest.fixture
def reasons(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> list[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTEUR_DB", f"sqlite:///{tmp_path / 'store.db'}")
    write("suite.yaml", SUITE)
    write("checks.py", CHECKS)
    assert run_cli("eval", "suite.yaml", "--no-progress", "-o", "r.json").exit_code == 1
    (result,) = json.loads((tmp_path / "r.json").read_text())["results"]
    return [a["reason"] for a in result["assertions"]]


def test_a_comparison_shows_both_sides(reasons: list[str]) -> None:
    assert reasons[0] == (
        'int(output) == int(context["vars"]["answer"]) is false: '
        "int(output) is 41; int(context['vars']['answer']) is 42; output is '41'"
    )


def test_an_and_shows_the_operand_that_was_false(reasons: list[str]) -> None:
    assert reasons[1] == (
        'len(output) > 3 and output.startswith("4") is false: '
        "len(output) > 3 is False; output is '41'"
    )


def test_a_not_shows_what_it_negated(reasons: list[str]) -> None:
    assert reasons[2] == "not output.isdigit() is false: output.isdigit() is True; output is '41'"


def test_a_body_or_a_function_names_itself_and_the_output(reasons: list[str]) -> None:
    assert reasons[3] == "the check's body returned False for output '41'"
    assert reasons[4] == "checks.py:is_answer returned False for output '41'"
