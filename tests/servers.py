"""Local HTTP servers for tests, on 127.0.0.1: an OpenAI-compatible server that injects
scripted faults, and a server that speaks Anthropic's Messages API.

Each runs aiohttp's web server on its own event loop in a background thread, so the code
under test talks to it over a real socket, exactly as it would to a remote API.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Fault:
    """What the server does with one request. ``kind``: ok, status, hang, malformed, drop,
    usage (an ordinary answer whose ``usage`` is ``body``), body (a 200 whose JSON is
    ``body``)."""

    kind: str = "ok"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0


def ok() -> Fault:
    return Fault()


def status(code: int, body: Any = None, **headers: str) -> Fault:
    return Fault("status", code, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def hang(seconds: float) -> Fault:
    return Fault("hang", seconds=seconds)


def malformed() -> Fault:
    return Fault("malformed")


def drop() -> Fault:
    return Fault("drop")


def usage(value: Any) -> Fault:
    return Fault("usage", body=value)


def body(value: Any) -> Fault:
    return Fault("body", body=value)


class LocalServer:
    """An aiohttp application served from a background thread."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def _chat_completion(model: str, text: str) -> dict[str, Any]:
    words = len(text.split())
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": words, "completion_tokens": words, "total_tokens": 2 * words},
    }


class FaultServer(LocalServer):
    """OpenAI-compatible chat completions that echo the last user message, except for the
    faults scripted with :meth:`script` (consumed one per request, in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.app.router.add_post("/v1/chat/completions", self._handle)

    def script(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    @property
    def count(self) -> int:
        return len(self.requests)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        fault = self.faults.popleft() if self.faults else ok()
        if fault.kind == "status":
            payload = (
                fault.body
                if fault.body is not None
                else {"error": {"message": f"scripted status {fault.status}", "type": "test"}}
            )
            return web.json_response(payload, status=fault.status, headers=fault.headers)
        if fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
        if fault.kind == "malformed":
            return web.Response(text="<html>Bad gateway</html>", content_type="text/html")
        if fault.kind == "body":
            return web.json_response(fault.body)
        if fault.kind == "drop":
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            response.content_length = 4096
            await response.prepare(request)
            await response.write(b'{"choices": [')
            assert request.transport is not None
            request.transport.close()
            return response
        text = body["messages"][-1]["content"]
        answer = _chat_completion(body.get("model", "echo"), text)
        if fault.kind == "usage":
            answer["usage"] = fault.body
        return web.json_response(answer)


class AnthropicServer(LocalServer):
    """Anthropic's Messages API: validates what a client must send, answers with the last
    user message. ``overloaded`` requests get 529 first; ``stop_reason`` is scripted."""

    API_KEY = "test-anthropic-key"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.overloaded = 0
        self.max_tokens_reply = False
        self.usage_reply: Any = None  # replaces the usage of every answer when set
        self.bodies: deque[Any] = deque()  # 200 answers with these JSON bodies first
        self.app.router.add_post("/v1/messages", self._handle)

    @staticmethod
    def _error(status: int, kind: str, message: str) -> web.Response:
        return web.json_response(
            {"type": "error", "error": {"type": kind, "message": message}}, status=status
        )

    async def _handle(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        if request.headers.get("x-api-key") != self.API_KEY:
            return self._error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self._error(400, "invalid_request_error", "anthropic-version header is required")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error(400, "invalid_request_error", "body is not JSON")
        self.requests.append(body)
        if self.overloaded > 0:
            self.overloaded -= 1
            return self._error(529, "overloaded_error", "Overloaded")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return self._error(400, "invalid_request_error", f"{key}: Field required")
        messages = body["messages"]
        if not messages or any(m.get("role") not in ("user", "assistant") for m in messages):
            return self._error(
                400, "invalid_request_error", "messages: roles must be 'user' or 'assistant'"
            )
        if "system" in body and not isinstance(body["system"], str | list):
            return self._error(400, "invalid_request_error", "system: must be text")
        if self.bodies:
            return web.json_response(self.bodies.popleft())
        text = str(messages[-1]["content"])
        stop = "max_tokens" if self.max_tokens_reply else "end_turn"
        prompt_words = sum(len(str(m["content"]).split()) for m in messages)
        return web.json_response(
            {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": self.usage_reply
                if self.usage_reply is not None
                else {"input_tokens": prompt_words, "output_tokens": len(text.split())},
            }
        )


@contextmanager
def serving(server: LocalServer) -> Iterator[LocalServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Seen:
    """A request a :class:`ProtocolServer` received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What a :class:`ProtocolServer` answers: a JSON body (or raw ``text``)."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None


class ProtocolServer(LocalServer):
    """Any JSON API on 127.0.0.1: records every request; answers each with the next scripted
    :class:`Reply`, else with ``answer(seen)``, a function the test gives."""

    def __init__(self, answer: Any = None) -> None:
        super().__init__()
        self.seen: list[Seen] = []
        self.replies: deque[Reply] = deque()
        self.answer = answer
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _handle(self, request: web.Request) -> web.Response:
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
            request.raw_path,
        )
        self.seen.append(seen)
        reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = self.answer(seen) if self.answer is not None else Reply({})
        if reply.text is not None:
            return web.Response(
                text=reply.text,
                status=reply.status,
                headers=reply.headers,
                content_type="text/plain",
            )
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
