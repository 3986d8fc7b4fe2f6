"""The http provider against a local REST endpoint: templated URL, headers, query and
body; transformResponse as a path, an arrow function or a Python function; sessions;
validateStatus; and the faults every provider must survive."""

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


def echo_answer(seen: Seen) -> Reply:
    body = seen.json if seen.body else {}
    return Reply(
        {"result": {"answer": f"you said: {body.get('input')}"}, "usage": {"total": 7}},
        headers={"X-Session-Id": "server-session-1"},
    )


def run(
    config: dict[str, Any], tests: list[dict[str, Any]] | None = None, prompt: str = "{{q}}"
) -> list[prompteur.CellResult]:
    result = prompteur.evaluate(
        {
            "prompts": [prompt],
            "providers": [{"id": "http", "config": config}],
            "tests": tests or [{"vars": {"q": "hello", "user": "ada"}}],
        },
        options=FAST,
    )
    return result.results


def test_templated_request_and_a_path_transform(server: ProtocolServer) -> None:
    server.answer = echo_answer
    (cell,) = run(
        {
            "url": f"{server.url}/api/{{{{user}}}}/chat",
            "method": "POST",
            "headers": {"Authorization": "Bearer {{user}}-token", "X-Fixed": "1"},
            "queryParams": {"lang": "en"},
            "body": {"input": "{{prompt}}", "meta": {"who": "{{user}}", "n": 3}},
            "transformResponse": "json.result.answer",
        }
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/api/ada/chat", {"lang": "en"})
    assert seen.headers["Authorization"] == "Bearer ada-token"
    assert seen.headers["X-Fixed"] == "1"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == {"input": "hello", "meta": {"who": "ada", "n": 3}}
    assert cell.output == "you said: hello"


def test_arrow_functions_that_are_paths_need_no_engine(server: ProtocolServer) -> None:
    server.answer = echo_answer
    (cell,) = run(
        {
            "url": server.url,
            "body": {"input": "{{prompt}}"},
            "transformResponse": "(json, text) => json['result'].answer",
        }
    )
    assert cell.output == "you said: hello"


def test_a_python_transform_gets_json_and_text_and_may_report_usage(
    server: ProtocolServer, write: Callable[[str, str], Path]
) -> None:
    server.answer = echo_answer
    write(
        "transform.py",
        """
        def pick(json, text, data, context):
            return {
                "output": json["result"]["answer"].upper() + f" ({len(text)} chars)",
                "tokenUsage": {"prompt": 5, "completion": 2},
                "cost": 0.5,
            }
        """,
    )
    (cell,) = run(
        {
            "url": server.url,
            "body": {"input": "{{prompt}}"},
            "transformResponse": "file://transform.py:pick",
        }
    )
    assert cell.error is None, cell.error
    assert cell.output.startswith("YOU SAID: HELLO (")
    assert (cell.prompt_tokens, cell.completion_tokens, cell.cost) == (5, 2, 0.5)


def test_javascript_that_is_no_path_is_refused_in_one_line(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write(
        "suite.yaml",
        """
        prompts: [hi]
        providers:
          - id: http
            config:
              url: http://127.0.0.1:9/api
              transformResponse: "(json) => json.items.map((i) => i.text).join(' ')"
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: suite.yaml:3:5: provider 'http' config 'transformResponse': "
        "'(json) => json.items.map((i) => i.text).join(' ')' is JavaScript, and no JavaScript "
        "engine is available here; write it as a path (json.choices[0].message.content) or a "
        "Python function (file://transform.py:fn)\n"
    )


def test_without_a_transform_the_json_answer_is_the_output(server: ProtocolServer) -> None:
    server.script(Reply({"a": [1, 2]}), Reply(text="plain words"))
    cells = run(
        {"url": server.url, "method": "GET"},
        tests=[{"vars": {"q": "one"}}, {"vars": {"q": "two"}}],
    )
    assert sorted(c.output or "" for c in cells) == ["plain words", '{"a": [1, 2]}']
    assert all(seen.method == "GET" and not seen.body for seen in server.seen)


def test_a_server_session_is_carried_to_the_next_request(server: ProtocolServer) -> None:
    server.answer = echo_answer
    cells = run(
        {
            "url": server.url,
            "headers": {"X-Session": "{{sessionId}}"},
            "body": {"input": "{{prompt}}"},
            "sessionParser": "data.headers['x-session-id']",
            "sessionSource": "server",
            "transformResponse": "json.result.answer",
        },
        tests=[{"vars": {"q": "first"}}, {"vars": {"q": "second"}}],
    )
    assert [c.error for c in cells] == [None, None]
    first, second = server.seen
    assert first.headers["X-Session"] == ""
    assert second.headers["X-Session"] == "server-session-1"


def test_a_client_session_is_a_new_id_per_call(server: ProtocolServer) -> None:
    server.answer = echo_answer
    run(
        {
            "url": server.url,
            "body": {"input": "{{prompt}}", "session": "{{sessionId}}"},
            "sessionSource": "client",
        },
        tests=[{"vars": {"q": "a"}}, {"vars": {"q": "b"}}],
    )
    sessions = {seen.json["session"] for seen in server.seen}
    assert len(sessions) == 2
    assert all(len(s) == 36 for s in sessions)  # uuid4s


def test_validate_status_accepts_what_it_says(server: ProtocolServer) -> None:
    server.script(Reply({"answer": "not found, but fine"}, 404))
    (cell,) = run(
        {
            "url": server.url,
            "body": {"input": "{{prompt}}"},
            "validateStatus": "(status) => status >= 200 && status < 500",
            "transformResponse": "json.answer",
        }
    )
    assert (cell.error, cell.output) == (None, "not found, but fine")


def test_faults_429_retry_after_5xx_and_malformed(server: ProtocolServer) -> None:
    server.answer = echo_answer
    server.script(
        Reply({"error": "slow down"}, 429, {"Retry-After": "0"}),
        Reply({"error": "upstream died"}, 502),
    )
    config = {
        "url": server.url,
        "body": {"input": "{{prompt}}"},
        "transformResponse": "json.result.answer",
    }
    (cell,) = run(config)
    assert (cell.error, cell.attempts, cell.output) == (None, 3, "you said: hello")
    server.script(*[Reply(text="<html>oops</html>")] * 3)
    (cell,) = run(config)
    assert cell.error == "malformed response (not JSON): '<html>oops</html>' (after 3 attempts)"
    server.script(Reply({"error": "bad key"}, 401))
    (cell,) = run(config)
    assert (cell.error, cell.attempts) == ("HTTP 401: bad key", 1)


def test_an_id_that_is_a_url_is_the_endpoint(server: ProtocolServer) -> None:
    server.answer = echo_answer
    result = prompteur.evaluate(
        {
            "prompts": ["{{q}}"],
            "providers": [
                {
                    "id": f"{server.url}/v2/ask",
                    "config": {
                        "body": {"input": "{{prompt}}"},
                        "transformResponse": "json.result.answer",
                    },
                }
            ],
            "tests": [{"vars": {"q": "hey"}}],
        },
        options=FAST,
    )
    (cell,) = result.results
    assert cell.output == "you said: hey"
    assert server.seen[0].path == "/v2/ask"


def test_transform_request_shapes_the_prompt_a_var_alone_keeps_its_json(
    server: ProtocolServer, write: Callable[[str, str], Path]
) -> None:
    server.answer = lambda seen: Reply({"reply": seen.json["messages"][-1]["content"]})
    write(
        "shape.py",
        """
        def as_messages(prompt, vars, context):
            return [{"role": "system", "content": vars["persona"]}, {"role": "user", "content": prompt}]
        """,
    )
    (cell,) = run(
        {
            "url": server.url,
            "body": {"messages": "{{prompt}}", "n": "{{count}}"},
            "transformRequest": "file://shape.py:as_messages",
            "responseParser": "json.reply",
        },
        tests=[{"vars": {"q": "hello", "persona": "a pirate", "count": 2}}],
    )
    assert cell.error is None, cell.error
    assert server.seen[0].json == {
        "messages": [
            {"role": "system", "content": "a pirate"},
            {"role": "user", "content": "hello"},
        ],
        "n": 2,
    }
    assert cell.output == "hello"


def test_a_raw_http_request_is_sent_as_written(server: ProtocolServer) -> None:
    server.answer = echo_answer
    host = server.url.removeprefix("http://")
    (cell,) = run(
        {
            "request": (
                f"POST /v1/chat?mode=fast HTTP/1.1\n"
                f"Host: {host}\n"
                "Content-Type: application/json\n"
                "X-User: {{user}}\n"
                "\n"
                '{"input": "{{prompt}}"}\n'
            ),
            "transformResponse": "json.result.answer",
        }
    )
    assert cell.error is None, cell.error
    (seen,) = server.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/v1/chat", {"mode": "fast"})
    assert seen.headers["X-User"] == "ada"
    assert seen.json == {"input": "hello"}
    assert cell.output == "you said: hello"


def test_a_raw_request_without_a_host_is_refused_in_one_line(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write(
        "suite.yaml",
        """
        prompts: [hi]
        providers:
          - id: http
            config:
              request: "POST /chat HTTP/1.1\\n\\n{}"
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: suite.yaml:3:5: provider 'http' config 'request': a raw request needs a Host "
        "header\n"
    )


def test_what_is_sent_decides_the_cache_identity_without_storing_secrets() -> None:
    """Two endpoints that differ only by a header's value, or by a raw request's body, give
    different answers: they must not share cached answers. The values are hashed."""
    from prompteur.config import ProviderSpec
    from prompteur.providers._base import ProviderContext
    from prompteur.providers._registry import create_provider

    def identity(config: dict[str, Any]) -> Any:
        provider = create_provider(ProviderSpec(id="http", config=config), ProviderContext())
        return provider.identity()

    url = "http://127.0.0.1:9/api"
    a = identity({"url": url, "headers": {"X-Model": "small", "Authorization": "Bearer sk-1"}})
    b = identity({"url": url, "headers": {"X-Model": "large", "Authorization": "Bearer sk-1"}})
    assert a != b
    assert "sk-1" not in repr(a) and "small" not in repr(a)
    raw = "POST /api HTTP/1.1\nHost: 127.0.0.1:9\n\n{{{{prompt}}}} {}"
    assert identity({"request": raw.format("one")}) != identity({"request": raw.format("two")})
