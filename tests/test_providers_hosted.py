"""The hosted providers (OpenAI-compatible presets, Azure, the Responses API, Gemini,
Vertex, Bedrock), each against a local server that speaks its protocol: the request it
must send, the answer it reads, usage and cost, and the faults it must survive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur

from .servers import ProtocolServer, Reply, Seen, serving

FAST = prompteur.EvalOptions(retry_base_delay=0.01, retry_max_delay=0.02, max_retries=2)


@pytest.fixture
def server() -> Iterator[ProtocolServer]:
    with serving(ProtocolServer()) as running:
        assert isinstance(running, ProtocolServer)
        yield running


def one_cell(provider: dict[str, Any], prompt: str = "{{q}}", **vars: Any) -> prompteur.CellResult:
    result = prompteur.evaluate(
        {
            "prompts": [prompt],
            "providers": [provider],
            "tests": [{"vars": vars or {"q": "What is two plus two?"}}],
        },
        options=FAST,
    )
    (cell,) = result.results
    return cell


def chat_answer(seen: Seen) -> Reply:
    body = seen.json
    return Reply(
        {
            "model": body.get("model", "deployment-model"),
            "choices": [
                {"message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
        }
    )


# --- OpenAI-compatible presets ---------------------------------------------------------


def test_a_preset_sends_its_key_and_reads_a_gateway_cost(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    server.answer = lambda seen: Reply(
        {
            **chat_answer(seen).body,
            "usage": {"prompt_tokens": 12, "completion_tokens": 1, "cost": 0.0042},
        }
    )
    cell = one_cell(
        {"id": "openrouter:meta-llama/llama-3.1-8b-instruct", "config": {"apiBaseUrl": server.url}}
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert seen.path == "/chat/completions"
    assert seen.headers["Authorization"] == "Bearer or-key"
    assert seen.json["model"] == "meta-llama/llama-3.1-8b-instruct"
    assert cell.output == "4"
    assert (cell.prompt_tokens, cell.completion_tokens) == (12, 1)
    assert cell.cost == pytest.approx(0.0042)  # OpenRouter's own figure


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("mistral:mistral-small-latest", "MISTRAL_API_KEY"),
        ("groq:llama-3.1-8b-instant", "GROQ_API_KEY"),
        ("togetherai:meta-llama/Llama-3-8b-chat-hf", "TOGETHER_API_KEY"),
        ("deepseek:deepseek-chat", "DEEPSEEK_API_KEY"),
        ("xai:grok-3-mini", "XAI_API_KEY"),
    ],
)
def test_a_preset_without_its_key_is_refused_naming_the_variable(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result], provider: str, variable: str
) -> None:
    write("suite.yaml", f"prompts: [hi]\nproviders: ['{provider}']\n")
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: suite.yaml:2:13: provider '{provider}' needs an API key: set {variable}\n"
    )


# --- Azure OpenAI ---------------------------------------------------------------------


def test_azure_calls_the_deployment_with_its_api_version_and_key_header(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    server.answer = chat_answer
    cell = one_cell(
        {
            "id": "azure:chat:my-gpt-4o-mini",
            "config": {"apiBaseUrl": server.url, "apiVersion": "2024-06-01", "temperature": 0},
        }
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert seen.path == "/openai/deployments/my-gpt-4o-mini/chat/completions"
    assert seen.query == {"api-version": "2024-06-01"}
    assert seen.headers["api-key"] == "az-key"
    assert "Authorization" not in seen.headers
    assert seen.json == {
        "messages": [{"role": "user", "content": "What is two plus two?"}],
        "temperature": 0,
    }
    assert cell.output == "4"


def test_azure_without_a_host_says_where_to_give_one(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("suite.yaml", "prompts: [hi]\nproviders: ['azure:chat:dep']\n")
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert "needs the resource's host: set config.apiHost" in result.stderr
    assert result.stderr.count("\n") == 1


# --- OpenAI's Responses API -----------------------------------------------------------


def responses_answer(seen: Seen) -> Reply:
    return Reply(
        {
            "id": "resp_1",
            "model": "gpt-4.1-mini-2025-04-14",
            "status": "completed",
            "output": [
                {"type": "reasoning", "summary": []},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Four."}],
                },
            ],
            "usage": {"input_tokens": 20, "output_tokens": 2, "total_tokens": 22},
        }
    )


def test_responses_api_request_answer_usage_and_cost(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.answer = responses_answer
    cell = one_cell(
        {
            "id": "openai:responses:gpt-4.1-mini",
            "config": {
                "apiBaseUrl": server.url,
                "max_output_tokens": 64,
                "instructions": "Be terse.",
                "reasoning": {"effort": "low"},
            },
        },
        prompt="system: Answer in words.\nuser: {{q}}",
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert seen.path == "/responses"
    assert seen.headers["Authorization"] == "Bearer sk-test"
    assert seen.json == {
        "model": "gpt-4.1-mini",
        "input": [
            {"role": "system", "content": "Answer in words."},
            {"role": "user", "content": "What is two plus two?"},
        ],
        "max_output_tokens": 64,
        "instructions": "Be terse.",
        "reasoning": {"effort": "low"},
    }
    assert cell.output == "Four."
    assert cell.finish_reason == "stop"
    assert (cell.prompt_tokens, cell.completion_tokens) == (20, 2)
    assert cell.cost == pytest.approx(20 * 0.40e-6 + 2 * 1.60e-6)  # gpt-4.1-mini's price


def test_responses_api_cut_by_max_output_tokens_is_a_length_finish(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.script(
        Reply(
            {
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "output": [{"type": "message", "content": [{"type": "output_text", "text": "Fo"}]}],
                "usage": {"input_tokens": 5, "output_tokens": 1},
            }
        )
    )
    cell = one_cell({"id": "openai:responses:gpt-4.1-mini", "config": {"apiBaseUrl": server.url}})
    assert (cell.output, cell.finish_reason) == ("Fo", "length")


# --- Google: Gemini API and Vertex ----------------------------------------------------


def gemini_answer(seen: Seen) -> Reply:
    return Reply(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "thinking...", "thought": True}, {"text": "4"}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 9,
                "candidatesTokenCount": 1,
                "totalTokenCount": 10,
            },
            "modelVersion": "gemini-2.0-flash-001",
        }
    )


def test_gemini_request_answer_usage_and_cost(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    server.answer = gemini_answer
    cell = one_cell(
        {
            "id": "google:gemini-2.0-flash",
            "config": {"apiBaseUrl": server.url, "temperature": 0.2, "maxOutputTokens": 32},
        },
        prompt="system: Answer in digits.\nuser: {{q}}\nassistant: Let me see.\nuser: Go on.",
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert seen.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == "g-key"
    assert seen.json == {
        "contents": [
            {"role": "user", "parts": [{"text": "What is two plus two?"}]},
            {"role": "model", "parts": [{"text": "Let me see."}]},
            {"role": "user", "parts": [{"text": "Go on."}]},
        ],
        "systemInstruction": {"parts": [{"text": "Answer in digits."}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 32},
    }
    assert cell.output == "4"  # the thought is not the answer
    assert cell.finish_reason == "stop"
    assert (cell.prompt_tokens, cell.completion_tokens) == (9, 1)
    assert cell.cost == pytest.approx(9 * 0.10e-6 + 1 * 0.40e-6)
    assert cell.model == "gemini-2.0-flash-001"


def test_gemini_retries_429_with_retry_after_and_5xx_then_answers(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    server.answer = gemini_answer
    server.script(
        Reply({"error": {"code": 429, "message": "Resource exhausted"}}, 429, {"Retry-After": "0"}),
        Reply({"error": {"code": 503, "message": "The model is overloaded"}}, 503),
    )
    cell = one_cell({"id": "google:gemini-2.0-flash", "config": {"apiBaseUrl": server.url}})
    assert cell.error is None, cell.error
    assert cell.attempts == 3
    assert cell.output == "4"


def test_gemini_malformed_and_blocked_answers_are_cell_errors(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    server.script(*[Reply(text="<html>gateway</html>")] * 3)
    cell = one_cell({"id": "google:gemini-2.0-flash", "config": {"apiBaseUrl": server.url}})
    assert cell.error == "malformed response (not JSON): '<html>gateway</html>' (after 3 attempts)"
    server.script(Reply({"promptFeedback": {"blockReason": "SAFETY"}}))
    cell = one_cell({"id": "google:gemini-2.0-flash", "config": {"apiBaseUrl": server.url}})
    assert cell.error == "the prompt was blocked (SAFETY)"
    assert cell.attempts == 1


def test_vertex_calls_the_project_and_region_with_a_bearer_token(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERTEX_API_KEY", "ya29.token")
    server.answer = gemini_answer
    cell = one_cell(
        {
            "id": "vertex:gemini-2.0-flash",
            "config": {"apiBaseUrl": server.url, "projectId": "my-proj", "region": "europe-west4"},
        }
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert seen.path == (
        "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/"
        "gemini-2.0-flash:generateContent"
    )
    assert seen.headers["Authorization"] == "Bearer ya29.token"
    assert cell.output == "4"


# --- Bedrock's Converse API -----------------------------------------------------------


def converse_answer(seen: Seen) -> Reply:
    return Reply(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "4"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 15, "outputTokens": 1, "totalTokens": 16},
            "metrics": {"latencyMs": 120},
        }
    )


BEDROCK_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_bedrock_converse_request_with_an_api_key(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key")
    server.answer = converse_answer
    cell = one_cell(
        {
            "id": f"bedrock:{BEDROCK_MODEL}",
            "config": {"apiBaseUrl": server.url, "max_tokens": 50, "temperature": 0},
        },
        prompt="system: Answer in digits.\nuser: {{q}}",
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert seen.path == f"/model/{BEDROCK_MODEL}/converse"
    assert seen.headers["Authorization"] == "Bearer bedrock-api-key"
    assert seen.json == {
        "messages": [{"role": "user", "content": [{"text": "What is two plus two?"}]}],
        "system": [{"text": "Answer in digits."}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0},
    }
    assert cell.output == "4"
    assert cell.finish_reason == "stop"
    assert (cell.prompt_tokens, cell.completion_tokens) == (15, 1)
    assert cell.cost == pytest.approx(15 * 0.80e-6 + 1 * 4e-6)  # claude-3-5-haiku's price


def test_bedrock_signs_requests_with_sigv4(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    server.answer = converse_answer
    cell = one_cell(
        {
            "id": f"bedrock:{BEDROCK_MODEL}",
            "config": {"apiBaseUrl": server.url, "region": "eu-west-1"},
        }
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    authorization = seen.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization
    # the signature is the one the request as received deserves
    again = AWSRequest(
        "POST",
        f"{server.url}{seen.raw_path}",
        data=seen.body,
        headers={"Content-Type": "application/json", "X-Amz-Date": seen.headers["X-Amz-Date"]},
    )
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", "secret-example"), "bedrock", "eu-west-1")
    auth._timestamp = lambda: seen.headers["X-Amz-Date"]  # type: ignore[method-assign]
    auth.add_auth(again)
    assert again.headers["Authorization"] == authorization


def test_bedrock_throttling_is_retried_and_a_bad_request_is_not(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "k")
    server.answer = converse_answer
    server.script(Reply({"message": "Too many requests, please wait"}, 429, {"Retry-After": "0"}))
    cell = one_cell({"id": f"bedrock:{BEDROCK_MODEL}", "config": {"apiBaseUrl": server.url}})
    assert (cell.error, cell.attempts) == (None, 2)
    server.script(Reply({"message": "The provided model identifier is invalid."}, 400))
    cell = one_cell({"id": f"bedrock:{BEDROCK_MODEL}", "config": {"apiBaseUrl": server.url}})
    assert cell.error == "HTTP 400: The provided model identifier is invalid."
    assert cell.attempts == 1


def test_unknown_bedrock_apis_are_refused_in_one_line(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("suite.yaml", "prompts: [hi]\nproviders: ['bedrock:kb:my-knowledge-base']\n")
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: suite.yaml:2:13: provider 'bedrock:kb:my-knowledge-base': only Bedrock's "
        "Converse API (chat models) is supported\n"
    )


def test_bedrock_thinking_is_sent_as_a_model_field_and_shown_when_asked(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "k")
    server.answer = lambda seen: Reply(
        {
            "output": {
                "message": {
                    "content": [
                        {
                            "reasoningContent": {
                                "reasoningText": {"text": "2+2 is 4", "signature": "s"}
                            }
                        },
                        {"text": "4"},
                    ]
                }
            },
            "stopReason": "end_turn",
        }
    )
    config = {"apiBaseUrl": server.url, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    cell = one_cell({"id": f"bedrock:converse:{BEDROCK_MODEL}", "config": config})
    assert cell.output == "4"
    assert server.seen[0].json["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1024}
    }
    cell = one_cell(
        {"id": f"bedrock:converse:{BEDROCK_MODEL}", "config": {**config, "showThinking": True}}
    )
    assert cell.output == "Thinking: 2+2 is 4\n\n4"


def test_gemini_takes_promptfoos_config_shapes(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch, write: Callable[[str, str], Path]
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    server.answer = gemini_answer
    write("system.txt", "You are a math tutor.\n")
    tools = {"function_declarations": [{"name": "verify", "parameters": {"type": "object"}}]}
    cell = one_cell(
        {
            "id": "google:gemini-2.5-pro",
            "config": {
                "apiBaseUrl": server.url,
                "systemInstruction": "file://system.txt",
                "generationConfig": {"temperature": 0, "thinkingConfig": {"thinkingBudget": 512}},
                "tools": tools,
                "tool_config": {"function_calling_config": {"mode": "auto"}},
            },
        }
    )
    assert cell.error is None, cell.error
    body = server.seen[0].json
    assert body["systemInstruction"] == {"parts": [{"text": "You are a math tutor."}]}
    assert body["generationConfig"] == {"temperature": 0, "thinkingConfig": {"thinkingBudget": 512}}
    assert body["tools"] == [tools]
    assert body["toolConfig"] == {"function_calling_config": {"mode": "auto"}}


def test_a_setting_written_as_a_data_file_is_that_files_data(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch, write: Callable[[str, str], Path]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.answer = responses_answer
    write(
        "schema.json",
        '{"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}',
    )
    cell = one_cell(
        {
            "id": "openai:responses:gpt-4.1-mini",
            "config": {"apiBaseUrl": server.url, "response_format": "file://schema.json"},
        }
    )
    assert cell.error is None, cell.error
    assert server.seen[0].json["text"] == {
        "format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}
    }


def test_azure_responses_calls_the_v1_path_with_the_deployment_as_model(
    server: ProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_API_KEY", "az-key")
    server.answer = responses_answer
    cell = one_cell(
        {
            "id": "azure:responses:my-gpt-41",
            "config": {"apiBaseUrl": server.url, "instructions": "Be terse."},
        }
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert (seen.path, seen.query) == ("/openai/v1/responses", {"api-version": "preview"})
    assert seen.headers["api-key"] == "az-key"
    assert seen.json["model"] == "my-gpt-41"
    assert seen.json["instructions"] == "Be terse."
    assert cell.output == "Four."
