"""Whatever a python check or a python provider raises (an exception, ``sys.exit()``,
KeyboardInterrupt, GeneratorExit, any BaseException) is that cell's error: its output was
not judged. The run goes on, prints its report and exits 1. A check's result that is not a
verdict (``{"pass": "maybe"}``, a score that is no finite number) is malformed: an error
too, never a pass. Only a real Ctrl-C, or the run's own cancellation, stops the run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.core._interrupts import stops_the_run, watching_interrupts

PROVIDER = """
import asyncio, sys

class Odd(BaseException):
    pass

RAISES = {
    1: lambda: sys.exit(3),
    2: lambda: sys.exit(0),
    3: KeyboardInterrupt,
    4: GeneratorExit,
    5: lambda: Odd("odd"),
    6: lambda: asyncio.CancelledError(),
}

def _answer(n):
    if n in RAISES:
        made = RAISES[n]()
        raise made
    return f"fine {n}"

def call_api(prompt, options, context):
    return _answer(context["vars"]["n"])

async def acall(prompt, options, context):
    return _answer(context["vars"]["n"])
"""

CHECKS = {
    "import sys\nsys.exit(0)": "python raised SystemExit: 0",
    "import sys\nsys.exit(3)": "python raised SystemExit: 3",
    "raise KeyboardInterrupt": "python raised KeyboardInterrupt",
    "raise GeneratorExit": "python raised GeneratorExit",
    "raise BaseException('base')": "python raised BaseException: base",
    "import asyncio\nraise asyncio.CancelledError()": "python raised CancelledError",
    "1 / 0": "python raised ZeroDivisionError: division by zero",
    "{'pass': 'maybe'}": "malformed result: 'pass' is 'maybe', not true or false",
    "{'pass': 1}": "malformed result: 'pass' is 1, not true or false",
    "{'pass': True, 'score': 'high'}": "malformed result: its score is 'high', not a number",
    "{'score': float('nan')}": "malformed result: its score is nan, not a finite number",
    "float('-inf')": "malformed result: its score is -inf, not a finite number",
    "None": "malformed result: NoneType",
}


@pytest.fixture
def check_suite(write: Callable[[str, str], Path]) -> None:
    tests = [
        {"vars": {"n": i}, "assert": [{"type": "python", "value": code}]}
        for i, code in enumerate(CHECKS)
    ]
    tests.append({"vars": {"n": len(CHECKS)}, "assert": [{"type": "python", "value": "True"}]})
    write("tests.json", json.dumps(tests))
    write("suite.yaml", 'prompts: ["say {{n}}"]\nproviders: [echo]\ntests: file://tests.json\n')


def test_whatever_a_check_raises_is_its_cells_error(
    check_suite: None, run_cli: Callable[..., Result]
) -> None:
    ran = run_cli("eval", "-c", "suite.yaml", "--no-progress")
    assert ran.exit_code == 1, ran.output  # cells errored: not 0, not the check's code
    assert f"1/{len(CHECKS) + 1} passed" in ran.output
    assert f"{len(CHECKS)} errors" in ran.output
    result = prompteur.evaluate("suite.yaml")
    cells = result.results
    assert cells[-1].status == "pass"
    for cell, (code, reason) in zip(cells, CHECKS.items(), strict=False):
        assert cell.status == "error", code
        assert cell.error is not None and reason in cell.error, (code, cell.error)
        assert cell.error.startswith("grading: python ")
        assert cell.assertions == ()


@pytest.mark.parametrize("function", ["call_api", "acall"])
def test_whatever_a_provider_raises_is_its_cells_error(
    function: str, write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("prov.py", PROVIDER)
    write(
        "suite.yaml",
        f"""
        prompts: ["say {{{{n}}}}"]
        providers: ["python:prov.py:{function}"]
        tests: [{{vars: {{n: 1}}}}, {{vars: {{n: 2}}}}, {{vars: {{n: 3}}}}, {{vars: {{n: 4}}}},
                {{vars: {{n: 5}}}}, {{vars: {{n: 6}}}}, {{vars: {{n: 7}}}}]
        """,
    )
    ran = run_cli("eval", "-c", "suite.yaml", "--no-progress", "--no-cache")
    assert ran.exit_code == 1, ran.output  # not SystemExit's 3, nor 0, nor a traceback
    assert "1/7 passed" in ran.output and "6 errors" in ran.output
    cells = prompteur.evaluate("suite.yaml", cache=False).results
    assert [c.error for c in cells] == [
        "SystemExit: 3",
        "SystemExit: 0",
        "KeyboardInterrupt",
        "GeneratorExit",
        "Odd: odd",
        "CancelledError",
        None,
    ]
    assert [c.attempts for c in cells[:6]] == [1] * 6  # code's own doing: not retried


@pytest.fixture
def quiet_sigint() -> Iterator[None]:
    """SIGINT handled without raising, as asyncio's first Ctrl-C is (it cancels the run)."""
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_keyboard_interrupt_is_the_runs_end_only_after_a_real_ctrl_c(
    quiet_sigint: None,
) -> None:
    with watching_interrupts():
        assert not stops_the_run(KeyboardInterrupt())  # raised by code
        os.kill(os.getpid(), signal.SIGINT)
        assert stops_the_run(KeyboardInterrupt())  # the keyboard's
    assert stops_the_run(KeyboardInterrupt())  # outside a run: taken as real


def test_a_cancelled_error_is_the_runs_end_only_when_its_task_is_cancelled() -> None:
    async def main() -> tuple[bool, bool]:
        raised_by_code = stops_the_run(asyncio.CancelledError())
        started = asyncio.Event()
        seen: list[bool] = []

        async def cancelled() -> None:
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError as exc:
                seen.append(stops_the_run(exc))
                raise

        task = asyncio.create_task(cancelled())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return raised_by_code, seen[0]

    assert asyncio.run(main()) == (False, True)


def test_a_registered_check_with_a_malformed_verdict_is_its_cells_error() -> None:
    @prompteur.assertion("odd-verdict")
    def odd_verdict(spec: prompteur.AssertionSpec):  # type: ignore[no-untyped-def]
        def grade(ctx: prompteur.GradingContext) -> prompteur.GradeResult:
            given = {"a": ("maybe", 1.0), "b": (True, float("nan")), "c": (True, 1.0)}
            passed, score = given[ctx.output]
            return prompteur.GradeResult(passed, score, "odd")  # type: ignore[arg-type]

        return grade

    result = prompteur.evaluate(
        {
            "prompts": ["{{w}}"],
            "providers": ["echo"],
            "tests": [{"vars": {"w": w}, "assert": [{"type": "odd-verdict"}]} for w in "abc"],
        }
    )
    cells = result.results
    assert [c.status for c in cells] == ["error", "error", "pass"]
    assert all("odd-verdict returned a malformed verdict" in (c.error or "") for c in cells[:2])
