"""Nothing a model or a check does can hang prompteur: a provider that never returns, a check
that never ends, or an instant provider that never lets the event loop breathe. The runs
end, or stop on SIGTERM within seconds, print their report, and resume."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import eval_processes

# generous: these runs hang for ever without their fix
EXIT_SECONDS = 30

Start = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start ``prompteur eval`` in the test's folder, on a SQLite store there."""
    with eval_processes(tmp_path, "store.db") as start:
        yield start


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _stored(folder: Path) -> int:
    """How many results the run's store holds."""
    if not (folder / "store.db").exists():
        return 0
    with contextlib.closing(sqlite3.connect(folder / "store.db")) as db:
        try:
            return int(db.execute("SELECT count(*) FROM results").fetchone()[0])
        except sqlite3.OperationalError:  # not made yet
            return 0


def _results(path: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line["type"] == "result"]


STUCK_PROVIDER = """
import threading

def call_api(prompt, options, context):
    if prompt.endswith("2"):
        threading.Event().wait()  # never returns
    return prompt
"""


def test_a_sync_provider_that_never_returns_times_out_and_the_process_exits(
    write: Callable[[str, str], Path], start: Start
) -> None:
    write("stuck.py", STUCK_PROVIDER)
    write(
        "suite.yaml",
        "prompts: ['item {{n}}']\nproviders: [file://stuck.py]\n"
        "tests: [{vars: {n: 1}}, {vars: {n: 2}}, {vars: {n: 3}}]\n",
    )
    process = start("suite.yaml", "--timeout", "1", "--max-retries", "0", "-o", "r.jsonl")
    stdout, stderr = process.communicate(timeout=EXIT_SECONDS)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "timed out after 1 s" in stdout  # the report is printed
    errors = {r["vars"]["n"]: r["error"] for r in _results(Path("r.jsonl"))}  # type: ignore[index]
    assert errors == {1: None, 2: "timed out after 1 s", 3: None}


def test_sigterm_stops_a_run_of_an_instant_provider_at_once(
    write: Callable[[str, str], Path], start: Start, tmp_path: Path
) -> None:
    """The echo provider answers without ever letting the event loop run: SIGTERM took
    effect only once every cell had run."""
    tests = "".join(f"  - vars: {{n: {n}}}\n" for n in range(20))
    write("suite.yaml", f"prompts: ['item {{{{n}}}}']\nproviders: [echo]\ntests:\n{tests}")
    process = start("suite.yaml", "--repeat", "10000", "-o", "r.jsonl")
    _wait_for(lambda: _stored(tmp_path) > 0)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=EXIT_SECONDS)
    assert process.returncode == 130, stderr
    assert "resume with: prompteur eval --resume " in stderr
    assert "interrupted" in stdout
    assert 0 < len(_results(tmp_path / "r.jsonl")) < 200_000


# Case 3's check loops in Python while the file "stuck" exists (and says it has begun).
LOOPING_CHECK = """
import os

def get_assert(output, context):
    if output.endswith("3"):
        open("looping", "w").close()
        while os.path.exists("stuck"):
            pass
    return True
"""

# Case 3's check swallows whatever is raised in it, for as long as "stuck" exists.
STUBBORN_CHECK = """
import os

def get_assert(output, context):
    if output.endswith("3"):
        open("looping", "w").close()
    while output.endswith("3") and os.path.exists("stuck"):
        try:
            while True:
                pass
        except BaseException:
            pass
    return True
"""


def _checked_suite(write: Callable[[str, str], Path], check: str) -> None:
    write("check.py", check)
    write("stuck", "")
    tests = "".join(f"  - vars: {{n: {n}}}\n" for n in range(6))
    write(
        "suite.yaml",
        "prompts: ['item {{n}}']\nproviders: [echo]\n"
        "defaultTest: {assert: [{type: python, value: 'file://check.py'}]}\n"
        f"tests:\n{tests}",
    )


def test_sigterm_ends_a_check_that_loops_and_the_run_resumes(
    write: Callable[[str, str], Path], start: Start, tmp_path: Path
) -> None:
    _checked_suite(write, LOOPING_CHECK)
    process = start("suite.yaml", "-j", "1")
    _wait_for((tmp_path / "looping").exists)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=EXIT_SECONDS)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stdout and "3/3 passed" in stdout
    assert "resume with: prompteur eval --resume " in stderr
    assert _stored(tmp_path) == 3

    (tmp_path / "stuck").unlink()
    resumed = start("--resume")
    _, err = resumed.communicate(timeout=EXIT_SECONDS)
    assert resumed.returncode == 0, err
    assert "(3/6 cells stored)" in err
    assert _stored(tmp_path) == 6


def test_a_second_sigterm_ends_the_process_whatever_runs(
    write: Callable[[str, str], Path], start: Start, tmp_path: Path
) -> None:
    _checked_suite(write, STUBBORN_CHECK)
    process = start("suite.yaml", "-j", "1")
    _wait_for((tmp_path / "looping").exists)
    process.send_signal(signal.SIGTERM)
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=EXIT_SECONDS)
    assert process.returncode == 130, stderr
    assert "stopped at once; resume with: prompteur eval --resume " in stderr
    # as after kill -9: what the store had committed is kept, the rest runs again
    assert _stored(tmp_path) <= 3

    (tmp_path / "stuck").unlink()
    resumed = start("--resume")
    _, err = resumed.communicate(timeout=EXIT_SECONDS)
    assert resumed.returncode == 0, err
    assert _stored(tmp_path) == 6
