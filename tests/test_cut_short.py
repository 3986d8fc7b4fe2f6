"""Answers the model stopped at its token limit are flagged in every report, and the HTML
report shows each cell's key and the prompt as it was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

SUITE = """
description: limits
prompts: ["Tell me about {{topic}}"]
providers: ["python:model.py:call_api"]
tests:
  - vars: {topic: tea}
    assert: [{type: contains, value: tea}]
  - vars: {topic: the whole history of <b>coffee</b>}
    assert: [{type: contains, value: coffee}]
"""

# A model that runs out of tokens on long topics, as a real one stops at max_tokens.
MODEL = """
def call_api(prompt, options, context):
    topic = context["vars"]["topic"]
    if len(topic) > 10:
        return {"output": "Once upon a", "finish_reason": "length"}
    return {"output": f"{topic} is a drink", "finish_reason": "stop"}
"""


@pytest.fixture
def evaluated(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> Result:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTEUR_DB", f"sqlite:///{tmp_path / 'store.db'}")
    write("suite.yaml", SUITE)
    write("model.py", MODEL)
    outputs = ["-o", "r.html", "-o", "r.md", "-o", "r.xml", "-o", "r.json"]
    result = run_cli("eval", "suite.yaml", "--no-progress", *outputs)
    assert result.exit_code == 1, result.stdout
    return result


def test_the_terminal_says_which_answers_were_cut(evaluated: Result) -> None:
    assert "1 cut off by max_tokens" in evaluated.stdout.splitlines()[-1]
    assert "the answer was cut off by max_tokens" in evaluated.stdout


def test_every_file_report_flags_them(evaluated: Result, tmp_path: Path) -> None:
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"]["cut_by_max_tokens"] == 1
    assert "1 answers cut off by max_tokens" in (tmp_path / "r.md").read_text()
    assert "the answer was cut off by max_tokens" in (tmp_path / "r.xml").read_text()
    page = (tmp_path / "r.html").read_text()
    assert page.count("cut off by max_tokens</span>") == 2  # the cell's badge, the summary


def test_the_html_report_shows_cell_keys_and_prompts_as_sent(
    evaluated: Result, tmp_path: Path
) -> None:
    page = (tmp_path / "r.html").read_text()
    assert "cell 0:0:0:0" in page and "cell 0:0:1:0" in page
    assert "<pre>Tell me about tea</pre>" in page
    # the prompt is shown as sent, and escaped like everything else
    assert "<pre>Tell me about the whole history of &lt;b&gt;coffee&lt;/b&gt;</pre>" in page


def test_a_stored_run_shown_again_keeps_the_flag(
    evaluated: Result, run_cli: Callable[..., Result]
) -> None:
    shown = run_cli("show", "latest")
    assert "cut off by max_tokens" in shown.stdout
