"""The anthropic provider against a local server that speaks the Messages API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import prompteur
from prompteur.core._errors import SuiteError

from .servers import AnthropicServer, serving

MODEL = "anthropic:messages:claude-3-5-haiku-latest"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", AnthropicServer.API_KEY)
    with serving(AnthropicServer()) as running:
        assert isinstance(running, AnthropicServer)
        yield running


def run(server: AnthropicServer, prompt: str, **config: object) -> prompteur.CellResult:
    result = prompteur.evaluate(
        {
            "prompts": [prompt],
            "providers": [{"id": MODEL, "config": {"apiBaseUrl": server.url, **config}}],
            "tests": [{"vars": {"q": "What is two plus two?"}}],
        },
        options=prompteur.EvalOptions(retry_base_delay=0.01, retry_max_delay=0.02),
    )
    (cell,) = result.results
    return cell


def test_messages_request_and_completion(server: AnthropicServer) -> None:
    cell = run(server, "system: You are terse.\nsystem: Answer in digits.\nuser: {{q}}")
    assert cell.error is None, cell.error
    assert cell.output == "What is two plus two?"
    (body,) = server.requests
    assert body["model"] == "claude-3-5-haiku-latest"
    assert body["system"] == "You are terse.\n\nAnswer in digits."
    assert body["messages"] == [{"role": "user", "content": "What is two plus two?"}]
    assert body["max_tokens"] == 1024
    assert server.headers[0]["anthropic-version"] == "2023-06-01"
    assert server.headers[0]["Content-Type"] == "application/json"
    assert (cell.prompt_tokens, cell.completion_tokens) == (5, 5)
    assert cell.finish_reason == "stop"  # end_turn, in the common vocabulary
    # a known model gets a cost from the price table: $0.80 and $4 per million tokens
    assert cell.cost == pytest.approx(5 * 0.80e-6 + 5 * 4e-6)


def test_configured_headers_go_over_the_defaults(server: AnthropicServer) -> None:
    content_type = "application/json; charset=utf-8"
    cell = run(server, "{{q}}", headers={"Content-Type": content_type, "X-Team": "evals"})
    assert cell.error is None, cell.error
    assert server.headers[0]["Content-Type"] == content_type
    assert server.headers[0]["X-Team"] == "evals"


def test_settings_pass_through_and_max_tokens_stop(server: AnthropicServer) -> None:
    server.max_tokens_reply = True
    cell = run(server, "{{q}}", temperature=0.3, max_tokens=17, top_k=5, stop_sequences=["END"])
    (body,) = server.requests
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0.3, 17, 5)
    assert body["stop_sequences"] == ["END"]
    assert "system" not in body
    assert cell.finish_reason == "length"


def test_overloaded_529_is_retried(server: AnthropicServer) -> None:
    server.overloaded = 2
    cell = run(server, "{{q}}")
    assert cell.error is None
    assert cell.attempts == 3


def test_a_wrong_key_is_recorded_without_retry(
    server: AnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "wrong")
    cell = run(server, "{{q}}")
    assert cell.error == "HTTP 401: invalid x-api-key"
    assert cell.attempts == 1


def test_key_from_a_named_variable(
    server: AnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("TEAM_CLAUDE_KEY", AnthropicServer.API_KEY)
    assert run(server, "{{q}}", apiKeyEnvar="TEAM_CLAUDE_KEY").error is None


def test_missing_key_for_the_real_api_stops_before_any_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(SuiteError, match="needs an API key: set ANTHROPIC_API_KEY"):
        prompteur.plan_suite({"prompts": ["hi"], "providers": [MODEL]})


def test_keys_never_appear_in_outputs(server: AnthropicServer, tmp_path: object) -> None:
    result = prompteur.evaluate(
        {"prompts": ["hi"], "providers": [{"id": MODEL, "config": {"apiBaseUrl": server.url}}]}
    )
    provider = result.plan.providers[0]
    identity = provider.identity()  # type: ignore[attr-defined]
    assert AnthropicServer.API_KEY not in repr(identity)
    assert AnthropicServer.API_KEY not in repr(result.results[0].to_dict())


def test_one_stop_sequence_may_be_given_as_a_string(server: AnthropicServer) -> None:
    cell = run(server, "{{q}}", stop="END")
    assert cell.error is None, cell.error
    (body,) = server.requests
    assert body["stop_sequences"] == ["END"]


def test_temperature_outside_the_apis_range_is_refused_before_any_call(
    server: AnthropicServer,
) -> None:
    with pytest.raises(
        SuiteError,
        match=r"provider 'anthropic:messages:claude-3-5-haiku-latest' config 'temperature': "
        r"should be at most 1 \(got",
    ):
        run(server, "{{q}}", temperature=1.5)
    assert server.requests == []
