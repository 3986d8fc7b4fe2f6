"""A 200 response whose body has the wrong shape (a number for the content, a string for
the message, blocks that are not objects) is a malformed response: retried like any
transient fault, then the cell's error with its reason; never a passing empty answer, and
never the end of the run. Against real local servers (tests/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import prompteur

from .servers import AnthropicServer, FaultServer, body, serving

RETRIES = 2
FAST = {"max_retries": RETRIES, "retry_base_delay": 0.01, "retry_max_delay": 0.02}


def _chat(message: Any) -> dict[str, Any]:
    return {"model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}


@pytest.fixture
def openai_server() -> Iterator[FaultServer]:
    with serving(FaultServer()) as running:
        assert isinstance(running, FaultServer)
        yield running


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", AnthropicServer.API_KEY)
    with serving(AnthropicServer()) as running:
        assert isinstance(running, AnthropicServer)
        yield running


def _run(provider: dict[str, Any]) -> prompteur.CellResult:
    result = prompteur.evaluate(
        {
            "prompts": ["say hi"],
            "providers": [provider],
            # a check that any answer passes: an empty answer must not get through as one
            "tests": [{"assert": [{"type": "python", "value": "True"}]}],
        },
        options=prompteur.EvalOptions(max_concurrency=1, **FAST),  # type: ignore[arg-type]
    )
    (cell,) = result.results
    return cell


OPENAI_BODIES = [
    pytest.param(_chat({"role": "assistant", "content": 42}), "content is int", id="content-42"),
    pytest.param(_chat({"role": "assistant", "content": ["a"]}), "content is list", id="list"),
    pytest.param(_chat("hello"), "no choices[0].message", id="message-string"),
    pytest.param({"choices": ["hello"]}, "no choices[0].message", id="choice-string"),
    pytest.param({"choices": {"0": {}}}, "no choices[0].message", id="choices-object"),
    pytest.param({"choices": []}, "no choices[0].message", id="no-choices"),
]


@pytest.mark.parametrize(("answer", "reason"), OPENAI_BODIES)
def test_openai_malformed_bodies_are_retried_then_the_cells_error(
    openai_server: FaultServer, answer: dict[str, Any], reason: str
) -> None:
    openai_server.script(*[body(answer)] * (RETRIES + 1))
    cell = _run({"id": "openai:chat:m", "config": {"apiBaseUrl": f"{openai_server.url}/v1"}})
    assert cell.status == "error"
    assert cell.error is not None and reason in cell.error, cell.error
    assert cell.error.startswith("malformed response")
    assert cell.error.endswith(f"(after {RETRIES + 1} attempts)")
    assert cell.attempts == RETRIES + 1 == openai_server.count


def test_openai_malformed_body_then_a_good_one_is_an_answer(openai_server: FaultServer) -> None:
    openai_server.script(body(_chat({"role": "assistant", "content": 42})))
    cell = _run({"id": "openai:chat:m", "config": {"apiBaseUrl": f"{openai_server.url}/v1"}})
    assert (cell.status, cell.output, cell.attempts) == ("pass", "say hi", 2)


def test_openai_null_content_is_still_an_empty_answer(openai_server: FaultServer) -> None:
    # what OpenAI sends for a refusal or a filtered answer: a well-formed empty answer
    openai_server.script(body(_chat({"role": "assistant", "content": None})))
    cell = _run({"id": "openai:chat:m", "config": {"apiBaseUrl": f"{openai_server.url}/v1"}})
    assert (cell.status, cell.output, cell.attempts) == ("pass", "", 1)


def _message(content: Any) -> dict[str, Any]:
    return {"type": "message", "model": "m", "content": content, "stop_reason": "end_turn"}


ANTHROPIC_BODIES = [
    pytest.param(_message(42), "no content list", id="content-42"),
    pytest.param(_message("hello"), "no content list", id="content-string"),
    pytest.param(_message([{"type": "text", "text": 42}]), "text is int", id="text-42"),
    pytest.param(_message(["hello"]), "content block with no type", id="block-string"),
    pytest.param(_message([{"text": "hello"}]), "content block with no type", id="no-type"),
]


@pytest.mark.parametrize(("answer", "reason"), ANTHROPIC_BODIES)
def test_anthropic_malformed_bodies_are_retried_then_the_cells_error(
    anthropic_server: AnthropicServer, answer: dict[str, Any], reason: str
) -> None:
    anthropic_server.bodies.extend([answer] * (RETRIES + 1))
    cell = _run({"id": "anthropic:messages:m", "config": {"apiBaseUrl": anthropic_server.url}})
    assert cell.status == "error"
    assert cell.error is not None and reason in cell.error, cell.error
    assert cell.error.endswith(f"(after {RETRIES + 1} attempts)")
    assert cell.attempts == RETRIES + 1 == len(anthropic_server.requests)
