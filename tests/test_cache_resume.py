"""The completion cache, resuming runs killed with SIGKILL, and re-running errored cells."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

import prompteur
from prompteur.prompts import Message
from prompteur.providers import CompletionRequest
from prompteur.providers._cache import cache_key
from prompteur.store import Store
from prompteur.store import _schema as tables

COUNTING = """
import json, os

def call_api(prompt, options, context):
    with open("calls.log", "a") as log:
        log.write(prompt + "\\n")
    if os.environ.get("FAIL_ON") and os.environ["FAIL_ON"] in prompt:
        return {"error": "scripted failure"}
    return {"output": prompt.upper(), "tokenUsage": {"prompt": 1, "completion": 1}}
"""


@pytest.fixture
def any_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The commands' store (PROMPTEUR_DB) on each backend: SQLite, then PostgreSQL."""
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    return store_url


@pytest.fixture
def project(write: Callable[[str, str], Path]) -> Path:
    write("count.py", COUNTING)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(6))
    return write(
        "suite.yaml",
        f"description: cached\nprompts: ['item {{{{n}}}}']\n"
        f"providers: [file://count.py]\ntests:\n{tests}\n",
    )


def calls(tmp_path: Path) -> int:
    log = tmp_path / "calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_rerun_is_served_from_the_cache(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path, any_store: str
) -> None:
    assert run_cli("eval", "suite.yaml", "--no-progress", "-o", "first.json").exit_code == 0
    assert calls(tmp_path) == 6
    assert run_cli("eval", "suite.yaml", "--no-progress", "-o", "second.json").exit_code == 0
    assert calls(tmp_path) == 6, "no call on a fully cached re-run"
    second = json.loads((tmp_path / "second.json").read_text())
    assert all(r["cached"] for r in second["results"])
    assert [r["output"] for r in second["results"]] == [f"ITEM {n}" for n in range(6)]
    # --no-cache neither reads nor writes
    assert run_cli("eval", "suite.yaml", "--no-progress", "--no-cache").exit_code == 0
    assert calls(tmp_path) == 12


def test_errors_are_not_cached(
    run_cli: Callable[..., Result],
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    any_store: str,
) -> None:
    monkeypatch.setenv("FAIL_ON", "item 3")
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 1
    monkeypatch.delenv("FAIL_ON")
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 0
    assert calls(tmp_path) == 7, "only the cell that failed is called again"


def test_editing_a_python_provider_invalidates_its_cache(
    run_cli: Callable[..., Result],
    project: Path,
    tmp_path: Path,
) -> None:
    run_cli("eval", "suite.yaml", "--no-progress")
    (tmp_path / "count.py").write_text(COUNTING.replace("prompt.upper()", "prompt.title()"))
    run_cli("eval", "suite.yaml", "--no-progress")
    assert calls(tmp_path) == 12


def test_repeats_are_fresh_samples_and_cached_apart(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path, any_store: str
) -> None:
    # within one run, repeat 1 and 2 of a case must call the model, not replay repeat 0
    assert run_cli("eval", "suite.yaml", "--no-progress", "--repeat", "3", "-j", "1").exit_code == 0
    assert calls(tmp_path) == 18
    result = run_cli("eval", "suite.yaml", "--no-progress", "--repeat", "3", "-o", "again.json")
    assert result.exit_code == 0
    assert calls(tmp_path) == 18, "each repeat is served from its own cache entry"
    again = json.loads((tmp_path / "again.json").read_text())
    assert len(again["results"]) == 18
    assert all(r["cached"] for r in again["results"])


def test_a_provider_that_sees_the_vars_is_cached_by_them(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write(
        "greet.py",
        """
        def call_api(prompt, options, context):
            with open("calls.log", "a") as log:
                log.write(prompt + "\\n")
            return prompt + " " + context["vars"]["who"]
        """,
    )
    write(
        "suite.yaml",
        """
        prompts: [hello]
        providers: [file://greet.py]
        tests:
          - vars: {who: alice}
            assert: [{type: equals, value: hello alice}]
          - vars: {who: bob}
            assert: [{type: equals, value: hello bob}]
        """,
    )
    for _ in range(2):
        result = run_cli("eval", "suite.yaml", "--no-progress", "-j", "1")
        assert result.exit_code == 0, result.stdout
    assert calls(tmp_path) == 2, "the same prompt text with other vars is another entry"


def test_cache_key_is_what_the_documentation_says() -> None:
    class Model(prompteur.BaseProvider):
        def __init__(self, temperature: float) -> None:
            super().__init__("model")
            self.temperature = temperature

        def identity(self) -> dict[str, object]:
            return {"id": "model", "params": {"temperature": self.temperature}}

    request = CompletionRequest((Message("user", "hi"),))
    key = cache_key(Model(0), request)
    import hashlib

    expected = hashlib.sha256(
        b'{"messages":[["user","hi"]],"params":{},"provider":{"id":"model","params":'
        b'{"temperature":0}},"v":1}'
    ).hexdigest()
    assert key == expected
    assert cache_key(Model(1), request) != key
    assert cache_key(Model(0), CompletionRequest((Message("user", "hi!"),))) != key
    assert (
        cache_key(Model(0), CompletionRequest((Message("user", "hi"),), params={"max_tokens": 5}))
        != key
    )

    repeated = cache_key(Model(0), request, repeat=2)
    assert (
        repeated
        == hashlib.sha256(
            b'{"messages":[["user","hi"]],"params":{},"provider":{"id":"model","params":'
            b'{"temperature":0}},"repeat":2,"v":1}'
        ).hexdigest()
    )
    assert cache_key(Model(0), request, repeat=0) == key

    class SeesVars(Model):
        vars_in_cache_key = True

    with_vars = CompletionRequest((Message("user", "hi"),), vars={"who": "bob"})
    assert (
        cache_key(SeesVars(0), with_vars)
        == hashlib.sha256(
            b'{"messages":[["user","hi"]],"params":{},"provider":{"id":"model","params":'
            b'{"temperature":0}},"v":1,"vars":{"who":"bob"}}'
        ).hexdigest()
    )
    assert cache_key(Model(0), with_vars) == key, "vars count only for providers that see them"

    class Anonymous:
        id = "anon"

        async def complete(self, request: CompletionRequest) -> prompteur.Completion:
            return prompteur.Completion("x")

    assert cache_key(Anonymous(), request) is None  # type: ignore[arg-type]


def test_cache_stats_and_clear(
    run_cli: Callable[..., Result], project: Path, any_store: str
) -> None:
    run_cli("eval", "suite.yaml", "--no-progress")
    stats = run_cli("cache", "stats")
    assert stats.stdout.startswith("6 cached completions")
    assert "file://count.py" in stats.stdout
    cleared = run_cli("cache", "clear", "--yes")
    assert cleared.stdout == "deleted 6 cached completions\n"
    assert run_cli("cache", "stats").stdout.startswith("0 cached completions")


KILLED = """
import os, time

def call_api(prompt, options, context):
    with open(f"calls-{os.getpid()}.log", "a") as log:
        log.write(prompt + "\\n")
    time.sleep(0.05)
    return prompt
"""


def _stored_cells(store: Store) -> dict[str, tuple[int, int, str | None]]:
    """The stored cells of the store's one run: key -> (prompt, test, output)."""
    results = tables.results
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(results.c.cell_key, results.c.prompt_pos, results.c.test_pos, results.c.output)
        )
        return {row.cell_key: (row.prompt_pos, row.test_pos, row.output) for row in rows}


def test_sigkill_at_random_moments_then_resume_stores_every_cell_once(
    write: Callable[[str, str], Path], tmp_path: Path, store_url: str
) -> None:
    """Kill the run (SIGKILL) at random moments, each after new cells were stored since the
    last kill, resume each time, and check that every planned cell is stored once with its
    output, that the counters follow, and that no resume paid again for a stored cell."""
    write("slow.py", KILLED)
    cases = 300
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(cases))
    write(
        "suite.yaml",
        f"description: killed\nprompts: ['a {{{{n}}}}', 'b {{{{n}}}}']\n"
        f"providers: [file://slow.py]\ntests:\n{tests}\n",
    )
    base = [sys.executable, "-m", "prompteur", "eval", "--db", store_url, "--no-progress"]
    base += ["--no-cache", "-j", "2"]
    rng = random.Random()
    store = Store(store_url)
    segments: list[tuple[int, set[str]]] = []  # each process, and the cells stored before it
    kills = 0
    while kills < 4:
        before = set(_stored_cells(store))
        command = [*base, "--resume"] if store.runs() else [*base, "suite.yaml"]
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        segments.append((process.pid, before))
        try:
            deadline = time.monotonic() + 60
            while len(_stored_cells(store)) == len(before) and time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                time.sleep(0.02)
            if process.poll() is not None:
                break  # it finished first: the kill count below says so
            time.sleep(rng.uniform(0, 1.5))  # anywhere in the next batches, or between them
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stored = _stored_cells(store)
        assert len(stored) > len(before)
        (info,) = store.runs()
        assert info.status == "interrupted", "its process is gone"
        assert info.done == len(stored), "the counters follow the stored cells"
    assert kills >= 3, f"killed {kills} times with new cells stored between kills"
    assert len(_stored_cells(store)) < 2 * cases, "the run was not over before the last kill"

    before = set(_stored_cells(store))
    final = subprocess.Popen(
        [*base, "--resume", "-j", "8"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    segments.append((final.pid, before))
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert f"({len(before)}/{2 * cases} cells stored)" in err
    stored = _stored_cells(store)
    planned = {f"{p}:0:{n}:0" for p in range(2) for n in range(cases)}
    assert set(stored) == planned
    assert all(output == f"{'ab'[p]} {n}" for p, n, output in stored.values())
    (info,) = store.runs()
    assert (info.status, info.done, info.passed, info.total_cells) == (
        "finished",
        2 * cases,
        2 * cases,
        2 * cases,
    )
    # a resumed process calls the model only for cells that were not stored when it began
    prompts = {key: f"{'ab'[p]} {n}" for key, (p, n, _) in stored.items()}
    called: set[str] = set()
    for pid, before in segments:
        log = tmp_path / f"calls-{pid}.log"
        calls_made = set(log.read_text().splitlines()) if log.exists() else set()
        assert not calls_made & {prompts[key] for key in before}, f"process {pid} paid twice"
        called |= calls_made
    assert called == set(prompts.values())
    store.close()


def test_resume_refuses_a_changed_suite(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / '.prompteur' / 'prompteur.db'}")
    plan = prompteur.plan_suite(project)
    from prompteur.store import StoreSink

    sink = StoreSink(store, plan, suite_name="cached", suite_path=str(project.resolve()))
    from prompteur.eval import RunStarted

    sink.on_start(RunStarted("run-1", None, [], [], plan.total_cells, time.time()))
    from prompteur.core._summary import RunSummary
    from prompteur.eval import RunFinished

    interrupted = RunSummary(None, [], plan.total_cells, interrupted=True)
    sink.on_finish(RunFinished("run-1", interrupted, time.time()))
    store.close()
    project.write_text(project.read_text().replace("item", "thing"))
    result = run_cli("eval", "--resume", "run-1")
    assert result.exit_code == 2
    assert "has changed since run run-1 started" in result.stderr


def test_nothing_to_resume(run_cli: Callable[..., Result], project: Path) -> None:
    result = run_cli("eval", "--resume")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no interrupted run of a suite in this folder to resume (see 'prompteur runs')\n"
    )
    named = run_cli("eval", "suite.yaml", "--resume")
    assert named.exit_code == 2
    assert named.stderr == (
        "error: no interrupted run of suite.yaml to resume "
        "(see 'prompteur runs --suite suite.yaml')\n"
    )


def interrupted_run(store: Store, suite_file: Path, run_id: str) -> None:
    """Record a run of ``suite_file`` that stopped before any cell."""
    from prompteur.core._summary import RunSummary
    from prompteur.eval import RunFinished, RunStarted
    from prompteur.store import StoreSink

    plan = prompteur.plan_suite(suite_file)
    sink = StoreSink(store, plan, suite_name=plan.description, suite_path=str(suite_file.resolve()))
    sink.on_start(RunStarted(run_id, None, [], [], plan.total_cells, time.time()))
    stopped = RunSummary(None, [], plan.total_cells, interrupted=True)
    sink.on_finish(RunFinished(run_id, stopped, time.time()))


def test_a_bare_resume_takes_this_suites_run_not_the_newest_of_the_store(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "count.py").write_text(COUNTING)
    (other / "prompteur.yaml").write_text(
        "description: other\nprompts: ['thing {{n}}']\nproviders: [file://count.py]\n"
        "tests: [{vars: {n: 1}}]\n"
    )
    store = Store(f"sqlite:///{tmp_path / '.prompteur' / 'prompteur.db'}")
    interrupted_run(store, project, "run-mine")
    time.sleep(0.01)
    interrupted_run(store, other / "prompteur.yaml", "run-theirs")  # newer, another suite
    store.close()
    result = run_cli("eval", "--resume", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "resuming run run-mine of cached" in result.stderr
    # the other suite's, named by its folder
    result = run_cli("eval", "other", "--resume", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "resuming run run-theirs of other" in result.stderr
    # nothing left for this suite
    again = run_cli("eval", "suite.yaml", "--resume", "--no-progress")
    assert again.exit_code == 2
    assert "no interrupted run of suite.yaml" in again.stderr


def test_a_bare_resume_in_a_folder_of_several_suites_asks_which(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(project.read_text().replace("item", "piece"))
    store = Store(f"sqlite:///{tmp_path / '.prompteur' / 'prompteur.db'}")
    interrupted_run(store, project, "run-a")
    interrupted_run(store, second, "run-b")
    store.close()
    result = run_cli("eval", "--resume", "--no-progress")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: interrupted runs of 2 suites here (second.yaml, suite.yaml): name one "
        "(prompteur eval second.yaml --resume) or give the run\n"
    )
    named = run_cli("eval", "second.yaml", "--resume", "--no-progress")
    assert named.exit_code == 0, named.output
    assert "resuming run run-b" in named.stderr


def test_retry_errors_reruns_only_the_errored_cells(
    run_cli: Callable[..., Result],
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    any_store: str,
) -> None:
    monkeypatch.setenv("FAIL_ON", "item 4")
    first = run_cli("eval", "suite.yaml", "--no-progress")
    assert first.exit_code == 1
    run_id = first.stdout.split("run ")[1].split()[0]
    assert calls(tmp_path) == 6
    monkeypatch.delenv("FAIL_ON")
    retried = run_cli("eval", "--retry-errors", run_id, "--no-progress", "-o", "all.json")
    assert retried.exit_code == 0, retried.output
    assert calls(tmp_path) == 7
    document = json.loads((tmp_path / "all.json").read_text())
    assert len(document["results"]) == 6
    assert {r["status"] for r in document["results"]} == {"pass"}
    again = run_cli("eval", "--retry-errors", run_id)
    assert again.exit_code == 2
    assert "has no errored cells" in again.stderr


def test_the_runner_computes_the_documented_key() -> None:
    from prompteur.providers._cache import CacheKeys

    class Model(prompteur.BaseProvider):
        def identity(self) -> dict[str, object]:
            return {"id": "m", "params": {"b": 1, "a": [1, 2]}, "url": "http://x"}

    keys = CacheKeys()
    model = Model("m")
    for request in (
        CompletionRequest((Message("system", "S"), Message("user", 'é "q"'))),
        CompletionRequest((Message("user", "x"),), params={"z": 1, "a": None}),
        CompletionRequest((Message("user", "x"),), vars={"b": [1], "a": "é"}),
    ):
        for repeat in (0, 3):
            assert keys.key(model, request, repeat) == cache_key(model, request, repeat)
            model.vars_in_cache_key = True
            assert keys.key(model, request, repeat) == cache_key(model, request, repeat)
            model.vars_in_cache_key = False
