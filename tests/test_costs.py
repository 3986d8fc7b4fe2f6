"""What a run cost: the calls it made, apart from what cached cells cost the first time."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

PRICED = """
def call_api(prompt, options, context):
    return {"output": prompt, "cost": 0.01, "tokenUsage": {"prompt": 7, "completion": 3}}
"""


def test_a_cached_rerun_spends_nothing_and_says_what_it_saved(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("priced.py", PRICED)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(6))
    write(
        "suite.yaml",
        f"prompts: ['item {{{{n}}}}']\nproviders: [file://priced.py]\ntests:\n{tests}\n",
    )

    first = run_cli("eval", "suite.yaml", "--no-progress", "-o", "first.json")
    assert first.exit_code == 0
    group = json.loads((tmp_path / "first.json").read_text())["summary"]["groups"][0]
    assert abs(group["cost"] - 0.06) < 1e-9
    assert group["tokens"]["total"] == 60
    assert (group["cached"], group["cached_cost"]) == (0, None)
    assert "cached" not in first.stdout.splitlines()[-1]

    second = run_cli("eval", "suite.yaml", "--no-progress", "-o", "second.json")
    group = json.loads((tmp_path / "second.json").read_text())["summary"]["groups"][0]
    assert group["cost"] == 0.0, "no call was paid for"
    assert group["tokens"]["total"] == 0
    assert group["cached"] == 6 and group["cached_tokens"] == 60
    assert abs(group["cached_cost"] - 0.06) < 1e-9
    assert "6 cached ($0.06 not spent again)" in second.stdout


JUDGE = """
import json

def call_api(prompt, options, context):
    verdict = {"reason": "fine", "pass": True, "score": 1.0}
    return {"output": json.dumps(verdict), "cost": 0.002,
            "tokenUsage": {"prompt": 10, "completion": 5}}
"""


def test_judges_answered_from_the_cache_cost_nothing_again(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("judge.py", JUDGE)
    write(
        "suite.yaml",
        """
        prompts: ["say {{n}}"]
        providers: [echo]
        defaultTest:
          options: {provider: file://judge.py}
          assert: [{type: llm-rubric, value: it says a number}]
        tests: [{vars: {n: 1}}, {vars: {n: 2}}, {vars: {n: 3}}]
        """,
    )
    for name in ("first", "second"):
        assert run_cli("eval", "suite.yaml", "--no-progress", "-o", f"{name}.json").exit_code == 0
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("first", "second"))
    paid = [r["grading"] for r in first["results"]]
    assert all(g["prompt_tokens"] == 10 and abs(g["cost"] - 0.002) < 1e-12 for g in paid)
    again = [r["grading"] for r in second["results"]]
    assert all(g["prompt_tokens"] == 0 and g["cost"] == 0.0 for g in again), again
