"""Judges on OpenAI-compatible endpoints are held to the verdict's schema."""

from __future__ import annotations

from pathlib import Path

import pytest

import prompteur
from prompteur.config import ProviderSpec
from prompteur.providers import ProviderContext
from prompteur.providers._openai import create_openai_provider

SCHEMA = {"type": "object", "properties": {"pass": {"type": "boolean"}}, "required": ["pass"]}


def _provider(base_url: str) -> object:
    spec = ProviderSpec(id="openai:chat:m", config={"apiBaseUrl": base_url, "apiKey": "k"})
    return create_openai_provider(spec, ProviderContext())


def test_openai_gets_a_json_schema_format_and_other_servers_json_mode_with_the_schema() -> None:
    openai = _provider("https://api.openai.com/v1")
    assert openai.json_mode(SCHEMA) == {  # type: ignore[attr-defined]
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": SCHEMA, "strict": False},
        }
    }
    local = _provider("http://127.0.0.1:8080/v1")
    assert local.json_mode(SCHEMA) == {  # type: ignore[attr-defined]
        "response_format": {"type": "json_object", "schema": SCHEMA}
    }


ANSWERS = [
    ("What is 7 times 8?", "56"),
    ("Name a primary colour.", "Blue."),
    ("Who wrote Hamlet?", "Charles Dickens wrote Hamlet."),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees."),
    ("Translate 'merci' into English.", "Thank you."),
    ("What is the capital of Japan?", "Kyoto is the capital of Japan."),
]


@pytest.mark.slow
def test_a_llama_cpp_server_judge_always_gives_a_readable_verdict(
    hermetic: Path, llama_server: str
) -> None:
    """The server turns the schema into a grammar: a small model's verdicts all parse."""
    grader = {"id": "openai:chat:smollm2", "config": {"apiBaseUrl": llama_server, "apiKey": "x"}}
    result = prompteur.evaluate(
        {
            "prompts": ["{{answer}}"],
            "providers": ["echo"],
            "defaultTest": {"options": {"provider": grader}},
            "tests": [
                {
                    "vars": {"question": question, "answer": answer},
                    "assert": [
                        {"type": "llm-rubric", "value": "The answer to '{{question}}' is correct."}
                    ],
                }
                for question, answer in ANSWERS
            ],
        }
    )
    errors = [cell.error for cell in result.results if cell.error]
    assert errors == [], errors
