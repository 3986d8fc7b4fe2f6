"""Judge calls and the completion cache: only verdicts that could be read are cached, so a
grading error can be mended with --retry-errors; answers from the cache are marked cached
in the cell's grader usage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from prompteur.assertions._judge import (
    JudgePool,
    JudgeRuntime,
    reset_runtime,
    set_runtime,
    stop_tracking,
    track_usage,
)
from prompteur.assertions._model_graded import RUBRIC_SCHEMA, read_rubric_verdict
from prompteur.prompts._template import Message
from prompteur.providers._retry import RunOptions
from prompteur.store import Store
from prompteur.store._cache import StoreCache

# A judge that is broken for its first BROKEN calls (it answers prose), then sound; it
# counts its calls in calls.txt.
JUDGE = """
import json
from pathlib import Path

BROKEN = {broken}

def call_api(prompt, options, context):
    counter = Path("calls.txt")
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    usage = {{"prompt": 7, "completion": 3}}
    if calls <= BROKEN:
        return {{"output": "Looks fine to me.", "tokenUsage": usage}}
    return {{"output": json.dumps({{"reason": "sound", "pass": True, "score": 1}}),
             "tokenUsage": usage}}
"""

SUITE = """
prompts: ["{{answer}}"]
providers: [echo]
defaultTest:
  options: {provider: file://judge.py}
tests:
  - vars: {answer: Paris is the capital of France.}
    assert: [{type: llm-rubric, value: names a city}]
"""


def calls(folder: Path) -> int:
    counter = folder / "calls.txt"
    return int(counter.read_text()) if counter.exists() else 0


def test_retry_errors_asks_the_judge_again(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("judge.py", JUDGE.format(broken=2))
    write("prompteur.yaml", SUITE)
    first = run_cli("eval", "--no-progress")
    assert first.exit_code != 0
    assert calls(hermetic) == 2  # asked, then asked again: malformed twice
    store = Store()
    run = store.runs(limit=1)[0]
    [cell] = list(store.results(run.id))
    assert cell.status == "error" and "malformed verdict twice" in (cell.error or "")

    mended = run_cli("eval", "--no-progress", "--retry-errors", run.id)
    assert mended.exit_code == 0, mended.output
    assert calls(hermetic) == 3  # the malformed answers were not replayed from the cache
    [cell] = list(Store().results(run.id))
    assert cell.status == "pass"

    again = run_cli("eval", "--no-progress")
    assert again.exit_code == 0
    assert calls(hermetic) == 3  # now the verdict is cached


def test_a_verdict_given_on_the_second_try_is_cached_for_the_first_question(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("judge.py", JUDGE.format(broken=1))
    write("prompteur.yaml", SUITE)
    assert run_cli("eval", "--no-progress").exit_code == 0
    assert calls(hermetic) == 2
    assert run_cli("eval", "--no-progress").exit_code == 0
    assert calls(hermetic) == 2  # the re-run asks the first question and finds the verdict


def test_judge_usage_from_the_cache_is_marked_cached(
    hermetic: Path, write: Callable[[str, str], Path]
) -> None:
    write("judge.py", JUDGE.format(broken=0))
    judge = JudgePool(hermetic, {}).judge("file://judge.py")
    cache = StoreCache(Store())
    messages = [Message("user", "Is Paris a city? Answer in JSON.")]

    async def grade() -> tuple[int, int, int, int]:
        token = set_runtime(JudgeRuntime(RunOptions(), cache))
        usage, tracking = track_usage()
        try:
            await judge.verdict(messages, read_rubric_verdict, schema=RUBRIC_SCHEMA)
        finally:
            stop_tracking(tracking)
            reset_runtime(token)
        return usage.calls, usage.prompt_tokens, usage.cached_calls, usage.cached_prompt_tokens

    assert asyncio.run(grade()) == (1, 7, 0, 0)
    assert asyncio.run(grade()) == (1, 7, 1, 7)  # the same tokens, counted as cached
    assert calls(hermetic) == 1
    cache.close()
