"""What a run has finished, or paid for, reaches the store within a second, even while its
next calls take long: a kill at any moment loses at most that second. New cache entries
(the task's and the judges') go with the batches of results, and a batch never splits a
case graded as a whole."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import prompteur
from prompteur.core._summary import RunSummary
from prompteur.eval import RunFinished, RunStarted
from prompteur.providers import Completion
from prompteur.store import Store, StoreCache, StoreSink
from prompteur.store import _schema as tables

from .conftest import eval_processes

# Cases below FAST answer at once; the others wait for a file named "go" (the test's
# control over a slow model), or for a minute. Each call is logged with its process.
BURST = """
import os, time
from pathlib import Path

def call_api(prompt, options, context):
    with open(f"calls-{os.getpid()}.log", "a") as log:
        log.write(prompt + "\\n")
    if int(prompt.split()[1]) >= int(os.environ.get("FAST", "4")):
        deadline = time.monotonic() + 60
        while not Path("go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return prompt
"""


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def _calls(folder: Path, pid: int) -> list[str]:
    log = folder / f"calls-{pid}.log"
    return log.read_text().splitlines() if log.exists() else []


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def burst_suite(write: Callable[[str, str], Path]) -> Path:
    write("burst.py", BURST)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(8))
    return write(
        "suite.yaml",
        f"prompts: ['item {{{{n}}}}']\nproviders: [file://burst.py]\ntests:\n{tests}\n",
    )


@pytest.fixture
def eval_process(tmp_path: Path, store_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    with eval_processes(tmp_path, store_url) as start:
        yield start


def test_cells_finished_before_slow_calls_are_stored_within_a_second(
    burst_suite: Path,
    tmp_path: Path,
    store_url: str,
    eval_process: Callable[..., subprocess.Popen[str]],
) -> None:
    """Four instant cells, then four calls that hang: the four are stored (with their cache
    entries) while the others still run, and a kill -9 then loses none of them."""
    first = eval_process("suite.yaml", "-j", "4")
    store = Store(store_url)
    try:
        # the four hanging calls have begun: no result comes any more to carry a batch
        assert _wait_for(lambda: len(_calls(tmp_path, first.pid)) == 8, 60)
        began = time.monotonic()
        assert _wait_for(lambda: _count(store, tables.results) == 4, 5), "not stored"
        assert time.monotonic() - began < 3
        (info,) = store.runs()
        assert (info.status, info.done, info.passed) == ("running", 4, 4)
        assert _count(store, tables.cache) == 4, "their answers are cached with them"
        first.send_signal(signal.SIGKILL)
        first.wait()

        (tmp_path / "go").touch()
        resumed = eval_process("--resume")
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        assert "(4/8 cells stored)" in err
        assert sorted(_calls(tmp_path, resumed.pid)) == [f"item {n}" for n in range(4, 8)]
        fresh = eval_process("suite.yaml")
        _, err = fresh.communicate(timeout=120)
        assert fresh.returncode == 0, err
        assert _calls(tmp_path, fresh.pid) == [], "every answer paid for was cached"
    finally:
        store.close()


def test_sigterm_stops_the_run_as_ctrl_c_does(
    burst_suite: Path,
    tmp_path: Path,
    store_url: str,
    eval_process: Callable[..., subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`timeout`, `docker stop` or a cancelled CI job send SIGTERM: the run writes what
    finished, its reports and its cache, is marked interrupted, says how to resume, and
    exits 130."""
    monkeypatch.setenv("FAST", "3")
    process = eval_process("suite.yaml", "-j", "1", "-o", "r.jsonl")
    assert _wait_for(lambda: len(_calls(tmp_path, process.pid)) == 4, 60)
    process.send_signal(signal.SIGTERM)
    (tmp_path / "go").touch()  # the call in flight may end: its cell is not waited for
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "resume with: prompteur eval --resume " in stderr
    assert "interrupted" in stdout and "3/3 passed" in stdout
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines] == ["run", "result", "result", "result", "summary"]
    assert lines[-1]["interrupted"] is True
    store = Store(store_url)
    (info,) = store.runs()
    assert (info.status, info.done) == ("interrupted", 3)
    assert _count(store, tables.cache) == 3
    store.close()

    resumed = eval_process("--resume")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert sorted(_calls(tmp_path, resumed.pid)) == [f"item {n}" for n in range(3, 8)]


def _stored(store: Store) -> int:
    return _count(store, tables.results)


@pytest.mark.parametrize(
    ("batch_size", "flush_seconds"), [(2, 3600), (1000, 0)], ids=["full batch", "overdue"]
)
def test_a_batch_never_splits_a_case_graded_as_a_whole(
    store_url: str, batch_size: int, flush_seconds: float
) -> None:
    suite = {
        "prompts": ["a {{n}}", "b {{n}}", "c {{n}}"],
        "providers": ["echo"],
        "tests": [{"vars": {"n": n}} for n in range(2)],
    }
    plan = prompteur.plan_suite(suite)
    # the cells of a case arrive together, as the runner hands over a select-best case
    results = sorted(prompteur.evaluate(plan).results, key=lambda r: (r.test_index, r.prompt_index))
    store = Store(store_url)
    sink = StoreSink(store, plan, batch_size=batch_size, flush_seconds=flush_seconds)
    sink.on_start(RunStarted("run-1", None, [], [], plan.total_cells, time.time()))
    stored = []
    for result in results:  # no event loop: the sink keeps the time itself
        sink.on_result(result)
        sink.drain()  # batches are written on the sink's writer thread
        stored.append(_stored(store))
    assert stored == [0, 0, 0, 3, 3, 3], "a due batch waits for the rest of its case"
    sink.on_finish(RunFinished("run-1", RunSummary(None, [], plan.total_cells), time.time()))
    assert store.run("run-1").done == 6
    store.close()


def test_a_busy_loop_still_writes_within_flush_seconds(store_url: str) -> None:
    """Cells graded back to back never give the event loop its turn, so its timer cannot
    fire: the next case's result writes what waited longer than ``flush_seconds``."""
    suite = {
        "prompts": ["a {{n}}"],
        "providers": ["echo"],
        "tests": [{"vars": {"n": n}} for n in range(4)],
    }
    plan = prompteur.plan_suite(suite)
    results = prompteur.evaluate(plan).results
    store = Store(store_url)
    sink = StoreSink(store, plan, flush_seconds=0.05)

    async def busy() -> list[int]:
        sink.on_start(RunStarted("run-busy", None, [], [], plan.total_cells, time.time()))
        stored = []
        for result in results:  # no await: the loop's timer never runs
            sink.on_result(result)
            sink.drain()  # batches are written on the sink's writer thread
            stored.append(_stored(store))
            time.sleep(0.06)  # noqa: ASYNC251 - grading that keeps the loop busy
        return stored

    assert asyncio.run(busy()) == [0, 1, 2, 3]
    sink.on_finish(RunFinished("run-busy", RunSummary(None, [], plan.total_cells), time.time()))
    assert store.run("run-busy").done == 4
    store.close()


def test_cache_entries_are_written_within_a_second_without_results(store_url: str) -> None:
    """A judge's answer, or the task's while its judges still grade, is written on its own
    when no batch of results comes to carry it."""
    store = Store(store_url)
    cache = StoreCache(store, flush_seconds=0.2)

    async def put_then_wait() -> tuple[int, int]:
        cache.put("k1", "judge", Completion("PASS"), 12.0)
        cache.put("k2", "judge", Completion("FAIL"), 15.0)
        await asyncio.sleep(0.05)
        soon = _count(store, tables.cache)
        await asyncio.sleep(0.5)
        return soon, _count(store, tables.cache)

    assert asyncio.run(put_then_wait()) == (0, 2)
    again = StoreCache(store)
    assert set(again.get_many(["k1", "k2", "k3"])) == {"k1", "k2"}
    cache.close()
    again.close()
    store.close()


def test_cache_entries_due_take_the_waiting_cells_with_them(store_url: str) -> None:
    """Entries that are due while cells wait for their batch are written with those cells,
    in one transaction: a run killed then has its answers and the cells they made, or
    neither, whichever of the two came due first."""
    plan = prompteur.plan_suite(
        {"prompts": ["a {{n}}"], "providers": ["echo"], "tests": [{"vars": {"n": 0}}]}
    )
    (result,) = prompteur.evaluate(plan).results
    store = Store(store_url)
    cache = StoreCache(store, batch_size=1, flush_seconds=3600)
    sink = StoreSink(store, plan, flush_seconds=3600, cache=cache)
    sink.on_start(RunStarted("run-due", None, [], [], plan.total_cells, time.time()))
    sink.on_result(result)
    assert (_stored(store), _count(store, tables.cache)) == (0, 0)
    cache.put("k1", "judge", Completion("PASS"), 12.0)  # a full batch of entries: due
    assert cache.get("k1") is not None, "served from memory while the writer writes it"
    sink.drain()
    assert (_stored(store), _count(store, tables.cache)) == (1, 1)
    sink.on_finish(RunFinished("run-due", RunSummary(None, [], plan.total_cells), time.time()))
    cache.put("k2", "judge", Completion("FAIL"), 15.0)  # the run is over: written alone
    assert _count(store, tables.cache) == 2
    cache.close()
    store.close()


def test_cache_entries_go_in_the_transaction_of_their_results(
    store_url: str, write: Callable[[str, str], Path]
) -> None:
    write("up.py", "def call_api(prompt, options, context):\n    return prompt.upper()\n")
    store = Store(store_url)
    cache = StoreCache(store, flush_seconds=3600)
    suite = {
        "prompts": ["a {{n}}"],
        "providers": ["file://up.py"],
        "tests": [{"vars": {"n": n}} for n in range(3)],
    }
    plan = prompteur.plan_suite(suite)
    sink = StoreSink(store, plan, batch_size=1, cache=cache)
    writes: list[tuple[int, int]] = []
    write_results = store.write_results

    def counting(rows: object, **options: object) -> None:
        writes.append((len(rows), len(options["cache_entries"])))  # type: ignore[arg-type]
        write_results(rows, **options)  # type: ignore[arg-type]

    store.write_results = counting  # type: ignore[method-assign]
    one_by_one = prompteur.EvalOptions(max_concurrency=1)
    result = prompteur.evaluate(plan, sinks=[sink], cache=cache, options=one_by_one)
    assert result.summary.done == 3
    # a batch is written when the next cell comes, whose answer (cached before it is
    # graded) goes with it: an answer is never written after its cell
    assert writes == [(1, 2), (1, 1), (1, 0)]
    assert _count(store, tables.cache) == 3
    with pytest.raises(ValueError, match="of its own store"):
        StoreSink(Store(store_url), plan, cache=cache)
    cache.close()
    store.close()


TASK = """
import os

def call_api(prompt, options, context):
    with open(f"task-{os.getpid()}.log", "a") as log:
        log.write(prompt + "\\n")
    return prompt.upper()
"""

# a judge that takes its time (until a file named "go" appears) for the cases it is told
SLOW_JUDGE = """
import json, os, time
from pathlib import Path

def call_api(prompt, options, context):
    with open(f"judge-{os.getpid()}.log", "a") as log:
        log.write(prompt[-40:].replace("\\n", " ") + "\\n")
    if "ITEM 0" not in prompt:
        deadline = time.monotonic() + 60
        while not Path("go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return json.dumps({"reason": "fine", "pass": True, "score": 1})
"""


def test_answers_waiting_for_their_judges_are_cached_and_not_paid_again(
    write: Callable[[str, str], Path],
    tmp_path: Path,
    store_url: str,
    eval_process: Callable[..., subprocess.Popen[str]],
) -> None:
    """The task's answers are cached within a second although their cells wait for a slow
    judge, and the judge's verdicts go with the cells they grade: after a kill -9, no
    answer or verdict that was paid for is asked again."""
    write("task.py", TASK)
    write("judge.py", SLOW_JUDGE)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(4))
    write(
        "suite.yaml",
        "prompts: ['item {{n}}']\nproviders: [file://task.py]\n"
        "defaultTest:\n  options: {provider: file://judge.py}\n"
        "  assert: [{type: llm-rubric, value: shouts}]\n"
        f"tests:\n{tests}\n",
    )
    first = eval_process("suite.yaml", "-j", "4")
    store = Store(store_url)
    try:
        assert _wait_for(lambda: len(_calls_of(tmp_path, "judge", first.pid)) == 4, 60)
        # 4 answers, and the verdict of case 0 with its cell; 3 verdicts still to come
        assert _wait_for(lambda: _count(store, tables.cache) == 5, 5)
        assert _stored(store) == 1
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        store.close()
    (tmp_path / "go").touch()
    again = eval_process("suite.yaml")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert _calls_of(tmp_path, "task", again.pid) == [], "no answer paid twice"
    assert len(_calls_of(tmp_path, "judge", again.pid)) == 3, "case 0's verdict was kept"


def _calls_of(folder: Path, who: str, pid: int) -> list[str]:
    log = folder / f"{who}-{pid}.log"
    return log.read_text().splitlines() if log.exists() else []


def test_the_event_loop_never_waits_on_a_slow_database(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are written on the sink's own thread: while a commit takes its time, the
    runner's workers go on (here: the next cells are handed over before the first batch
    is committed), and the run ends with every cell stored."""
    plan = prompteur.plan_suite(
        {
            "prompts": ["a {{n}}"],
            "providers": ["echo"],
            "tests": [{"vars": {"n": n}} for n in range(6)],
        }
    )
    store = Store(store_url)
    committed: list[float] = []
    handed: list[float] = []
    original = Store.write_results

    def slow_commit(self: Store, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.3)
        original(self, *args, **kwargs)
        committed.append(time.monotonic())

    monkeypatch.setattr(Store, "write_results", slow_commit)
    sink = StoreSink(store, plan, batch_size=1, flush_seconds=3600)

    class Handed:
        def on_start(self, event: object) -> None:
            pass

        def on_result(self, result: object) -> None:
            handed.append(time.monotonic())

        def on_finish(self, event: object) -> None:
            pass

    prompteur.evaluate(plan, sinks=[sink, Handed()], cache=False)
    assert len(committed) == 6 and store.run(sink.run_id or "").done == 6
    # every cell was handed over before the first slow commit was done: none waited on it
    assert max(handed) < committed[0], (handed, committed)
    store.close()
