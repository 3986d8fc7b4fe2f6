"""promptfoo's case filters on ``prompteur eval`` (--filter-first-n, --filter-pattern,
--filter-sample, --filter-metadata, --filter-failing), and resuming a filtered run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.eval._filters import CaseFilter
from prompteur.store import Store

SUITE = """
prompts: ['say {{word}}']
providers: [echo]
tests:
  - description: greeting hello
    vars: {word: hello}
    metadata: {lang: en, tier: gold}
  - vars: {word: bonjour}
    metadata: {lang: fr, tier: gold}
  - description: greeting hi
    vars: {word: hi}
    metadata: {lang: en, tier: silver}
    assert: [{type: contains, value: nope}]
  - vars: {word: hallo}
    metadata: {lang: de}
    assert: [{type: contains, value: nope}]
  - description: farewell
    vars: {word: bye}
    metadata: {lang: en, tier: gold}
"""


@pytest.fixture
def suite(write: Callable[[str, str], Path]) -> Path:
    return write("suite.yaml", SUITE)


def words(run_cli: Callable[..., Result], *args: str) -> list[str]:
    result = run_cli("eval", "suite.yaml", "--no-progress", "-o", "out.json", *args)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(Path("out.json").read_text())
    return [r["vars"]["word"] for r in report["results"]]


def test_first_n_pattern_and_metadata(run_cli: Callable[..., Result], suite: Path) -> None:
    assert words(run_cli) == ["hello", "bonjour", "hi", "hallo", "bye"]
    assert words(run_cli, "--filter-first-n", "2") == ["hello", "bonjour"]
    # the description, else the variables as text
    assert words(run_cli, "--filter-pattern", "^greeting") == ["hello", "hi"]
    assert words(run_cli, "--filter-pattern", "bonj|hall") == ["bonjour", "hallo"]
    assert words(run_cli, "--filter-metadata", "lang=en") == ["hello", "hi", "bye"]
    both = ("--filter-metadata", "lang=en", "--filter-metadata", "tier=gold")
    assert words(run_cli, *both) == ["hello", "bye"]
    # filters combine: metadata, then pattern, then the first N
    assert words(run_cli, *both, "--filter-pattern", "e", "--filter-first-n", "1") == ["hello"]


def test_a_sample_is_seeded(run_cli: Callable[..., Result], suite: Path) -> None:
    first = words(run_cli, "--filter-sample", "3", "--seed", "7")
    assert len(first) == 3 and set(first) <= {"hello", "bonjour", "hi", "hallo", "bye"}
    assert words(run_cli, "--filter-sample", "3", "--seed", "7") == first
    seeds = {tuple(words(run_cli, "--filter-sample", "2", "--seed", str(s))) for s in range(8)}
    assert len(seeds) > 1, "the seed picks the sample"


def test_failing_cases_of_a_recorded_run(run_cli: Callable[..., Result], suite: Path) -> None:
    assert words(run_cli) == ["hello", "bonjour", "hi", "hallo", "bye"]
    (run,) = Store(f"sqlite:///{Path('.prompteur/prompteur.db').absolute()}").runs()
    assert words(run_cli, "--filter-failing", run.id) == ["hi", "hallo"]


def test_bad_filters_are_one_line(run_cli: Callable[..., Result], suite: Path) -> None:
    result = run_cli("eval", "suite.yaml", "--no-progress", "--filter-metadata", "lang")
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr
    result = run_cli("eval", "suite.yaml", "--no-progress", "--filter-pattern", "nothing-here")
    assert result.exit_code == 2
    assert result.stderr == "error: the --filter-* options leave no test case to run\n"
    result = run_cli("eval", "suite.yaml", "--no-progress", "--filter-pattern", "(")
    assert result.exit_code == 2 and "is no regex" in result.stderr


def test_a_filtered_run_resumes_with_the_same_cases(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    from prompteur.core._summary import RunSummary
    from prompteur.eval import RunFinished, RunStarted
    from prompteur.eval._options import EvalOptions
    from prompteur.eval._recording import store_sink

    store = Store(f"sqlite:///{Path('.prompteur').absolute() / 'prompteur.db'}")
    chosen = CaseFilter(metadata=(("lang", "en"),), first_n=2)
    plan = prompteur.plan_suite(suite, tests_filter=chosen)
    sink = store_sink(
        store, plan, EvalOptions(), continued=None, providers=[], grader=None, cache=None
    )
    sink.on_start(RunStarted("run-1", None, [], [], plan.total_cells, time.time()))
    stopped = RunSummary(None, [], plan.total_cells, interrupted=True)
    sink.on_finish(RunFinished("run-1", stopped, time.time()))
    store.close()
    result = run_cli("eval", "--resume", "run-1", "--no-progress", "-o", "out.json")
    assert result.exit_code == 1, result.output
    report = json.loads(Path("out.json").read_text())
    assert [r["vars"]["word"] for r in report["results"]] == ["hello", "hi"]
    again = run_cli("eval", "--resume", "run-1", "--filter-first-n", "1")
    assert again.exit_code == 2 and "--filter-*" in again.stderr
