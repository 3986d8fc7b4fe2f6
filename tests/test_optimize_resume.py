"""An optimizer search survives being stopped: SIGTERM keeps the best so far, kill -9
loses nothing charged, and ``--resume`` finishes the search within the same budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from prompteur.store import Store
from prompteur.store._searches import SearchStore

SLOW_MODEL = """
import json, time
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    if "question" not in v:
        return "Answer well."
    with open("asked.jsonl", "a") as f:
        f.write(json.dumps(v["question"]) + "\\n")
    time.sleep(0.08)
    if "only the number" in prompt:
        return str(v["answer"])
    return "I think it is " + str(v["answer"])
"""

BUDGET = 120


def _suite(folder: Path) -> Path:
    (folder / "model.py").write_text(SLOW_MODEL)
    tests = [
        {
            "vars": {"question": f"What is {a} times {b}?", "answer": str(a * b)},
            "assert": [{"type": "equals", "value": "{{answer}}"}],
        }
        for a in range(2, 8)
        for b in range(3, 10)
    ]
    path = folder / "suite.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "prompts": ["{{question}}"],
                "providers": ["python:model.py:call_api"],
                "tests": tests,
            }
        )
    )
    return path


def _start(folder: Path, db: str, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "prompteur", "optimize", "--db", db, "--no-progress"]
    return subprocess.Popen(
        [*command, *args], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _charged_calls(db: str) -> int:
    store = Store(db)
    try:
        record = SearchStore(store).get()
        roles = record.charged.get("roles") or {}
        return sum(int(r.get("calls", 0)) for r in roles.values())
    except Exception:
        return 0
    finally:
        store.close()


def _wait_for_charges(db: str, process: subprocess.Popen[str], calls: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        found = _charged_calls(db)
        if found >= calls:
            return found
        time.sleep(0.05)
    raise AssertionError("the search charged nothing")


def _asked(folder: Path) -> int:
    return len((folder / "asked.jsonl").read_text().splitlines())


def test_resume_after_kill_keeps_the_charges_and_the_cap(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    db = str(tmp_path / "store.db")
    process = _start(tmp_path, db, str(suite), "--budget", str(BUDGET), "-o", "optimize.json")
    charged = _wait_for_charges(db, process, 40)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    before = _asked(tmp_path)
    assert before >= 35  # calls were made and charged (written before each call)

    resumed = _start(tmp_path, db, "--resume", "-o", "optimize.json")
    _out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    report = json.loads((tmp_path / "optimize.json").read_text())
    task = report["ledger"]["roles"]["task"]
    assert task["calls"] >= charged - 1  # what was charged before the crash stays charged
    assert task["cached"] > 0  # the replay was served from the cache
    assert _asked(tmp_path) <= BUDGET  # both processes together kept to the budget
    assert report["ledger"]["spent"] <= BUDGET
    assert report["improved"] and report["holdout"]["winner"]["rate"] == 1.0
    store = Store(db)
    try:
        assert SearchStore(store).get(report["search_id"]).status == "finished"
    finally:
        store.close()


def test_sigterm_keeps_the_best_so_far_and_says_how_to_resume(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    db = str(tmp_path / "store.db")
    process = _start(tmp_path, db, str(suite), "--budget", str(BUDGET))
    _wait_for_charges(db, process, 20)
    os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "resume with: prompteur optimize --resume opt-" in err
    store = Store(db)
    try:
        record = SearchStore(store).get()
        assert record.status == "interrupted"
        assert record.state is not None and record.state["candidates"]
    finally:
        store.close()
    resumed = _start(tmp_path, db, "--resume")
    _out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert _asked(tmp_path) <= BUDGET
