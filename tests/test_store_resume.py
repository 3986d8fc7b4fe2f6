"""Resuming a run through the library: ``evaluate(..., run_id=existing)`` finishes it, and
library runs are found by ``eval --resume`` and ``history`` like the command's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.store import Store, StoreError

COUNTING = """
def call_api(prompt, options, context):
    with open("calls.log", "a") as log:
        log.write(prompt + "\\n")
    return prompt.upper()
"""


@pytest.fixture
def suite(write: Callable[[str, str], Path]) -> Path:
    write("count.py", COUNTING)
    tests = "\n".join(
        f"  - vars: {{n: {n}}}\n    assert: [{{type: contains, value: ITEM}}]" for n in range(6)
    )
    return write(
        "suite.yaml",
        f"description: library\nprompts: ['item {{{{n}}}}', 'thing {{{{n}}}}']\n"
        f"providers: [file://count.py]\ntests:\n{tests}\n",
    )


def calls(folder: Path) -> list[str]:
    return (folder / "calls.log").read_text().splitlines()


def test_evaluate_resumes_a_run_of_the_store(suite: Path, store_url: str, tmp_path: Path) -> None:
    first = prompteur.evaluate(
        "suite.yaml", store=store_url, cache=False, select=lambda cell: cell.test < 2
    )
    assert first.summary.done == 4
    store = Store(store_url)
    info = store.run(first.run_id)
    assert (info.status, info.done, info.total_cells) == ("interrupted", 4, 12)
    assert info.suite_path == str(suite.resolve())
    assert info.suite_name == "library"

    again = prompteur.evaluate("suite.yaml", store=store_url, cache=False, run_id=first.run_id)
    assert again.run_id == first.run_id
    assert again.summary.done == 8, "only the cells not stored yet ran"
    assert sorted(calls(tmp_path)) == sorted(
        f"{w} {n}" for w in ("item", "thing") for n in range(6)
    )
    info = store.run(first.run_id)
    assert (info.status, info.done, info.passed, info.failed) == ("finished", 12, 6, 6)
    assert len(store.runs()) == 1
    outputs = {r.key: r.output for r in store.results(first.run_id)}
    assert len(outputs) == 12
    assert outputs["1:0:5:0"] == "THING 5"

    with pytest.raises(StoreError, match=f"run {first.run_id} is already finished"):
        prompteur.evaluate("suite.yaml", store=store_url, run_id=first.run_id)
    suite.write_text(suite.read_text().replace("thing", "other"))
    half = prompteur.evaluate("suite.yaml", store=store_url, select=lambda cell: cell.test < 1)
    suite.write_text(suite.read_text().replace("other", "thing"))
    with pytest.raises(StoreError, match="cannot be resumed with this suite"):
        prompteur.evaluate("suite.yaml", store=store_url, run_id=half.run_id)
    store.close()


def test_the_command_resumes_a_library_run_and_history_finds_it(
    suite: Path, store_url: str, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    first = prompteur.evaluate(
        str(suite), store=store_url, cache=False, select=lambda cell: cell.prompt == 0
    )
    resumed = run_cli("eval", "--resume", "--db", store_url, "--no-progress")
    assert resumed.exit_code == 1, resumed.output  # the 'thing' prompt fails its checks
    assert f"resuming run {first.run_id} of library (6/12 cells stored)" in resumed.stderr
    assert len(calls(tmp_path)) == 12
    prompteur.evaluate(suite, store=store_url, cache=False)
    history = run_cli("history", "suite.yaml", "--db", store_url)
    assert history.exit_code == 0, history.output
    assert "library: 2 runs" in history.stdout
    assert "100% 100%" in history.stdout and "0% 0%" in history.stdout
