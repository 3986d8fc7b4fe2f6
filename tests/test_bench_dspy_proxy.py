"""The counting proxy of bench/optimize_vs_dspy.py: a client past its time limit is refused
without reaching the model server, every call sent is counted, and JSON mode can be dropped
from the requests on their way."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
BODIES: list[dict[str, Any]] = []


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(
            "optimize_vs_dspy", BENCH / "optimize_vs_dspy.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["optimize_vs_dspy"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture
def upstream() -> Iterator[list[str]]:
    """A stand-in for llama.cpp's server on 127.0.0.1: answers every completion, records the
    paths it was asked (after its port, first) and the requests' bodies (in ``BODIES``)."""
    seen: list[str] = []
    BODIES.clear()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            BODIES.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            seen.append(self.path)
            body = json.dumps(
                {
                    "choices": [{"message": {"role": "assistant", "content": "Yes"}}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 1},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen.append(str(server.server_address[1]))  # the port, first
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps({"model": "m", "messages": [], **fields}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_closed_client_is_refused_without_reaching_the_server(
    bench: ModuleType, upstream: list[str]
) -> None:
    port = int(upstream.pop(0))
    proxy = bench.CountingProxy(port)
    try:
        status, body = _post(proxy.url("task.gepa"))
        assert status == 200 and body["choices"][0]["message"]["content"] == "Yes"
        assert upstream == ["/v1/chat/completions"]

        proxy.close_client("task.gepa")
        status, body = _post(proxy.url("task.gepa"))
        assert status == 503 and "time limit" in body["error"]
        assert upstream == ["/v1/chat/completions"]  # never forwarded
        # another client (the held-out scoring) still goes through
        assert _post(proxy.url("task.gepa.test"))[0] == 200

        usage = proxy.of("task.gepa")
        assert (usage.calls, usage.refused, usage.prompt_tokens) == (1, 1, 7)
        assert proxy.of("task.gepa.test").calls == 1
    finally:
        proxy.close()


def test_json_mode_is_dropped_only_when_asked(bench: ModuleType, upstream: list[str]) -> None:
    port = int(upstream.pop(0))
    json_mode = {"type": "json_object"}
    kept, dropping = bench.CountingProxy(port), bench.CountingProxy(port, drop_json_mode=True)
    try:
        assert _post(kept.url("a"), response_format=json_mode, max_tokens=9)[0] == 200
        assert _post(dropping.url("b"), response_format=json_mode, max_tokens=9)[0] == 200
        assert _post(dropping.url("b"), max_tokens=9)[0] == 200
        assert BODIES[0]["response_format"] == json_mode
        assert BODIES[1] == {"model": "m", "messages": [], "max_tokens": 9}
        assert BODIES[2] == BODIES[1]
        assert (kept.json_mode_dropped, dropping.json_mode_dropped) == (0, 1)
        assert dropping.of("b").calls == 2
    finally:
        kept.close()
        dropping.close()
