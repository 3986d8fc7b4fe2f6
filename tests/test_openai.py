"""The openai provider against a real llama.cpp OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import SuiteError

pytestmark = pytest.mark.slow

CAPITAL = "What is the capital of France? Answer with the city name only."


def provider(base_url: str, **config: object) -> dict[str, object]:
    return {"id": "openai:chat:smollm2", "config": {"apiBaseUrl": base_url, **config}}


def test_real_server_completion_is_recorded(llama_server: str) -> None:
    result = prompteur.evaluate(
        {
            "prompts": [CAPITAL],
            "providers": [provider(llama_server, temperature=0, max_tokens=16, seed=1)],
            "tests": [{"assert": [{"type": "icontains", "value": "paris"}]}],
        }
    )
    (cell,) = result.results
    assert cell.error is None, cell.error
    assert "Paris" in (cell.output or "")
    assert cell.passed
    assert cell.prompt_tokens and cell.prompt_tokens > 10
    assert cell.completion_tokens and cell.completion_tokens > 0
    assert cell.finish_reason == "stop"
    assert cell.cost is None  # no price is known for a local model name


def test_parameters_pass_through(llama_server: str) -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["Write a long story about a dragon."],
            "providers": [provider(llama_server, max_tokens=4, temperature=0, cost=0.001)],
        }
    )
    (cell,) = result.results
    assert cell.completion_tokens == 4
    assert cell.finish_reason == "length"
    assert cell.cost == pytest.approx((cell.prompt_tokens or 0) * 0.001 + 4 * 0.001)


def test_stop_sequences_pass_through(llama_server: str) -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["Count from 1 to 10 separated by commas."],
            "providers": [provider(llama_server, max_tokens=40, temperature=0, stop=["3"])],
        }
    )
    output = result.results[0].output or ""
    assert "3" not in output and "4" not in output


def test_base_url_from_environment_and_cli(
    llama_server: str,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    write(
        "promptfooconfig.yaml",
        f"""
        prompts: ["{CAPITAL}"]
        providers:
          - id: openai:chat:smollm2
            config: {{temperature: 0, max_tokens: 16}}
        tests:
          - assert:
              - type: icontains
                value: Paris
        """,
    )
    result = run_cli("eval", "--no-progress", "-o", "r.json")
    assert result.exit_code == 0, result.stdout
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["results"][0]["provider"] == "openai:chat:smollm2"


def test_concurrent_calls_all_complete(llama_server: str) -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["Say the number {{n}}."],
            "providers": [provider(llama_server, max_tokens=6)],
            "tests": [{"vars": {"n": n}} for n in range(8)],
        },
        options=prompteur.EvalOptions(max_concurrency=4),
    )
    assert len(result.results) == 8
    assert all(c.error is None and c.output for c in result.results)


def test_an_api_key_is_required_for_the_real_openai() -> None:
    with pytest.raises(SuiteError, match="needs an API key: set OPENAI_API_KEY"):
        prompteur.plan_suite({"prompts": ["hi"], "providers": ["openai:chat:gpt-4o-mini"]})


def test_price_table_gives_a_cost_for_known_models() -> None:
    from prompteur.providers._pricing import completion_cost, known_price

    price = known_price("gpt-4o-mini-2024-07-18")
    assert price is not None
    assert completion_cost(price, 1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)
    assert known_price("claude-3-5-haiku-latest") is not None
    assert known_price("smollm2") is None
