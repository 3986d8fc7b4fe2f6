"""`prompteur history` follows prompts: a prompt rewritten in place starts a new line, a
registered prompt's versions are one line (with the new version marked), `--prompt NAME`
follows a registered prompt across suites, and mean scores stand beside pass rates."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console

from prompteur.store import Store
from prompteur.store._registry import PromptRegistry, PromptSource

TESTS = """
providers: [echo]
tests:
  - vars: {word: apple}
    assert: [{type: contains, value: apple}, {type: contains, value: Fruit}]
  - vars: {word: pear}
    assert: [{type: contains, value: apple}, {type: contains, value: Fruit}]
"""


def _lines(output: str, needle: str) -> list[str]:
    return [line for line in output.splitlines() if needle in line and line[:1] != "!"]


def test_a_rewritten_prompt_starts_a_new_line(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "suite.yaml",
        "description: fruit\nprompts: [{raw: 'Fruit: {{word}}', label: main}]\n" + TESTS,
    )
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 1
    write(
        "suite.yaml", "description: fruit\nprompts: [{raw: 'Veg: {{word}}', label: main}]\n" + TESTS
    )
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 1
    result = run_cli("history", "suite.yaml")
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout, "main #")
    assert len(lines) == 2, result.stdout  # one line per text, told apart by its hash
    old, new = lines
    assert "50% —" in old and old.split()[-2:] == ["—", "—"]  # it ran in the first run only
    assert "— 0%" in new and new.split()[-2:] == ["0%", "0.25"]  # latest rate, mean score


def test_a_registered_prompt_is_one_line_and_followed_by_name(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    registry = PromptRegistry(Store())
    registry.add("greet", PromptSource("Fruit: {{word}}"), labels=["production"])
    registry.add("greet", PromptSource("Fruit apple: {{word}}"))
    write(
        "a.yaml",
        "description: one\nprompts: [{prompt: greet@production}, 'Other {{word}}']\n" + TESTS,
    )
    write("b.yaml", "description: two\nprompts: [{prompt: greet@production}]\n" + TESTS)
    assert run_cli("eval", "a.yaml", "--no-progress").exit_code == 1
    registry.tag("greet@v2", "production")
    assert run_cli("eval", "b.yaml", "--no-progress").exit_code == 0
    assert run_cli("eval", "a.yaml", "--no-progress").exit_code == 1

    suite = run_cli("history", "a.yaml")
    (line,) = _lines(suite.stdout, "greet × echo")
    assert "50% v2:100%" in line and line.rstrip().endswith("1.00")
    assert "the prompt changed: greet@v1 → greet@v2" in suite.stdout

    followed = run_cli("history", "--prompt", "greet")
    assert followed.exit_code == 0, followed.output
    assert "greet: 3 runs" in followed.stdout
    (line,) = _lines(followed.stdout, "greet × echo")
    assert "50% v2:100% 100%" in line
    assert "Other" not in followed.stdout  # the runs' other prompts are not followed
    none = run_cli("history", "--prompt", "nobody")
    assert none.exit_code == 2
    assert "no recorded runs of registered prompt 'nobody'" in none.output
    both = run_cli("history", "a.yaml", "--prompt", "greet")
    assert both.exit_code == 2 and "give a SUITE or --prompt NAME" in both.output


def test_the_history_table_fits_80_columns(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prompteur.cli import _history

    write(
        "suite.yaml",
        "description: fruit\nprompts: [{raw: 'Fruit: {{word}}', label: main}]\n" + TESTS,
    )
    for _ in range(12):
        run_cli("eval", "suite.yaml", "--no-progress")
    out = io.StringIO()
    narrow = Console(file=out, width=80, force_terminal=False)
    monkeypatch.setattr(_history, "stdout_console", lambda: narrow)  # an 80-column terminal
    result = run_cli("history", "suite.yaml")
    assert result.exit_code == 0
    printed = out.getvalue().splitlines()
    assert max(len(line) for line in printed) <= 80
    (line,) = [line for line in printed if "main × echo" in line]
    assert line.split()[-2:] == ["50%", "0.75"]  # the latest rate and score stay whole
    assert "not shown at 80 columns: pass rates" in out.getvalue()
