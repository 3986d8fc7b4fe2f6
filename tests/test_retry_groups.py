"""Re-running errored cells of cases that are graded as a whole (select-best)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

# Picks the output that says BEST among those it is shown.
JUDGE = r"""
import json, re

def call_api(prompt, options, context):
    outputs = re.findall(r"<output (\d+)>\n(.*?)\n</output \d+>", prompt, re.S)
    best = next((int(n) for n, text in outputs if "BEST" in text), 0)
    return json.dumps({"reason": "it says so", "best": best})
"""

# Fails on the prompt that says BEST as long as the file 'down' exists.
FLAKY = """
import os

def call_api(prompt, options, context):
    if "BEST" in prompt and os.path.exists("down"):
        return {"error": "service unavailable"}
    return prompt
"""

SUITE = """
prompts: ["plain {{x}}", "BEST {{x}}"]
providers: [file://flaky.py]
defaultTest:
  options: {provider: file://judge.py}
  assert: [{type: select-best, value: the best one}]
tests:
  - vars: {x: 1}
  - vars: {x: 2}
"""


@pytest.fixture
def project(write: Callable[[str, str], Path], tmp_path: Path) -> Path:
    write("judge.py", JUDGE)
    write("flaky.py", FLAKY)
    (tmp_path / "down").touch()
    return write("suite.yaml", SUITE)


def test_retrying_an_errored_cell_grades_its_case_again_as_a_whole(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path
) -> None:
    first = run_cli("eval", "suite.yaml", "--no-progress", "--max-retries", "0", "-o", "a.json")
    assert first.exit_code == 1
    statuses = {
        r["key"]: r["status"] for r in json.loads((tmp_path / "a.json").read_text())["results"]
    }
    # alone among answered outputs, the plain one wins by default: nothing to compare
    assert statuses == {
        "0:0:0:0": "pass",
        "1:0:0:0": "error",
        "0:0:1:0": "pass",
        "1:0:1:0": "error",
    }
    run_id = first.stdout.split(" run ")[1].split()[0]

    (tmp_path / "down").unlink()
    again = run_cli("eval", "--retry-errors", run_id, "--no-progress", "-o", "b.json")
    assert again.exit_code == 1, again.output
    results = json.loads((tmp_path / "b.json").read_text())["results"]
    assert len(results) == 4, "every cell still stored once"
    statuses = {r["key"]: r["status"] for r in results}
    # one winner per case: the BEST output, now that it answered; the plain one loses
    assert statuses == {"0:0:0:0": "fail", "1:0:0:0": "pass", "0:0:1:0": "fail", "1:0:1:0": "pass"}
