"""Ctrl-C stops a run cleanly: what finished is reported and written, exit code 130."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SLOW_PROVIDER = """
import time

def call_api(prompt, options, context):
    with open("calls.log", "a") as log:
        log.write(prompt + "\\n")
    time.sleep(0.2)
    return prompt
"""


def test_sigint_keeps_what_finished(write: Callable[[str, str], Path], tmp_path: Path) -> None:
    write("slow.py", SLOW_PROVIDER)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(40))
    write(
        "suite.yaml", f"prompts: ['item {{{{n}}}}']\nproviders: [file://slow.py]\ntests:\n{tests}\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prompteur",
            "eval",
            "suite.yaml",
            "-j",
            "1",
            "-o",
            "r.jsonl",
            "-o",
            "r.json",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    calls = tmp_path / "calls.log"
    try:
        deadline = time.monotonic() + 60
        # press Ctrl-C once a few cells have finished
        while process.poll() is None and time.monotonic() < deadline:
            if calls.exists() and len(calls.read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout
    assert "Traceback" not in stderr
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "run"
    assert lines[-1]["type"] == "summary"
    assert lines[-1]["interrupted"] is True
    results = [line for line in lines if line["type"] == "result"]
    assert 0 < len(results) < 40
    assert lines[-1]["done"] == len(results)
    assert len({r["key"] for r in results}) == len(results)
    document = json.loads((tmp_path / "r.json").read_text())
    assert len(document["results"]) == len(results)
    assert f"{len(results)}/{len(results)} passed" in stdout
    assert f"{40 - len(results)} cells not run" in stdout
