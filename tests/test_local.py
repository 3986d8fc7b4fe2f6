"""The embedded model, for real: llama.cpp in worker processes running SmolLM2-135M-Instruct.

Tests that change what a worker does install code in it through a ``sitecustomize`` module
(``in_workers``): the worker is a real process running the real model."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

import prompteur
from prompteur.core._errors import SuiteError

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


def test_each_worker_generates_one_at_a_time_and_loads_the_model_once(
    in_workers: Callable[[str], Path],
) -> None:
    # every generation, in whichever worker process, appends "pid start end" to a log
    log = in_workers(
        """
        import os, time
        from llama_cpp import Llama
        original = Llama.create_chat_completion
        def logged(self, *args, **kwargs):
            start = time.monotonic()
            try:
                return original(self, *args, **kwargs)
            finally:
                with open(os.environ["WORKER_LOG"], "a") as file:
                    file.write(f"{os.getpid()} {start} {time.monotonic()}\\n")
        Llama.create_chat_completion = logged
        """
    )
    result = prompteur.evaluate(
        {
            "prompts": ["Say {{n}}.", "Repeat {{n}}."],
            "providers": [
                {"id": "local", "label": "a", "config": {"max_tokens": 4, "workers": 2}},
                {"id": "local", "label": "b", "config": {"max_tokens": 4, "workers": 2}},
            ],
            "tests": [{"vars": {"n": n}} for n in range(3)],
        },
        options=prompteur.EvalOptions(max_concurrency=4),
    )
    assert len(result.results) == 12
    assert all(c.error is None for c in result.results)
    spans: dict[str, list[tuple[float, float]]] = {}
    for line in log.read_text().splitlines():
        pid, start, end = line.split()
        spans.setdefault(pid, []).append((float(start), float(end)))
    # 12 cells and the one-token probe; the two providers share the model's two workers
    assert sum(len(s) for s in spans.values()) == 13
    assert len(spans) == 2, "the model is loaded once per worker process"
    for generations in spans.values():
        generations.sort()
        for (_, end), (start, _) in itertools.pairwise(generations):
            assert start >= end, "a worker must never run two generations at once"


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
    in_workers: Callable[[str], Path],
) -> None:
    log = in_workers(
        """
        import os
        from llama_cpp import Llama
        original = Llama.create_chat_completion
        def instrumented(self, *args, **kwargs):
            story = "dragon" in kwargs["messages"][-1]["content"]
            if story:  # never ends by itself: only the timeout can stop it
                kwargs["logit_bias"] = {self.token_eos(): -1e9}
            elif kwargs.get("max_tokens") != 1:  # not the probe: one token, answered at once
                kwargs["max_tokens"] = 1
            else:
                return original(self, *args, **kwargs)
            name = "story" if story else "hi"
            try:
                result = original(self, *args, **kwargs)
            except RuntimeError as exc:
                outcome = f"stopped: {exc}"
                raise
            else:
                outcome = str(result["usage"]["completion_tokens"])
                return result
            finally:
                with open(os.environ["WORKER_LOG"], "a") as file:
                    file.write(f"{name}|{outcome}\\n")
        Llama.create_chat_completion = instrumented
        """
    )
    result = prompteur.evaluate(
        {
            "prompts": ["{{q}}"],
            "providers": [{"id": "local", "config": {"max_tokens": 1800, "workers": 1}}],
            "tests": [
                {"vars": {"q": "Write a very long story about a dragon."}},
                {"vars": {"q": "Say hi."}},
            ],
        },
        options=prompteur.EvalOptions(timeout=8, max_retries=0),
    )
    story, hi = sorted(result.results, key=lambda c: c.test_index)
    assert story.error == "timed out after 8 s"
    outcomes = [tuple(line.split("|")) for line in log.read_text().splitlines()]
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
