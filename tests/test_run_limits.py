"""A run's limits hold whatever a server or a suite says: a retry never waits past them,
a response body is capped, and a plan's size is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import Result

import prompteur
from prompteur.eval._run import backoff_delay
from prompteur.providers._retry import RunOptions

from .servers import FaultServer, LocalServer, serving, status

# generous: the runs below waited minutes (or for ever) without their fix
RUN_SECONDS = 30


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving(FaultServer()) as running:
        assert isinstance(running, FaultServer)
        yield running


def _suite(url: str, **config: object) -> dict[str, object]:
    return {
        "prompts": ["say {{n}}"],
        "providers": [{"id": "openai:chat:test", "config": {"apiBaseUrl": url, **config}}],
        "tests": [{"vars": {"n": 1}}],
    }


def _run(suite: dict[str, object], **options: float) -> prompteur.CellResult:
    async def run() -> prompteur.EvalResult:
        return await prompteur.evaluate_async(
            suite,
            options=prompteur.EvalOptions(**options),  # type: ignore[arg-type]
        )

    result = asyncio.run(asyncio.wait_for(run(), RUN_SECONDS))
    (cell,) = result.results
    return cell


def test_a_retry_never_waits_past_the_call_timeout() -> None:
    options = RunOptions(timeout=2.0, retry_base_delay=0.5, retry_max_delay=30.0)
    assert backoff_delay(0, 100_000.0, options) == 2.0
    assert all(backoff_delay(8, None, options) <= 2.0 for _ in range(100))
    assert backoff_delay(0, 100_000.0, RunOptions()) == RunOptions().max_retry_after


def test_retry_after_past_the_run_limits_is_the_cells_error_at_once(server: FaultServer) -> None:
    server.script(status(429, Retry_After="100000"))
    cell = _run(_suite(f"{server.url}/v1"), timeout=5.0, max_retries=3)
    assert cell.error is not None
    assert cell.error.startswith("HTTP 429: scripted status 429")
    assert "asked to retry after 100000 s; a retry waits at most 5 s" in cell.error
    assert server.count == 1, "no retry is made that the server said would fail"


class EndlessServer(LocalServer):
    """Answers every chat completion with a body that does not end (up to a safety stop
    at 64 MiB, so that a client without a cap does not fill the test machine's memory);
    ``announced`` sends a Content-Length of a terabyte instead of chunks."""

    SAFETY_STOP = 64 * 1024 * 1024

    def __init__(self, *, announced: bool = False) -> None:
        super().__init__()
        self.announced = announced
        self.sent = 0
        self.app.router.add_post("/v1/chat/completions", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if self.announced:
            response.content_length = 1 << 40
        await response.prepare(request)
        chunk = b'{"pad": "' + b"x" * 65536
        try:
            while self.sent < self.SAFETY_STOP:
                await response.write(chunk)
                self.sent += len(chunk)
        except (ConnectionError, RuntimeError):  # the client hung up: what a cap does
            pass
        return response


@pytest.mark.parametrize("announced", [False, True], ids=["chunked", "content-length"])
def test_an_endless_response_body_is_cut_at_the_cap_and_is_the_cells_error(
    announced: bool,
) -> None:
    with serving(EndlessServer(announced=announced)) as server:
        assert isinstance(server, EndlessServer)
        cell = _run(_suite(f"{server.url}/v1"), timeout=20.0, max_retries=2)
    assert cell.error is not None
    assert "longer than 16,777,216 bytes" in cell.error
    assert "maxResponseBytes" in cell.error
    assert cell.attempts == 1, "an answer too large is not asked for again"
    assert server.sent < EndlessServer.SAFETY_STOP


def test_the_response_cap_is_a_provider_setting() -> None:
    with serving(EndlessServer()) as server:
        cell = _run(_suite(f"{server.url}/v1", maxResponseBytes=100_000), max_retries=0)
    assert cell.error is not None
    assert "longer than 100,000 bytes" in cell.error


@pytest.mark.parametrize("repeat", ["10001", str(10**12), str(2**64 + 1)])
def test_repeat_is_capped_with_one_line(
    repeat: str, write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("suite.yaml", "prompts: ['hi {{n}}']\nproviders: [echo]\ntests: [{vars: {n: 1}}]\n")
    result = run_cli("eval", "suite.yaml", "--repeat", repeat, "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "at most 10,000 times" in result.stderr
    assert "Traceback" not in result.output


def test_repeat_in_a_suite_is_capped_where_it_is_written(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write(
        "suite.yaml",
        "prompts: ['hi {{n}}']\nproviders: [echo]\ntests:\n  - vars: {n: 1}\n"
        "    repeat: 1000000000000\n",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: suite.yaml:5:13: 'repeat' should be at most 10000 (got 1000000000000)\n"
    )


def test_a_plan_holds_at_most_ten_million_cells(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    tests = ", ".join(f"{{vars: {{n: {n}}}}}" for n in range(1001))
    write("suite.yaml", f"prompts: ['hi {{{{n}}}}']\nproviders: [echo]\ntests: [{tests}]\n")
    result = run_cli("eval", "suite.yaml", "--repeat", "10000", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: the plan holds 10,010,000 cells (prompts × providers × cases × repeats); "
        "a run holds at most 10,000,000: split the suite or lower repeat\n"
    )
