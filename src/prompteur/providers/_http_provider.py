"""``http``: any REST endpoint. The URL, headers, query and body are templates over the
test's vars and ``prompt``; ``transformResponse`` picks the answer out of the response;
``sessionParser`` / ``sessionSource`` carry a conversation's session id; ``validateStatus``
says which statuses are answers. Ids: ``http`` or ``https`` (the URL in config.url), or
``http://host/path`` / ``https://...`` (the id is the URL)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..config._models import ProviderSpec
from ..core._errors import PermanentProviderError, SuiteError, TransientProviderError
from ..core._json import stable_hash
from ..prompts._template import render_string
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    ProviderContext,
    parse_cost,
    parse_provider_config,
    parse_usage,
)
from ._http import DEFAULT_MAX_RESPONSE_BYTES, JsonHttpClient, _json_body, base_url_problem
from ._http_transforms import Extractor, compile_path_or_function, compile_status_check

__all__ = ["HttpConfig", "HttpProvider", "create_http_provider"]


class HttpConfig(BaseModel):
    """``config`` of the http provider, in promptfoo's names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    url: str | None = None
    method: str = "POST"
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    query_params: dict[str, Any] = Field(default_factory=dict, alias="queryParams")
    # responseParser: promptfoo's older name
    transform_response: str | None = Field(
        None, validation_alias=AliasChoices("transformResponse", "responseParser")
    )
    transform_request: str | None = Field(None, alias="transformRequest")
    session_parser: str | None = Field(None, alias="sessionParser")
    session_source: Literal["client", "server"] | None = Field(None, alias="sessionSource")
    validate_status: str | None = Field(None, alias="validateStatus")
    request: str | None = None
    use_https: bool = Field(False, alias="useHttps")
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES, ge=1, alias="maxResponseBytes", repr=False
    )


_ONE_VAR = re.compile(r"^\{\{\s*([A-Za-z_]\w*)\s*\}\}$")


def _render(value: Any, scope: Mapping[str, Any]) -> Any:
    """A template value with every text in it rendered (a mapping's keys too). A text that
    is one var alone is that var's value, so a list or mapping stays one in a JSON body."""
    if isinstance(value, str):
        alone = _ONE_VAR.match(value)
        if alone is not None and alone[1] in scope and not isinstance(scope[alone[1]], str):
            return scope[alone[1]]
        return render_string(value, scope) if "{" in value else value
    if isinstance(value, Mapping):
        return {_render(k, scope): _render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, scope) for v in value]
    return value


class HttpProvider(BaseProvider):
    vars_in_cache_key = True  # the body is made of the test's vars, not the prompt alone

    def __init__(
        self,
        id: str,
        label: str | None,
        config: HttpConfig,
        url: str,
        transform: Extractor | None,
        session_parser: Extractor | None,
        status_check: Callable[[int], bool] | None,
        request_transform: Extractor | None = None,
    ) -> None:
        super().__init__(id, label)
        self.request_transform = request_transform
        self.config = config
        self.url = url
        self.transform = transform
        self.session_parser = session_parser
        self.status_check = status_check
        self.method = config.method.upper()
        self.session_id: str | None = None
        # a path into the JSON answer: an answer that is no JSON is malformed
        source = (config.transform_response or "").lstrip().lstrip("(").lstrip()
        self.needs_json = source.startswith("json")
        # an answer that depends on a session is no answer to serve again
        self.cacheable = session_parser is None and config.session_source is None
        if session_parser is not None:  # one call at a time: each carries the last session
            self.max_concurrency = 1
        self.client = JsonHttpClient(url if "{" not in url else "", {}, config.max_response_bytes)

    def identity(self) -> Mapping[str, Any]:
        config = self.config.model_dump(
            include={
                "url",
                "method",
                "body",
                "query_params",
                "transform_response",
                "transform_request",
                "use_https",
            }
        )
        # what is sent decides the answer: header values and a raw request count, hashed
        # (they may carry keys, and an identity is kept with the run)
        headers = {name: stable_hash(value)[:16] for name, value in self.config.headers.items()}
        raw = None if self.config.request is None else stable_hash(self.config.request)[:16]
        return {"id": self.id, **config, "headers": headers, "request": raw}

    async def preflight(self) -> None:
        if "{" not in self.url:  # a URL made of vars is known only per case
            await self.client.preflight(self.id)

    def scope(self, request: CompletionRequest) -> dict[str, Any]:
        prompt = request.text
        if request.chat:  # promptfoo's chat prompts reach it as their JSON
            prompt = json.dumps([m.to_dict() for m in request.messages], ensure_ascii=False)
        scope: dict[str, Any] = {**request.vars, "prompt": prompt}
        if self.request_transform is not None:  # the prompt as the endpoint wants it
            scope["prompt"] = self.request_transform(
                {"prompt": prompt, "vars": dict(request.vars), "context": {}}
            )
        if self.config.session_source == "client":
            scope.setdefault("sessionId", str(uuid.uuid4()))
        elif self.session_parser is not None:  # empty until the server gives one
            scope.setdefault("sessionId", self.session_id or "")
        return scope

    def build(self, request: CompletionRequest) -> tuple[str, str, bytes | None, dict[str, str]]:
        """The method, URL, body and headers of a request."""
        scope = self.scope(request)
        if self.config.request is not None:
            try:
                raw = render_string(self.config.request, scope)
                method, url, headers, text = parse_raw_request(raw, self.config.use_https)
            except Exception as exc:
                raise PermanentProviderError(f"http request template: {exc}") from exc
            return method, url, text.encode() if text else None, headers
        try:
            url = str(_render(self.url, scope))
            headers = {str(k): str(v) for k, v in _render(self.config.headers, scope).items()}
            query = _render(self.config.query_params, scope)
            body = _render(self.config.body, scope)
        except Exception as exc:  # a template that does not render for this case
            raise PermanentProviderError(f"http request template: {exc}") from exc
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query, doseq=True)
        data: bytes | None
        if body is None or self.method in ("GET", "HEAD"):
            data = None
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = _json_body(body)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        return self.method, url, data, headers

    async def complete(self, request: CompletionRequest) -> Completion:
        method, url, data, headers = self.build(request)
        status, answer_headers, payload = await self.client.send(
            method, url, data, headers, accept_status=self.status_check
        )
        text = payload.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        if self.session_parser is not None:
            lowered = {k.lower(): v for k, v in answer_headers.items()}
            found = self.session_parser(
                {"data": {"headers": lowered, "body": parsed if parsed is not None else text}}
            )
            if found:
                self.session_id = str(found)
        if self.transform is None:
            return _completion(parsed if parsed is not None else text)
        if parsed is None and self.needs_json:
            snippet = " ".join(text.split())[:80]
            raise TransientProviderError(f"malformed response (not JSON): {snippet!r}")
        result = self.transform(
            {"json": parsed, "text": text, "data": parsed, "context": {"status": status}}
        )
        return _completion(result)

    async def aclose(self) -> None:
        await self.client.aclose()


def _completion(result: Any) -> Completion:
    """A transform's result as a completion: text, or promptfoo's ``{output, tokenUsage,
    cost}``; other values are written as JSON."""
    if isinstance(result, Mapping) and "output" in result:
        output = result["output"]
        usage = parse_usage(result.get("tokenUsage"))
        return Completion(_as_text(output), usage, cost=parse_cost(result.get("cost")))
    return Completion(_as_text(result))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def parse_raw_request(raw: str, https: bool) -> tuple[str, str, dict[str, str], str]:
    """A raw HTTP request (``POST /path HTTP/1.1``, headers, a blank line, the body) as
    its method, URL (from its Host header), headers and body."""
    text = raw.lstrip().replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    parts = lines[0].split()
    if len(parts) < 2:
        raise SuiteError(f"a raw request must start with 'METHOD /path', not {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers[name.strip()] = value.strip()
    host = next((v for k, v in headers.items() if k.lower() == "host"), None)
    if host is None:
        raise SuiteError("a raw request needs a Host header")
    headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
    url = f"{'https' if https else 'http'}://{host}{parts[1]}"
    return parts[0].upper(), url, headers, body.strip()


def create_http_provider(spec: ProviderSpec, context: ProviderContext) -> HttpProvider:
    config = parse_provider_config(HttpConfig, spec.config, spec.id, context)
    if config.request is not None:
        try:  # the request as written, for its URL (the preflight's) and its errors
            written = parse_raw_request(config.request, config.use_https)[1]
        except SuiteError as exc:
            raise SuiteError(
                f"provider '{spec.id}' config 'request': {exc.message}", context.origin
            ) from None
        if "{" in written.split("://", 1)[1].split("/", 1)[0]:
            written = "{templated}"
        config = config.model_copy(update={"url": written})
    url = config.url or (spec.id if "://" in spec.id else None)
    if not url:
        raise SuiteError(f"provider '{spec.id}' needs config.url", context.origin)
    if "{" not in url and (problem := _url_problem(url)):
        raise SuiteError(f"provider '{spec.id}' config 'url': {problem}", context.origin)

    def compiled(key: str, source: str | None, roots: tuple[str, ...]) -> Extractor | None:
        if source is None:
            return None
        try:
            return compile_path_or_function(key, source, roots, context.base_dir)
        except SuiteError as exc:
            raise SuiteError(
                f"provider '{spec.id}' config '{key}': {exc.message}", context.origin
            ) from None

    transform = compiled(
        "transformResponse", config.transform_response, ("json", "text", "data", "context")
    )
    parser = compiled("sessionParser", config.session_parser, ("data",))
    request_transform = compiled(
        "transformRequest", config.transform_request, ("prompt", "vars", "context")
    )
    if config.session_source == "server" and parser is None:
        raise SuiteError(
            f"provider '{spec.id}': sessionSource 'server' needs a sessionParser that finds "
            "the session id in the response (e.g. data.headers['x-session-id'])",
            context.origin,
        )
    status_check = None
    if config.validate_status is not None:
        try:
            status_check = compile_status_check(config.validate_status)
        except SuiteError as exc:
            raise SuiteError(
                f"provider '{spec.id}' config 'validateStatus': {exc.message}", context.origin
            ) from None
    return HttpProvider(
        spec.id, spec.label, config, url, transform, parser, status_check, request_transform
    )


def _url_problem(url: str) -> str | None:
    problem = base_url_problem(url.split("?", 1)[0])
    return problem
