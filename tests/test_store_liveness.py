"""Runs that are still being written, and runs whose process died: counters that follow
every batch, heartbeats, and resumes that leave a live run alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select, update

import prompteur
from prompteur.core._summary import RunSummary
from prompteur.eval import RunFinished, RunStarted
from prompteur.store import Store, StoreError, StoreSink
from prompteur.store import _schema as tables
from prompteur.store._liveness import STALE_AFTER_S, this_host

SUITE = {
    "description": "liveness",
    "prompts": ["{{word}}"],
    "providers": ["echo"],
    "tests": [
        {"vars": {"word": w}, "assert": [{"type": "contains", "value": "a"}]}
        for w in ("apple", "pear", "plum", "banana", "fig")
    ],
}


def _set_writer(store: Store, run_id: str, **values: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(tables.runs).where(tables.runs.c.id == run_id).values(**values))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_counters_follow_every_batch_and_liveness_is_read_from_the_heartbeat(
    store_url: str,
) -> None:
    plan = prompteur.plan_suite(SUITE)
    cells = prompteur.evaluate(plan).results  # apple, pear, banana pass; plum, fig fail
    store = Store(store_url)
    sink = StoreSink(store, plan, suite_name="liveness", batch_size=2, flush_seconds=3600)
    sink.on_start(RunStarted("run-live", None, [], [], plan.total_cells, time.time()))
    ordered = sorted(cells, key=lambda r: r.test_index)
    for result in ordered[1:4]:
        sink.on_result(result)
    sink.drain()
    info = store.run("run-live")
    # one batch of two is stored; its counters came with it, before the run ends
    assert (info.status, info.done, info.passed, info.failed) == ("running", 2, 1, 1)
    assert info.pid == os.getpid() and info.host == this_host()
    assert info.heartbeat_at is not None and info.duration_s is not None
    with pytest.raises(StoreError, match="run run-live is still running"):
        store.reopen_run("run-live")

    _set_writer(store, "run-live", pid=_dead_pid())
    assert store.run("run-live").status == "interrupted", "its process is gone"
    assert [r.id for r in store.runs(statuses=["interrupted"])] == ["run-live"]
    assert store.runs(statuses=["running"]) == []
    _set_writer(store, "run-live", host="another-machine")
    assert store.run("run-live").status == "running", "another host's fresh heartbeat"
    assert store.runs(statuses=["interrupted"]) == []
    stale = time.time() - STALE_AFTER_S - 1
    _set_writer(store, "run-live", heartbeat_at=stale)
    assert store.run("run-live").status == "interrupted", "not heard of for too long"

    _set_writer(store, "run-live", host=this_host(), pid=os.getpid(), heartbeat_at=time.time())
    for result in [ordered[0], *ordered[4:]]:
        sink.on_result(result)
    summary = RunSummary(None, [], plan.total_cells, duration_s=0.5)
    sink.on_finish(RunFinished("run-live", summary, time.time()))
    info = store.run("run-live")
    assert (info.status, info.done, info.passed, info.failed) == ("finished", 5, 3, 2)
    store.close()


def test_replaced_cells_are_recounted(store_url: str) -> None:
    result = prompteur.evaluate(SUITE, store=store_url)
    store = Store(store_url)
    rows = []
    with store.engine.connect() as conn:
        for row in conn.execute(
            select(tables.results).where(tables.results.c.run_id == result.run_id)
        ).mappings():
            rows.append({**row, "status": "error", "output": None, "error": "down"})
    store.write_results(rows, replace=True)
    info = store.run(result.run_id)
    assert (info.done, info.passed, info.failed, info.errors) == (5, 0, 0, 5)
    store.write_results(rows[:2])  # stored already: kept, and the counters stay right
    with store.engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(tables.results.c.run_id == result.run_id)
        ).scalar()
    assert count == 5
    assert store.run(result.run_id).done == 5
    store.close()


SLOW = """
import time

def call_api(prompt, options, context):
    time.sleep(0.05)
    return prompt
"""


@pytest.fixture
def slow_suite(write: Callable[[str, str], Path]) -> Path:
    write("slow.py", SLOW)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(400))
    return write(
        "suite.yaml",
        f"description: slow\nprompts: ['item {{{{n}}}}']\nproviders: [file://slow.py]\n"
        f"tests:\n{tests}\n",
    )


@pytest.fixture
def writer(slow_suite: Path, store_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "prompteur", "eval", "suite.yaml", "--db", store_url]
    process = subprocess.Popen(
        [*command, "--no-progress", "--no-cache", "-j", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _stored(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.results)).scalar() or 0)


def test_a_live_run_is_left_alone_and_a_killed_one_resumes(
    writer: subprocess.Popen[bytes],
    store_url: str,
    run_cli: Callable[..., Result],
) -> None:
    store = Store(store_url)
    deadline = time.monotonic() + 60
    while _stored(store) == 0 and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.poll() is None, "the run should still be going"
    (info,) = store.runs()
    assert info.status == "running" and info.pid == writer.pid
    listing = run_cli("runs", "--db", store_url)
    assert "running" in listing.stdout and "interrupted" not in listing.stdout
    for args in (["--resume", info.id], ["--retry-errors", info.id]):
        refused = run_cli("eval", *args, "--db", store_url, "--no-progress")
        assert refused.exit_code == 2, refused.output
        assert refused.stderr.startswith(
            f"error: run {info.id} is still running (process {writer.pid}"
        ), refused.stderr
    # a bare --resume looks for an interrupted run, and a live one is not
    refused = run_cli("eval", "--resume", "--db", store_url, "--no-progress")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: no interrupted run of a suite in this folder to resume (see 'prompteur runs')\n"
    )
    assert store.run(info.id).pid == writer.pid, "the live run was not taken over"

    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    killed = store.run(info.id)
    stored = _stored(store)
    assert killed.status == "interrupted"
    assert killed.done == stored > 0, "the counters match the stored cells"
    assert killed.duration_s is not None and killed.duration_s > 0, "its time counts"
    listing = run_cli("runs", "--db", store_url)
    assert "interrupted" in listing.stdout and f"{stored}/400" in listing.stdout
    resumed = run_cli("eval", "--resume", "--db", store_url, "--no-progress", "-j", "8")
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming run {info.id} of slow ({stored}/400 cells stored)" in resumed.stderr
    done = store.run(info.id)
    assert (done.status, done.done, done.passed) == ("finished", 400, 400)
    assert done.duration_s is not None and done.duration_s > killed.duration_s
    store.close()
