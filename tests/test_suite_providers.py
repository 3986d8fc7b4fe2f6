"""How a suite chooses providers besides its list: a test that names its own provider,
a provider that runs only some prompts, a provider's delay between calls, and the
preflight that finds an unreachable provider before the run."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import SuiteError
from prompteur.errors import ProviderUnavailableError

from .conftest import free_port
from .servers import FaultServer, serving, status


def test_a_test_with_its_own_provider_runs_on_it(write: Callable[[str, str], Path]) -> None:
    write(
        "shout.py",
        """
        def call_api(prompt, options, context):
            return {"output": prompt.upper()}
        """,
    )
    result = prompteur.evaluate(
        {
            "prompts": ["say {{word}}"],
            "providers": [{"id": "echo", "label": "suite-echo"}],
            "tests": [
                {"vars": {"word": "hi"}},
                {"vars": {"word": "yo"}, "provider": "file://shout.py"},
                {"vars": {"word": "ok"}, "provider": {"id": "file://shout.py"}},
            ],
        }
    )
    outputs = {c.vars["word"]: c.output for c in result.results}
    assert outputs == {"hi": "say hi", "yo": "SAY YO", "ok": "SAY OK"}
    assert {c.provider_id for c in result.results} == {"suite-echo"}
    assert len(result.plan.test_providers) == 1  # one provider, made once for two tests


def test_default_test_provider_applies_to_every_test(write: Callable[[str, str], Path]) -> None:
    write(
        "shout.py",
        "def call_api(prompt, options, context):\n    return {'output': prompt.upper()}\n",
    )
    result = prompteur.evaluate(
        {
            "prompts": ["say {{word}}"],
            "providers": ["echo"],
            "defaultTest": {"provider": "file://shout.py"},
            "tests": [{"vars": {"word": "hi"}}, {"vars": {"word": "yo"}, "provider": "echo"}],
        }
    )
    assert sorted(c.output or "" for c in result.results) == ["SAY HI", "say yo"]


def test_a_test_provider_that_does_not_exist_is_refused_at_its_place(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write(
        "suite.yaml",
        """
        prompts: [hi]
        providers: [echo]
        tests:
          - vars: {}
          - provider: ehco
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: suite.yaml:5:15: unknown provider 'ehco' (did you mean 'echo'?)"
    )


def test_a_provider_runs_only_the_prompts_it_lists() -> None:
    result = prompteur.evaluate(
        {
            "prompts": [
                {"raw": "A {{x}}", "label": "short"},
                {"raw": "B {{x}}", "label": "long"},
            ],
            "providers": [
                {"id": "echo", "label": "both"},
                {"id": "echo", "label": "only-long", "prompts": ["long"]},
            ],
            "tests": [{"vars": {"x": 1}}, {"vars": {"x": 2}}],
        }
    )
    ran = sorted((c.provider_id, c.output) for c in result.results)
    assert ran == [
        ("both", "A 1"),
        ("both", "A 2"),
        ("both", "B 1"),
        ("both", "B 2"),
        ("only-long", "B 1"),
        ("only-long", "B 2"),
    ]
    assert result.summary.planned == 6
    assert result.success
    groups = {(g.prompt_label, g.provider_label) for g in result.summary.groups}
    assert ("short", "only-long") not in groups


def test_a_provider_listing_a_prompt_the_suite_lacks_is_refused() -> None:
    with pytest.raises(SuiteError) as raised:
        prompteur.plan_suite(
            {
                "prompts": [{"raw": "hi", "label": "greeting"}],
                "providers": [{"id": "echo", "prompts": ["greting"]}],
            }
        )
    assert raised.value.message == (
        "provider 'echo' runs prompt 'greting', which the suite does not have (did you mean "
        "'greeting'?); its prompts: greeting"
    )


def test_a_provider_delay_waits_between_its_calls(write: Callable[[str, str], Path]) -> None:
    write(
        "clock.py",
        """
        import time
        def call_api(prompt, options, context):
            with open("calls.txt", "a") as calls:
                calls.write(f"{time.monotonic()}\\n")
            return {"output": prompt}
        """,
    )
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{n}}"],
            "providers": [{"id": "file://clock.py", "delay": 150}, "echo"],
            "tests": [{"vars": {"n": n}} for n in range(3)],
        }
    )
    assert plan.provider_delays == [0.15, None]
    started = time.monotonic()
    prompteur.evaluate(plan, options=prompteur.EvalOptions(max_concurrency=1))
    calls = [float(line) for line in Path("calls.txt").read_text().split()]
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    # asyncio.sleep never wakes early: a lower bound that cannot flake
    assert len(gaps) == 2 and all(gap >= 0.15 for gap in gaps), gaps
    assert time.monotonic() - started >= 0.3


# --- preflight ------------------------------------------------------------------------


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with serving(FaultServer()) as running:
        assert isinstance(running, FaultServer)
        yield running


def test_an_unreachable_provider_is_one_line_exit_2_and_nothing_is_recorded(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    port = free_port()
    write(
        "suite.yaml",
        f"""
        prompts: [hi]
        providers:
          - id: ollama:chat:llama3
            config: {{apiBaseUrl: "http://127.0.0.1:{port}/v1"}}
        tests: [{{vars: {{}}}}, {{vars: {{a: 1}}}}]
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: provider 'ollama:chat:llama3': cannot reach http://127.0.0.1:{port}/v1: "
        f"nothing listens at 127.0.0.1:{port} (is the server running?)\n"
    )
    listed = run_cli("runs")
    assert "ollama" not in listed.output


def test_a_host_name_that_does_not_resolve_is_refused_before_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the resolver answers as it does for a name that does not exist, without asking one
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(ProviderUnavailableError) as raised:
        prompteur.evaluate(
            {
                "prompts": ["hi"],
                "providers": [
                    {
                        "id": "openai:chat:x",
                        "config": {"apiBaseUrl": "http://no-such-host.invalid/v1"},
                    }
                ],
            }
        )
    assert str(raised.value) == (
        "provider 'openai:chat:x': cannot reach http://no-such-host.invalid/v1: the host name "
        "'no-such-host.invalid' does not resolve"
    )


def test_a_failing_host_is_not_refused_its_errors_are_cells(fault_server: FaultServer) -> None:
    fault_server.script(*[status(503)] * 2)
    result = prompteur.evaluate(
        {
            "prompts": ["hi"],
            "providers": [
                {"id": "openai:chat:x", "config": {"apiBaseUrl": f"{fault_server.url}/v1"}}
            ],
        },
        options=prompteur.EvalOptions(max_retries=1, retry_base_delay=0.01),
    )
    (cell,) = result.results
    assert cell.error == "HTTP 503: scripted status 503 (after 2 attempts)"


def test_a_host_that_accepts_but_does_not_answer_is_not_refused() -> None:
    """A listening socket nobody reads: connecting succeeds, so the preflight lets it be and
    the run's own timeout decides."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        result = prompteur.evaluate(
            {
                "prompts": ["hi"],
                "providers": [
                    {"id": "openai:chat:x", "config": {"apiBaseUrl": f"http://127.0.0.1:{port}/v1"}}
                ],
            },
            options=prompteur.EvalOptions(max_retries=0, timeout=0.5),
        )
    finally:
        listener.close()
    (cell,) = result.results
    assert cell.error == "timed out after 0.5 s"
