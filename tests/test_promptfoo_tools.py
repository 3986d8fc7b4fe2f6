"""promptfoo's checks of tool calls (is-valid-openai-tools-call, is-valid-function-call,
is-valid-openai-function-call), against the tools the provider's config offers, with a
local server that answers in OpenAI's and Gemini's protocols."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import prompteur

from .servers import ProtocolServer, Reply, Seen, serving

FAST = prompteur.EvalOptions(retry_base_delay=0.01, retry_max_delay=0.02, max_retries=1)

WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}


@pytest.fixture
def server() -> Iterator[ProtocolServer]:
    with serving(ProtocolServer()) as running:
        assert isinstance(running, ProtocolServer)
        yield running


def openai_call(seen: Seen) -> Reply:
    """Calls the function the prompt names, with the prompt's JSON as arguments; a prompt
    that is not 'name {json}' gets a text answer."""
    text = seen.json["messages"][-1]["content"]
    name, _, arguments = text.partition(" ")
    message: dict[str, Any] = {"role": "assistant", "content": None}
    call = {"name": name, "arguments": arguments}
    if name == "text":
        message["content"] = arguments
    elif "functions" in seen.json:
        message["function_call"] = call
    else:
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": call}]
    return Reply({"model": "m", "choices": [{"message": message, "finish_reason": "tool_calls"}]})


def verdicts(provider: dict[str, Any], check: str, *prompts: str) -> list[tuple[bool, str]]:
    result = prompteur.evaluate(
        {
            "prompts": ["{{call}}"],
            "providers": [provider],
            "tests": [{"vars": {"call": p}, "assert": [{"type": check}]} for p in prompts],
        },
        options=FAST,
    )
    cells = sorted(result.results, key=lambda c: c.test_index)
    assert all(c.error is None for c in cells), [c.error for c in cells]
    return [(c.assertions[0].passed, c.assertions[0].reason) for c in cells]


def test_openai_tool_calls_are_checked_against_config_tools(server: ProtocolServer) -> None:
    server.answer = openai_call
    provider = {
        "id": "openai:chat:m",
        "config": {
            "apiBaseUrl": server.url,
            "apiKey": "k",
            "tools": [{"type": "function", "function": WEATHER}],
        },
    }
    (good, wrong_type, missing, unknown, not_json, text) = verdicts(
        provider,
        "is-valid-openai-tools-call",
        'get_weather {"city": "Paris", "days": 3}',
        'get_weather {"city": "Paris", "days": "three"}',
        'get_weather {"days": 3}',
        'get_time {"city": "Paris"}',
        "get_weather Paris",
        "text It is sunny.",
    )
    assert good[0], good
    assert not wrong_type[0] and "does not match schema" in wrong_type[1]
    assert "days" in wrong_type[1]
    assert not missing[0] and "city" in missing[1]
    assert not unknown[0] and 'Called "get_time"' in unknown[1]
    assert not not_json[0] and "not JSON" in not_json[1]
    assert not text[0] and "valid-looking tools response" in text[1]
    # the tools were sent to the model as configured
    assert server.seen[0].json["tools"] == [{"type": "function", "function": WEATHER}]


def test_openai_function_call_is_checked_against_config_functions(
    server: ProtocolServer,
) -> None:
    server.answer = openai_call
    provider = {
        "id": "openai:chat:m",
        "config": {"apiBaseUrl": server.url, "apiKey": "k", "functions": [WEATHER]},
    }
    for check in ("is-valid-function-call", "is-valid-openai-function-call"):
        good, bad = verdicts(
            provider, check, 'get_weather {"city": "Oslo"}', 'get_weather {"city": 1}'
        )
        assert good[0], good
        assert not bad[0] and "does not match schema" in bad[1]
    assert server.seen[0].json["functions"] == [WEATHER]


def test_gemini_function_calls_are_checked_against_declarations(
    server: ProtocolServer,
) -> None:
    def gemini(seen: Seen) -> Reply:
        name, _, arguments = seen.json["contents"][-1]["parts"][0]["text"].partition(" ")
        part = {"functionCall": {"name": name, "args": json.loads(arguments)}}
        return Reply({"candidates": [{"content": {"role": "model", "parts": [part]}}]})

    server.answer = gemini
    declaration = {**WEATHER, "parameters": {**WEATHER["parameters"], "type": "OBJECT"}}
    declaration["parameters"]["properties"] = {"city": {"type": "STRING"}}
    provider = {
        "id": "google:gemini-test",
        "config": {
            "apiBaseUrl": server.url,
            "apiKey": "k",
            "tools": [{"functionDeclarations": [declaration]}],
        },
    }
    good, bad, unknown = verdicts(
        provider,
        "is-valid-function-call",
        'get_weather {"city": "Lima"}',
        'get_weather {"city": 5}',
        'get_time {"city": "Lima"}',
    )
    assert good[0], good
    assert not bad[0] and "does not match schema" in bad[1]
    assert not unknown[0] and 'Called "get_time"' in unknown[1]


def test_a_provider_without_tools_fails_the_checks() -> None:
    provider = {"id": "echo"}
    ((tools_passed, tools_reason),) = verdicts(
        provider, "is-valid-openai-tools-call", "a text answer"
    )
    ((call_passed, call_reason),) = verdicts(provider, "is-valid-function-call", "text")
    assert not tools_passed and "valid-looking tools response" in tools_reason
    assert not call_passed and "offers no functions" in call_reason
    ((negated, _),) = verdicts(provider, "not-is-valid-function-call", "text")
    assert negated


# --- a prompt's config ---------------------------------------------------------------


def test_a_prompts_config_is_merged_over_the_providers(server: ProtocolServer) -> None:
    server.answer = lambda seen: Reply(
        {"model": "m", "choices": [{"message": {"role": "assistant", "content": "ok"}}]}
    )
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    result = prompteur.evaluate(
        {
            "prompts": [
                {
                    "raw": "structured {{q}}",
                    "label": "structured",
                    "config": {"temperature": 0.2, "response_format": fmt},
                },
                {"raw": "plain {{q}}", "label": "plain"},
            ],
            "providers": [
                {
                    "id": "openai:chat:m",
                    "config": {
                        "apiBaseUrl": server.url,
                        "apiKey": "k",
                        "temperature": 0.9,
                        "seed": 7,
                    },
                }
            ],
            "tests": [{"vars": {"q": "hi"}}],
        },
        options=FAST,
    )
    assert all(c.error is None for c in result.results)
    sent = {s.json["messages"][-1]["content"]: s.json for s in server.seen}
    structured, plain = sent["structured hi"], sent["plain hi"]
    assert (structured["temperature"], structured["response_format"]) == (0.2, fmt)
    assert structured["seed"] == 7  # the provider's own settings stay under the prompt's
    assert plain["temperature"] == 0.9 and "response_format" not in plain


def test_a_prompt_config_key_the_provider_does_not_take_is_refused(
    write: Callable[[str, str], Path],
) -> None:
    suite = write(
        "suite.yaml",
        "prompts:\n"
        "  - raw: 'hi {{q}}'\n"
        "    config:\n"
        "      temperatur: 0.2\n"
        "providers:\n"
        "  - id: openai:chat:m\n"
        "    config: {apiBaseUrl: 'http://127.0.0.1:9', apiKey: k}\n"
        "tests: [{vars: {q: x}}]\n",
    )
    with pytest.raises(prompteur.SuiteError, match="temperatur"):
        prompteur.evaluate(suite, options=FAST)
