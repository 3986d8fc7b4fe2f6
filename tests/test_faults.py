"""Provider faults against a real local HTTP server: retried within bounds (honouring
Retry-After), then recorded as cell errors with their reason; never the end of a run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.providers._http import parse_retry_after
from prompteur.providers._retry import RunOptions, backoff_delay

from .servers import FaultServer, drop, hang, malformed, serving, status


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving(FaultServer()) as running:
        assert isinstance(running, FaultServer)
        yield running


def run(server: FaultServer, n: int = 1, **options: float) -> prompteur.EvalResult:
    settings = {
        "max_retries": 3,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        "timeout": 5.0,
        **options,
    }
    return prompteur.evaluate(
        {
            "prompts": ["say {{n}}"],
            "providers": [{"id": "openai:chat:test", "config": {"apiBaseUrl": f"{server.url}/v1"}}],
            "tests": [
                {"vars": {"n": i}, "assert": [{"type": "contains", "value": "say"}]}
                for i in range(n)
            ],
        },
        options=prompteur.EvalOptions(max_concurrency=1, **settings),  # type: ignore[arg-type]
    )


def only(result: prompteur.EvalResult) -> prompteur.CellResult:
    (cell,) = result.results
    return cell


def test_429_waits_for_retry_after_then_succeeds(server: FaultServer) -> None:
    server.script(status(429, Retry_After="1"))
    started = time.monotonic()
    cell = only(run(server))
    assert time.monotonic() - started >= 0.95, "Retry-After: 1 must be honoured"
    assert cell.error is None
    assert cell.passed
    assert cell.attempts == 2
    assert server.count == 2


def test_server_errors_are_retried_until_recovery(server: FaultServer) -> None:
    server.script(status(500), status(502), status(503))
    cell = only(run(server))
    assert cell.error is None
    assert cell.output == "say 0"
    assert cell.attempts == 4
    assert server.count == 4


def test_persistent_errors_are_recorded_and_the_run_goes_on(server: FaultServer) -> None:
    server.script(*[status(500)] * 4)  # every attempt of the first cell fails
    result = run(server, n=3)
    errored = [c for c in result.results if c.error is not None]
    assert len(errored) == 1
    assert errored[0].error == "HTTP 500: scripted status 500 (after 4 attempts)"
    assert errored[0].attempts == 4
    assert not errored[0].passed
    assert server.count == 4 + 2
    assert result.summary.errors == 1
    assert result.summary.passed == 2


def test_a_hang_past_the_timeout_is_retried_then_recorded(server: FaultServer) -> None:
    server.script(hang(2), hang(2))
    cell = only(run(server, timeout=0.3, max_retries=1))
    assert cell.error == "timed out after 0.3 s (after 2 attempts)"
    assert server.count == 2


def test_a_hang_then_an_answer(server: FaultServer) -> None:
    server.script(hang(2))
    cell = only(run(server, timeout=0.3))
    assert cell.error is None
    assert cell.attempts == 2


def test_malformed_body_is_retried_then_recorded(server: FaultServer) -> None:
    server.script(malformed(), malformed())
    cell = only(run(server, max_retries=1))
    assert cell.error is not None
    assert cell.error.startswith("malformed response (not JSON): '<html>Bad gateway</html>'")
    assert cell.attempts == 2
    server.script(malformed())
    assert only(run(server)).error is None


def test_dropped_connection_is_retried(server: FaultServer) -> None:
    server.script(drop())
    cell = only(run(server))
    assert cell.error is None
    assert cell.attempts == 2


def test_dropped_connections_recorded_with_their_reason(server: FaultServer) -> None:
    server.script(drop(), drop())
    cell = only(run(server, max_retries=1))
    assert cell.error is not None
    assert "connection" in cell.error
    assert cell.error.endswith("(after 2 attempts)")


@pytest.mark.parametrize("code", [400, 401, 404])
def test_client_errors_are_not_retried(server: FaultServer, code: int) -> None:
    server.script(status(code, {"error": {"message": "model 'test' does not exist"}}))
    cell = only(run(server))
    assert cell.error == f"HTTP {code}: model 'test' does not exist"
    assert cell.attempts == 1
    assert server.count == 1


def test_a_server_that_refuses_connections_is_found_before_the_run() -> None:
    from prompteur.errors import ProviderUnavailableError

    from .conftest import free_port

    port = free_port()  # nothing listens there
    with pytest.raises(ProviderUnavailableError) as raised:
        prompteur.evaluate(
            {
                "prompts": ["hi"],
                "providers": [
                    {"id": "openai:chat:x", "config": {"apiBaseUrl": f"http://127.0.0.1:{port}/v1"}}
                ],
            },
            options=prompteur.EvalOptions(max_retries=1, retry_base_delay=0.01),
        )
    assert str(raised.value) == (
        f"provider 'openai:chat:x': cannot reach http://127.0.0.1:{port}/v1: nothing listens "
        f"at 127.0.0.1:{port} (is the server running?)"
    )


def test_cli_reports_errors_with_exit_code_1(
    server: FaultServer,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
) -> None:
    server.script(*[status(503)] * 10)
    write(
        "suite.yaml",
        f"""
        prompts: ["hello"]
        providers:
          - id: openai:chat:test
            config: {{apiBaseUrl: "{server.url}/v1"}}
        """,
    )
    result = run_cli("eval", "suite.yaml", "--no-progress", "--max-retries", "1")
    assert result.exit_code == 1
    assert "error: HTTP 503: scripted status 503 (after 2 attempts)" in result.stdout
    assert "0/1 passed (0.0%) · 0 failed · 1 errors" in result.stdout
    assert "Traceback" not in result.output


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    options = RunOptions(retry_base_delay=0.5, retry_max_delay=4.0, max_retry_after=30.0)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = [backoff_delay(attempt, None, options) for _ in range(200)]
        assert min(delays) >= ceiling / 2
        assert max(delays) <= ceiling
        assert len(set(delays)) > 100, "jittered"


def test_backoff_honours_retry_after_within_its_cap() -> None:
    options = RunOptions(retry_base_delay=0.5, retry_max_delay=4.0, max_retry_after=30.0)
    assert backoff_delay(0, 12.0, options) == 12.0
    assert backoff_delay(3, 0.0, options) == 0.0
    assert backoff_delay(0, 600.0, options) == 30.0


def test_retry_after_header_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    in_ten = parse_retry_after(formatdate(time.time() + 10, usegmt=True))
    assert in_ten is not None
    assert 8 <= in_ten <= 10
    assert parse_retry_after(formatdate(time.time() - 100, usegmt=True)) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
