"""The embedded model, for real: llama.cpp in-process running SmolLM2-135M-Instruct."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prompteur
from prompteur.errors import SuiteError
from prompteur.providers import _local

pytestmark = pytest.mark.slow

CAPITAL = "What is the capital of France? Answer with the city name only."


def test_embedded_model_generates_real_text() -> None:
    result = prompteur.evaluate(
        {
            "prompts": [CAPITAL],
            "tests": [
                {
                    "assert": [
                        {"type": "icontains", "value": "paris"},
                        {"type": "finish-reason", "value": "stop"},
                    ]
                }
            ],
        }
    )
    (cell,) = result.results
    assert cell.provider_id == "local"  # the default when a suite names no provider
    assert cell.error is None
    assert "Paris" in (cell.output or "")
    assert cell.passed
    assert cell.prompt_tokens and cell.prompt_tokens > 10
    assert cell.completion_tokens and cell.completion_tokens >= 1
    assert cell.cost == 0.0
    assert cell.latency_ms and cell.latency_ms > 0


def test_generation_settings_apply() -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["Write a long story about a dragon."],
            "providers": [{"id": "local", "config": {"max_tokens": 3}}],
        }
    )
    (cell,) = result.results
    assert cell.completion_tokens == 3
    assert cell.finish_reason == "length"


def test_same_answer_at_temperature_zero() -> None:
    suite = {
        "prompts": ["Name a colour."],
        "providers": [{"id": "local", "config": {"max_tokens": 8}}],
        "evaluateOptions": {"repeat": 2},
    }
    outputs = {c.output for c in prompteur.evaluate(suite).results}
    assert len(outputs) == 1


def test_model_loaded_once_and_never_generates_concurrently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llama_cpp import Llama

    active = 0
    peak = 0
    lock = threading.Lock()
    original = Llama.create_chat_completion

    def tracked(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(Llama, "create_chat_completion", tracked)
    loaded_before = len(_local._models)
    result = prompteur.evaluate(
        {
            "prompts": ["Say {{n}}.", "Repeat {{n}}."],
            "providers": [
                {"id": "local", "label": "a", "config": {"max_tokens": 4}},
                {"id": "local", "label": "b", "config": {"max_tokens": 4}},
            ],
            "tests": [{"vars": {"n": n}} for n in range(3)],
        },
        options=prompteur.EvalOptions(max_concurrency=4),
    )
    assert len(result.results) == 12
    assert all(c.error is None for c in result.results)
    assert peak == 1, "one model instance must never run two generations at once"
    assert len(_local._models) - loaded_before <= 1, "the model file is loaded once per process"


def test_any_gguf_path(embedded_model_path: Path) -> None:
    result = prompteur.evaluate(
        {
            "prompts": [CAPITAL],
            "providers": [{"id": f"local:{embedded_model_path}", "config": {"max_tokens": 8}}],
        }
    )
    assert "Paris" in (result.results[0].output or "")


def test_missing_gguf_path_is_a_suite_error(write: Callable[[str, str], Path]) -> None:
    write("suite.yaml", "prompts: [hi]\nproviders: ['local:models/none.gguf']\n")
    with pytest.raises(
        SuiteError, match=r"suite.yaml:2:13: model file not found: models/none.gguf"
    ):
        prompteur.plan_suite("suite.yaml")


def test_unknown_local_config_key(write: Callable[[str, str], Path]) -> None:
    with pytest.raises(
        SuiteError, match=r"unknown config key 'max_token' .*did you mean 'max_tokens'"
    ):
        prompteur.plan_suite(
            {"prompts": ["hi"], "providers": [{"id": "local", "config": {"max_token": 3}}]}
        )


def test_a_timed_out_generation_stops_and_the_next_call_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llama_cpp import Llama

    original = Llama.create_chat_completion
    outcomes: list[tuple[str, str]] = []

    def instrumented(self: Any, *args: Any, **kwargs: Any) -> Any:
        story = "dragon" in kwargs["messages"][-1]["content"]
        if story:  # never ends by itself: only the timeout can stop it
            kwargs["logit_bias"] = {self.token_eos(): -1e9}
        else:  # one token, so that even a loaded machine answers well within the timeout
            kwargs["max_tokens"] = 1
        try:
            result = original(self, *args, **kwargs)
        except RuntimeError as exc:
            outcomes.append(("story" if story else "hi", f"stopped: {exc}"))
            raise
        outcomes.append(("story" if story else "hi", f"{result['usage']['completion_tokens']}"))
        return result

    monkeypatch.setattr(Llama, "create_chat_completion", instrumented)
    result = prompteur.evaluate(
        {
            "prompts": ["{{q}}"],
            "providers": [{"id": "local", "config": {"max_tokens": 1800}}],
            "tests": [
                {"vars": {"q": "Write a very long story about a dragon."}},
                {"vars": {"q": "Say hi."}},
            ],
        },
        options=prompteur.EvalOptions(timeout=8, max_retries=0),
    )
    story, hi = sorted(result.results, key=lambda c: c.test_index)
    assert story.error == "timed out after 8 s"
    # 1,800 tokens take far longer than 8 s on these machines: the next call could answer
    # within its own 8 s only because the story stopped instead of running on
    assert outcomes[0][0] == "story" and outcomes[0][1].startswith("stopped"), outcomes
    assert hi.error is None, hi.error
    assert hi.output and hi.completion_tokens == 1
    assert outcomes[1] == ("hi", "1")


ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
}


def test_openai_json_schema_response_format_holds_the_output(
    write: Callable[[str, str], Path],
) -> None:
    # llama.cpp reads only {"type": "json_object", "schema": ...}: OpenAI's form, which
    # users copy, used to be ignored without a word
    openai_form = {"type": "json_schema", "json_schema": {"name": "a", "schema": ANSWER_SCHEMA}}
    result = prompteur.evaluate(
        {
            "prompts": ["Is the sky blue? Answer in one word."],
            "providers": [
                {"id": "local", "config": {"max_tokens": 40, "response_format": openai_form}}
            ],
            "tests": [{"assert": [{"type": "is-json", "value": ANSWER_SCHEMA}]}],
        }
    )
    (cell,) = result.results
    assert cell.error is None, cell.error
    assert cell.passed, cell.output


def test_a_prompty_files_openai_response_format_holds_the_output(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "answer.prompty",
        """
        ---
        name: yes or no
        model:
          api: chat
          parameters:
            max_tokens: 40
            response_format:
              type: json_schema
              json_schema:
                name: a
                schema:
                  type: object
                  properties: {answer: {type: string, enum: ["yes", "no"]}}
                  required: [answer]
        ---
        user:
        Is the sky blue? Answer in one word.
        """,
    )
    result = prompteur.evaluate(
        {
            "prompts": ["file://answer.prompty"],
            "providers": ["local"],
            "tests": [{"assert": [{"type": "is-json", "value": ANSWER_SCHEMA}]}],
        }
    )
    (cell,) = result.results
    assert cell.error is None, cell.error
    assert cell.passed, cell.output
