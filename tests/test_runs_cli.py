"""`prompteur runs`: the list of runs (a table or JSON) with human verdicts counted, its
filters, and `runs delete`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

import prompteur
from prompteur.cli import cli
from prompteur.core._author import default_author
from prompteur.core._summary import RunSummary
from prompteur.eval import RunFinished, RunStarted
from prompteur.store import Store, StoreSink
from prompteur.store import _schema as tables

SUITE = """
description: fruit
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
def two_runs(
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
) -> tuple[str, str]:
    """Two runs of the fruit suite, each 1/3 passed; a person passed pear in the second."""
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    write("fruit.yaml", SUITE)
    assert run_cli("eval", "fruit.yaml", "--no-progress").exit_code == 1
    assert run_cli("eval", "fruit.yaml", "--no-progress").exit_code == 1
    older, newer = reversed([info.id for info in Store().runs()])
    assert run_cli("rate", newer, "0:0:1:0", "pass", "--author", "ana").exit_code == 0
    return older, newer


def test_runs_count_human_verdicts_and_mark_them(
    two_runs: tuple[str, str], run_cli: Callable[..., Result]
) -> None:
    older, newer = two_runs
    listing = run_cli("runs")
    assert listing.exit_code == 0
    rows = {line.split()[0]: line for line in listing.stdout.splitlines() if line[:1].isdigit()}
    assert "66.7%*" in rows[newer]
    assert "33.3%" in rows[older] and "*" not in rows[older]
    assert "* counts human verdicts ('prompteur rate') instead of the automatic grades" in (
        listing.stdout
    )


def test_runs_as_json(two_runs: tuple[str, str], run_cli: Callable[..., Result]) -> None:
    older, newer = two_runs
    result = run_cli("runs", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [r["id"] for r in listed] == [newer, older]
    latest = listed[0]
    assert latest["status"] == "finished"
    assert (latest["cells"], latest["done"], latest["passed"], latest["failed"]) == (3, 3, 2, 1)
    assert latest["pass_rate"] == pytest.approx(2 / 3)
    assert latest["human_verdicts"] == 1
    assert latest["automatic"] == {"passed": 1, "failed": 2}
    assert latest["suite"] == "fruit" and latest["suite_path"].endswith("fruit.yaml")
    assert latest["prompts"] == ["{{word}}"] and latest["providers"] == ["echo"]
    assert listed[1]["human_verdicts"] == 0 and listed[1]["passed"] == 1
    assert latest["author"] == default_author()  # who ran it, as ratings name them
    assert json.loads(run_cli("runs", "--json", "--suite", "nothing").stdout) == []


def test_runs_filters(
    two_runs: tuple[str, str], run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    older, newer = two_runs
    write("other.yaml", SUITE.replace("fruit", "other"))
    run_cli("eval", "other.yaml", "--no-progress")

    def ids(*args: str) -> list[str]:
        return [r["id"] for r in json.loads(run_cli("runs", "--json", *args).stdout)]

    assert len(ids()) == 3
    assert ids("--suite", "fruit") == [newer, older]
    assert ids("--suite", "fruit.yaml") == [newer, older], "a suite file, by its path"
    assert ids("--suite", "fruit", "--limit", "1") == [newer]
    assert len(ids("-n", "2")) == 2


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def test_runs_delete(two_runs: tuple[str, str], run_cli: Callable[..., Result]) -> None:
    older, newer = two_runs
    store = Store()
    cached, cases, prompts = (
        _count(store, t) for t in (tables.cache, tables.cases, tables.prompts)
    )
    declined = CliRunner().invoke(cli, ["runs", "delete", newer], input="n\n")
    assert declined.exit_code == 1
    assert "delete 1 run (3 cells, 1 human verdict)?" in declined.output
    assert len(store.runs()) == 2, "nothing deleted without a yes"

    accepted = CliRunner().invoke(cli, ["runs", "delete", newer[:18]], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"deleted run {newer} (3 cells)" in accepted.stdout
    assert [info.id for info in store.runs()] == [older]
    assert store.verdicts(newer) == {}
    assert _count(store, tables.ratings) == 0
    assert _count(store, tables.results) == 3
    assert _count(store, tables.run_prompts) == _count(store, tables.run_providers) == 1
    assert (_count(store, tables.cache), _count(store, tables.cases)) == (cached, cases)
    assert _count(store, tables.prompts) == prompts, "prompts, cases and the cache stay"

    missing = run_cli("runs", "delete", "nope", older, "--yes")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no run 'nope'")
    assert [info.id for info in store.runs()] == [older], "nothing deleted on a bad id"
    gone = run_cli("runs", "delete", older, "--yes")
    assert gone.stdout == f"deleted run {older} (3 cells)\n"
    assert run_cli("runs").stdout.startswith("no runs in ")
    store.close()


def test_a_live_run_is_not_deleted(store_url: str, run_cli: Callable[..., Result]) -> None:
    plan = prompteur.plan_suite(
        {"prompts": ["{{w}}"], "providers": ["echo"], "tests": [{"vars": {"w": "x"}}]}
    )
    store = Store(store_url)
    sink = StoreSink(store, plan)
    sink.on_start(RunStarted("run-live", None, [], [], plan.total_cells, time.time()))
    refused = run_cli("runs", "--db", store_url, "delete", "run-live", "--yes")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: run run-live is still running (process ")
    sink.on_finish(RunFinished("run-live", RunSummary(None, [], 1, interrupted=True), time.time()))
    assert run_cli("runs", "delete", "run-live", "--yes", "--db", store_url).exit_code == 0
    assert store.runs() == []
    store.close()


def test_show_lists_every_cell_or_the_passing_ones(
    two_runs: tuple[str, str], run_cli: Callable[..., Result]
) -> None:
    older, newer = two_runs
    failures = run_cli("show", older)
    assert "✗" in failures.stdout and "✓" not in failures.stdout
    every = run_cli("show", older, "--all")
    lines = every.stdout.splitlines()
    ticks = [line for line in lines if line.startswith("✓")]
    crosses = [line for line in lines if line.startswith("✗")]
    assert len(ticks) == 1 and "apple" in ticks[0] and "cell 0:0:0:0" in ticks[0]
    assert len(crosses) == 2
    assert "output: apple" in every.stdout
    passing = run_cli("show", newer, "--passing")
    assert "✗" not in passing.stdout
    ticks = [line for line in passing.stdout.splitlines() if line.startswith("✓")]
    assert [t.split("cell ")[1] for t in ticks] == ["0:0:0:0", "0:0:1:0"]
    assert "human verdict by ana: pass" in passing.stdout
    assert passing.exit_code == every.exit_code == 1  # the exit still says the run failed


def test_rate_takes_a_comment_without_a_verdict(
    two_runs: tuple[str, str], run_cli: Callable[..., Result]
) -> None:
    older, _ = two_runs
    said = run_cli("rate", older, "0:0:2:0", "--comment", "plum is a fruit too", "--author", "bo")
    assert said.exit_code == 0, said.output
    assert f"run {older} cell 0:0:2:0: comment by bo" in said.stdout
    store = Store()
    (comment,) = store.comments(older, "0:0:2:0")
    assert (comment.author, comment.text) == ("bo", "plum is a fruit too")
    assert "0:0:2:0" not in store.verdicts(older)  # a comment is no verdict
    bare = run_cli("rate", older, "0:0:2:0")
    assert bare.exit_code == 2
    assert "give a VERDICT (pass or fail), or a --comment, or both" in bare.output
    missing = run_cli("rate", older, "9:9:9:9", "--comment", "hm")
    assert missing.exit_code == 2 and "has no cell '9:9:9:9'" in missing.output
