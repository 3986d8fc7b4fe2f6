"""`similar` with an embedding provider: an OpenAI-compatible /v1/embeddings endpoint (a
local aiohttp server here, and llama.cpp's server started with --embedding true), its
retries, its cache, and the planning error for a provider that cannot embed."""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import Result

import prompteur
from prompteur.assertions import _similarity

from .conftest import llama_cpp_server
from .servers import LocalServer, serving


def bag_of_words(text: str, per_token: bool) -> Any:
    """A deterministic vector per word (hashed into 32 dimensions); their sum, or the list
    of them, as llama.cpp gives for a model without pooling."""
    vectors = []
    for word in text.lower().replace(".", " ").split():
        digest = hashlib.sha256(word.encode()).digest()
        vectors.append([(b - 127.5) / 127.5 for b in digest])
    if per_token:
        return vectors
    return [sum(column) for column in zip(*vectors, strict=True)]


class EmbeddingServer(LocalServer):
    """/v1/embeddings that answers 500 to its first ``failures`` requests."""

    def __init__(self, per_token: bool = False, failures: int = 0, malformed: int = 0) -> None:
        super().__init__()
        self.per_token = per_token
        self.failures = failures
        self.malformed = malformed  # then this many 200s whose rows have a text index
        self.requests: list[dict[str, Any]] = []
        self.app.router.add_post("/v1/embeddings", self.embeddings)

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if len(self.requests) <= self.failures:
            return web.json_response({"error": {"message": "warming up"}}, status=500)
        texts = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(t, self.per_token)}
            for i, t in enumerate(texts)
        ]
        if len(self.requests) <= self.failures + self.malformed:
            data = [{**row, "index": str(row["index"])} for row in data]
        return web.json_response({"object": "list", "data": data[::-1], "model": body["model"]})


def suite(provider: Any, pairs: list[tuple[str, str]], **assertion: Any) -> dict[str, Any]:
    return {
        "prompts": ["{{answer}}"],
        "providers": ["echo"],
        "tests": [
            {
                "vars": {"answer": answer},
                "assert": [
                    {"type": "similar", "value": expected, "provider": provider, **assertion}
                ],
            }
            for answer, expected in pairs
        ],
    }


def cosine(a: str, b: str) -> float:
    x, y = bag_of_words(a, False), bag_of_words(b, False)
    dot = sum(p * q for p, q in zip(x, y, strict=True))
    return dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))


@pytest.mark.parametrize("per_token", [False, True])
def test_an_embedding_endpoint(hermetic: Path, per_token: bool) -> None:
    store = f"sqlite:///{hermetic / 'store.db'}"
    with serving(EmbeddingServer(per_token=per_token, failures=1)) as server:
        assert isinstance(server, EmbeddingServer)
        provider = {
            "id": "openai:embedding:bag-of-words",
            "config": {"apiBaseUrl": f"{server.url}/v1", "apiKey": "sk-local"},
        }
        pairs = [("the cat sat", "the cat sat"), ("the cat sat", "quarterly revenue grew")]
        result = prompteur.evaluate(
            suite(provider, pairs, threshold=0.9),
            options=prompteur.EvalOptions(retry_base_delay=0.01, max_concurrency=1),
            store=store,
        )
        cells = sorted(result.results, key=lambda r: r.test_index)
        assert [c.status for c in cells] == ["pass", "fail"]
        assert cells[0].assertions[0].score == pytest.approx(1.0, abs=1e-5)
        # token vectors are averaged: the direction of their sum
        expected = cosine(*pairs[1])
        assert cells[1].assertions[0].score == pytest.approx(max(0.0, expected), abs=1e-4)
        assert server.requests[0]["model"] == "bag-of-words"
        assert len(server.requests) == 3  # one 500 retried, then one request per case

        # a second run embeds nothing: the vectors are in the store, keyed by the endpoint
        again = prompteur.evaluate(suite(provider, pairs, threshold=0.9), store=store)
        assert sorted(r.status for r in again.results) == ["fail", "pass"]
        assert len(server.requests) == 3


def test_the_test_options_may_name_the_embedding_half(
    hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # and the similarity extra is not needed then
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(_similarity, "_embedder", None)
    with serving(EmbeddingServer()) as server:
        grader = {
            "text": "local",
            "embedding": {
                "id": "openai:embeddings:bag-of-words",
                "config": {"apiBaseUrl": f"{server.url}/v1"},
            },
        }
        data = suite(None, [("a red apple", "a red apple")])
        data["defaultTest"] = {"options": {"provider": grader}}
        result = prompteur.evaluate(data)
        assert result.results[0].status == "pass", result.results[0].error
        assert len(server.requests) == 1


def test_a_failing_endpoint_is_a_cell_error(hermetic: Path) -> None:
    with serving(EmbeddingServer(failures=100)) as server:
        provider = {"id": "openai:embedding:x", "config": {"apiBaseUrl": f"{server.url}/v1"}}
        result = prompteur.evaluate(
            suite(provider, [("a", "b")]),
            options=prompteur.EvalOptions(max_retries=1, retry_base_delay=0.01),
        )
        cell = result.results[0]
        assert cell.status == "error"
        assert "embeddings from openai:embedding:x: HTTP 500: warming up" in (cell.error or "")


def test_a_malformed_body_is_retried_then_a_cell_error(hermetic: Path) -> None:
    for malformed, status in ((1, "pass"), (2, "error")):
        with serving(EmbeddingServer(malformed=malformed)) as server:
            provider = {"id": "openai:embedding:x", "config": {"apiBaseUrl": f"{server.url}/v1"}}
            result = prompteur.evaluate(
                suite(provider, [("a", "a")]),
                options=prompteur.EvalOptions(max_retries=1, retry_base_delay=0.01),
            )
            cell = result.results[0]
            assert cell.status == status, cell.error
            if status == "error":
                assert "a row with no numeric index" in (cell.error or "")


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("file://judge.py", "provider 'file://judge.py' cannot embed text"),
        ("openai:chat:gpt-4o-mini", "provider 'openai:chat:gpt-4o-mini' cannot embed text"),
        ("{id: 'openai:embedding:m', config: {apiBase: x}}", "unknown config key 'apiBase'"),
    ],
)
def test_a_provider_that_cannot_embed_fails_at_planning(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    provider: str,
    message: str,
) -> None:
    write(
        "prompteur.yaml",
        f"""
        prompts: ["{{{{answer}}}}"]
        providers: [echo]
        tests:
          - vars: {{answer: hi}}
            assert:
              - type: similar
                value: hello
                provider: {provider}
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: prompteur.yaml:")
    assert message in lines[0]


@pytest.mark.parametrize(
    ("provider", "env", "message"),
    [
        ("openai:embedding:m", {"OPENAI_BASE_URL": "localhost:8080"}, "OPENAI_BASE_URL"),
        ("openai:embedding:m", {}, "needs an API key: set OPENAI_API_KEY"),
        (
            "{id: 'openai:embedding:m', config: {apiKeyEnvar: MY_KEY, apiBaseUrl: 'http://127.0.0.1:9'}}",
            {},
            "'apiKeyEnvar': MY_KEY is not set",
        ),
    ],
)
def test_embedding_endpoints_are_checked_like_chat_ones(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write(
        "prompteur.yaml",
        'prompts: ["{{answer}}"]\nproviders: [echo]\ntests:\n  - vars: {answer: hi}\n'
        f"    assert: [{{type: similar, value: hello, provider: {provider}}}]\n",
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: prompteur.yaml:5:")
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_an_embedding_provider_cannot_judge(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "prompteur.yaml",
        """
        prompts: ["{{answer}}"]
        providers: [echo]
        tests:
          - vars: {answer: hi}
            assert:
              - type: llm-rubric
                value: says hi
                provider: {id: 'openai:embedding:m', config: {apiBaseUrl: 'http://127.0.0.1:9'}}
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: prompteur.yaml:6:9: llm-rubric: an embedding provider cannot judge: give "
        "this assertion a chat model (embedding providers serve 'similar')\n"
    )


@pytest.fixture(scope="module")
def embedding_server(embedded_model_path: Path) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on the embedded model, serving embeddings."""
    with llama_cpp_server(embedded_model_path, "--embedding", "true") as url:
        yield url


@pytest.mark.slow
def test_llama_cpp_server_embeddings(hermetic: Path, embedding_server: str) -> None:
    provider = {"id": "openai:embedding:smollm2", "config": {"apiBaseUrl": embedding_server}}
    result = prompteur.evaluate(
        suite(
            provider,
            [
                ("Paris is the capital of France.", "Paris is the capital of France."),
                ("Paris is the capital of France.", "My cat enjoys sleeping in the sun."),
            ],
        )
    )
    same, other = sorted(result.results, key=lambda r: r.test_index)
    assert same.error is None and other.error is None, (same.error, other.error)
    assert same.assertions[0].score == pytest.approx(1.0, abs=1e-4)
    assert other.assertions[0].score < same.assertions[0].score
