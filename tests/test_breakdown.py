"""Metric names are templates of the case's variables, and `--by VAR` breaks the pass rates
down by a variable's value (a per-class table for a classifier), in `eval` and `show`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

# A classifier that calls everything "spam": right on the spam class, wrong on the others.
SUITE = """
description: a classifier
prompts: ["Classify: {{text}}"]
providers: ["python:model.py:call_api"]
defaultTest:
  assert:
    - type: equals
      value: "{{label}}"
      metric: "accuracy {{label}}"
tests:
  - vars: {text: win money now, label: spam}
  - vars: {text: cheap pills, label: spam}
  - vars: {text: free prize, label: spam}
  - vars: {text: lunch at noon?, label: ham}
  - vars: {text: see you tomorrow, label: ham}
"""

MODEL = "def call_api(prompt, options, context):\n    return 'spam'\n"


@pytest.fixture
def suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[str, str], Path]
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTEUR_DB", f"sqlite:///{tmp_path / 'store.db'}")
    write("model.py", MODEL)
    return write("suite.yaml", SUITE)


def _row(stdout: str, first: str) -> list[str]:
    found = [line.split() for line in stdout.splitlines() if line.split()[:1] == [first]]
    assert len(found) == 1, stdout
    return found[0]


def test_metric_names_are_rendered_per_case(
    suite: Path, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    result = run_cli("eval", str(suite), "--no-progress", "-o", "r.json")
    assert result.exit_code == 1
    document = json.loads((tmp_path / "r.json").read_text())
    metrics = document["summary"]["groups"][0]["metrics"]
    assert metrics == {"accuracy spam": 1.0, "accuracy ham": 0.0}


def test_by_breaks_pass_rates_down_per_class(suite: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("eval", str(suite), "--no-progress", "--by", "label")
    assert "by label" in result.stdout
    assert _row(result.stdout, "spam")[1:4] == ["3", "100%", "(3/3)"]
    assert _row(result.stdout, "ham")[1:4] == ["2", "0%", "(0/2)"]
    shown = run_cli("show", "latest", "--by", "label", "--by", "text")
    assert _row(shown.stdout, "spam")[1:4] == ["3", "100%", "(3/3)"]
    assert "by text" in shown.stdout and _row(shown.stdout, "cheap")[1:4] == ["pills", "1", "100%"]


def test_a_variable_no_case_sets_is_shown_as_such(
    suite: Path, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("eval", str(suite), "--no-progress", "--by", "language")
    assert _row(result.stdout, "(not")[1:5] == ["set)", "5", "60%", "(3/5)"]


def test_a_metric_template_that_does_not_render_is_one_located_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    monkeypatch.chdir(tmp_path)
    write("model.py", MODEL)
    write("suite.yaml", SUITE.replace('metric: "accuracy {{label}}"', 'metric: "accuracy {{label"'))
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: suite.yaml:") and "metric" in line
