"""Human verdicts: `prompteur rate` stores who said what and when, beside the automatic
grades; show, compare and history count the human verdict where there is one, and say so."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from prompteur.store import Store

SUITE = """
description: rated
prompts: ["{{word}}"]
providers: [echo]
tests:
  - vars: {word: apple}
    assert: [{type: contains, value: apple}]
  - vars: {word: pear}
    assert: [{type: contains, value: apple}]
  - vars: {word: plum}
    assert: [{type: contains, value: apple}]
"""


@pytest.fixture
def any_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The commands' store (PROMPTEUR_DB) on each backend: SQLite, then PostgreSQL."""
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    return store_url


@pytest.fixture
def rated_run(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    any_store: str,
) -> str:
    write("prompteur.yaml", SUITE)
    assert run_cli("eval", "--no-progress").exit_code == 1
    return Store().runs(limit=1)[0].id


def test_rate_stores_the_verdict_beside_the_grades(
    rated_run: str, run_cli: Callable[..., Result]
) -> None:
    shown = run_cli("show", rated_run)
    assert "cell 0:0:1:0" in shown.output  # failures name their cells, to be rated
    rated = run_cli(
        "rate", rated_run, "0:0:1:0", "pass", "--comment", "a pear is fine", "--author", "ana"
    )
    assert rated.exit_code == 0, rated.output
    assert rated.output.strip() == (
        f"run {rated_run} cell 0:0:1:0: pass by ana (automatic grade: fail)"
    )
    store = Store()
    verdicts = store.verdicts(rated_run)
    assert set(verdicts) == {"0:0:1:0"}
    verdict = verdicts["0:0:1:0"]
    assert verdict.passed and verdict.author == "ana" and verdict.comment == "a pear is fine"
    assert verdict.created_at > 0
    cell = next(r for r in store.results(rated_run) if r.key == "0:0:1:0")
    assert cell.status == "pass" and not cell.passed  # the grade is kept; the verdict counts
    assert cell.assertions[0].passed is False
    # a later verdict replaces the earlier one; both are kept
    run_cli("rate", rated_run, "0:0:1:0", "fail", "--score", "0.2", "--author", "bob")
    assert store.verdicts(rated_run)["0:0:1:0"].author == "bob"
    cell = next(r for r in store.results(rated_run) if r.key == "0:0:1:0")
    assert cell.status == "fail" and cell.final_score == 0.2


def test_show_counts_human_verdicts_and_says_so(
    rated_run: str, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    before = run_cli("show", rated_run)
    assert "1/3 passed" in before.output
    run_cli("rate", rated_run, "0:0:1:0", "pass", "--author", "ana")
    after = run_cli("show", rated_run, "-o", "rated.json")
    assert "2/3 passed" in after.output
    assert "1 cell carries a human verdict" in after.output
    assert "cell 0:0:1:0" not in after.output  # no longer a failure
    rows = json.loads((tmp_path / "rated.json").read_text())["results"]
    pear = next(r for r in rows if r["key"] == "0:0:1:0")
    assert pear["status"] == "pass" and pear["human"]["author"] == "ana"
    run_cli("rate", rated_run, "0:0:2:0", "fail", "--comment", "no apple", "--author", "ana")
    again = run_cli("show", rated_run, "-o", "rated.md", "-o", "rated.html")
    assert "human verdict by ana: fail: no apple" in again.output
    assert "2 human verdicts counted instead of the grades" in (tmp_path / "rated.md").read_text()
    page = (tmp_path / "rated.html").read_text()
    assert "2 human verdicts counted" in page and "human verdict (ana): fail: no apple" in page


def test_compare_and_history_use_human_verdicts(
    rated_run: str, run_cli: Callable[..., Result]
) -> None:
    assert run_cli("eval", "--no-progress").exit_code == 1
    second = Store().runs(limit=1)[0].id
    same = run_cli("compare", rated_run, second)
    assert "A 33.3% → B 33.3%" in same.output
    run_cli("rate", second, "0:0:1:0", "pass", "--author", "ana")
    run_cli("rate", second, "0:0:2:0", "pass", "--author", "ana")
    compared = run_cli("compare", rated_run, second)
    assert "A 33.3% → B 100.0%" in compared.output
    assert "human verdicts used instead of the automatic grades: 0 cells in A, 2 in B" in (
        compared.output
    )
    history = run_cli("history", "prompteur.yaml")
    assert "33% 100%" in history.output
    assert "2 cells carry a human verdict" in history.output


def test_rating_errors(rated_run: str, run_cli: Callable[..., Result], write: Callable) -> None:
    unknown = run_cli("rate", rated_run, "9:9:9:9", "pass")
    assert unknown.exit_code == 2
    assert "has no cell '9:9:9:9'" in unknown.output
    bad = run_cli("rate", rated_run, "0:0:0:0", "maybe")
    assert bad.exit_code == 2 and "'maybe' is not one of 'pass', 'fail'" in bad.output
    no_run = run_cli("rate", "nope", "0:0:0:0", "pass")
    assert no_run.exit_code == 2 and "no run 'nope'" in no_run.output
    write(
        "broken.py",
        """
        def call_api(prompt, options, context):
            return {"error": "down"}
        """,
    )
    write(
        "prompteur.yaml",
        """
        prompts: ["{{word}}"]
        providers: [file://broken.py]
        tests: [{vars: {word: x}}]
        """,
    )
    run_cli("eval", "--no-progress", "--max-retries", "0")
    errored = Store().runs(limit=1)[0].id
    refused = run_cli("rate", errored, "0:0:0:0", "pass")
    assert refused.exit_code == 2
    assert "has no output to judge" in refused.output
