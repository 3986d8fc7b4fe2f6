"""A JSON-over-HTTP client for model APIs that classifies every failure for the runner.

aiohttp is used rather than httpx: against a loopback server it sustains about three times
the request rate on these machines (bench/throughput.py), and a harness should cost far
less than the models it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import orjson
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from ..core._errors import (
    Location,
    MissingDependencyError,
    PermanentProviderError,
    ProviderUnavailableError,
    SuiteError,
    TransientProviderError,
)
from ..core._trust import check_environment_key

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ApiHost",
    "BaseUrl",
    "JsonHttpClient",
    "base_url_problem",
    "configured_api_key",
    "env_base_url",
    "parse_retry_after",
    "reachability_problem",
]

_RETRYABLE_STATUS = {408, 409, 425, 429}

#: The largest response body read (``maxResponseBytes`` in a provider's config): a chat
#: answer is kilobytes, and a server streaming without end must not fill the memory.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


# orjson leaves to the json module what it writes otherwise (dates, dataclasses, subclasses)
_ORJSON_BODY = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _json_body(body: Mapping[str, Any]) -> bytes:
    """A request's JSON, written by orjson (a tenth of the json module's time, which a run
    of many calls feels); what orjson does not write as the json module does (integers
    past 64 bits, dates...) is written, or refused, by the json module, as before."""
    try:
        return orjson.dumps(body, option=_ORJSON_BODY)
    except TypeError:
        return json.dumps(body).encode()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an API's base URL (the client appends paths to it), or None.

    Checked when a provider is made: a bad URL would otherwise fail every call alike."""
    example = "write e.g. 'http://127.0.0.1:8080/v1'"
    if not url.strip() or any(c.isspace() for c in url):
        return f"'{url}' is not a URL ({example})"
    if "://" not in url:
        # 'localhost:11434' or 'api.example.com/v1': only the scheme is missing
        host = url.split("/", 1)[0].rsplit(":", 1)[0]
        local = host in ("localhost", "0.0.0.0", "[::1]") or host.startswith("127.")
        return f"'{url}' has no scheme (did you mean '{'http' if local else 'https'}://{url}'?)"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"'{url}' is not an http:// or https:// URL"
    if not parts.hostname:
        return f"'{url}' names no host ({example})"
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        return f"'{url}' has an invalid port"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f"'{url}' has a query or fragment; API paths are appended to a base URL"
    return None


def env_base_url(
    provider_id: str, names: Sequence[str], env: Mapping[str, str], origin: Location | None
) -> str | None:
    """The base URL that the first of the environment variables ``names`` to be set gives,
    refused when no call could use it; None when none is set."""
    for name in names:
        if value := env.get(name):
            problem = base_url_problem(value)
            if problem is not None:
                raise SuiteError(f"provider '{provider_id}': {name}: {problem}", origin)
            return value
    return None


def configured_api_key(
    provider_id: str,
    api_key: str | None,
    api_key_envar: str | None,
    default_envar: str,
    env: Mapping[str, str],
    origin: Location | None,
    *,
    suite_base_url: bool = False,
) -> str | None:
    """The key a provider's config asks for: ``apiKey``, else the variable ``apiKeyEnvar``
    names (which must then be set: naming it says a key is needed), else ``default_envar``.
    ``suite_base_url``: the calls go to a base URL the suite chose, to which an untrusted
    suite may not have the process's own key sent."""
    if api_key:
        return api_key
    check_environment_key(
        provider_id, api_key_envar, default_envar if suite_base_url else None, env, origin
    )
    if api_key_envar:
        if not env.get(api_key_envar):
            raise SuiteError(
                f"provider '{provider_id}' config 'apiKeyEnvar': {api_key_envar} is not set "
                "(set it, or remove apiKeyEnvar)",
                origin,
            )
        return env[api_key_envar]
    return env.get(default_envar) or None


def _valid_base_url(url: str) -> str:
    problem = base_url_problem(url)
    if problem is not None:
        # the message is passed as a value: a URL may hold braces
        raise PydanticCustomError("base_url", "{problem}", {"problem": problem})
    return url


def _valid_api_host(host: str) -> str:
    problem: str | None
    if "://" in host or "/" in host or not host.strip() or any(c.isspace() for c in host):
        problem = f"'{host}' is not a host name (a full URL goes in apiBaseUrl)"
    else:
        problem = base_url_problem(f"https://{host}/v1")
    if problem is not None:
        raise PydanticCustomError("api_host", "{problem}", {"problem": problem})
    return host


#: A config field holding an API's base URL, refused at planning when no call could use it.
BaseUrl = Annotated[str, AfterValidator(_valid_base_url)]
#: A config field holding an API's host name (``apiHost``), the base URL being https://HOST/v1.
ApiHost = Annotated[str, AfterValidator(_valid_api_host)]


def _proxy_configured() -> bool:
    names = ("http_proxy", "https_proxy", "all_proxy")
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in names)


def _error_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return " ".join(text.split())[:200]


class JsonHttpClient:
    """POSTs JSON and returns the decoded JSON object, or raises a provider error:
    transient for 408/409/425/429/5xx, timeouts, dropped connections and malformed bodies;
    permanent for other 4xx."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_response_bytes = max_response_bytes
        # the bodies are JSON; a Content-Type in ``headers`` (a provider's config) goes first
        self.headers = {"Content-Type": "application/json", **headers}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            try:
                import aiohttp
            except ImportError:  # pragma: no cover - a core dependency
                raise MissingDependencyError(
                    "HTTP providers need aiohttp: pip install aiohttp"
                ) from None
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers=self.headers,
                # APIs need no cookies; proxy settings cost two thread hops per request,
                # so they are read only when the environment sets a proxy
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=_proxy_configured(),
            )
            self._loop = loop
        return self._session

    async def post(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """POST ``body`` as JSON to the base URL + ``path``; the decoded JSON object."""
        data = _json_body(body)
        _, _, payload = await self.send("POST", f"{self.base_url}{path}", data, headers)
        return json_object(payload)

    async def send(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, str] | None = None,
        *,
        accept_status: Callable[[int], bool] | None = None,
        encoded: bool = False,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request: the status, headers and body of an accepted answer. Statuses
        ``accept_status`` refuses (by default: any 4xx or 5xx) raise a provider error.
        ``encoded``: the URL is sent exactly as written (a signed request's)."""
        import aiohttp
        import yarl

        session = self._current_session()
        target: str | yarl.URL = yarl.URL(url, encoded=True) if encoded else url
        try:
            async with session.request(method, target, data=data, headers=headers) as response:
                payload = await self._read_capped(response)
                status = response.status
                answer_headers = dict(response.headers)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except aiohttp.ClientConnectionError as exc:
            raise TransientProviderError(
                f"connection failed: {exc or type(exc).__name__}"
            ) from None
        except aiohttp.ClientPayloadError as exc:
            raise TransientProviderError(f"connection dropped mid-response: {exc}") from None
        except aiohttp.ClientResponseError as exc:
            raise TransientProviderError(f"bad HTTP response: {exc.message}") from None
        except aiohttp.InvalidURL:
            raise PermanentProviderError(f"invalid URL: {url}") from None
        accepted = accept_status(status) if accept_status is not None else status < 400
        if not accepted:
            if status == 429 or status >= 500 or status in _RETRYABLE_STATUS:
                raise TransientProviderError(
                    f"HTTP {status}: {_error_message(payload)}", retry_after
                )
            raise PermanentProviderError(f"HTTP {status}: {_error_message(payload)}")
        return status, answer_headers, payload

    async def preflight(self, provider_id: str) -> None:
        """Refuse, before any call, a server that cannot be reached at all."""
        problem = await reachability_problem(self.base_url)
        if problem is not None:
            raise ProviderUnavailableError(f"provider '{provider_id}': {problem}")

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        """The response's body, refused once it is longer than ``max_response_bytes`` (an
        answer that large is not worth retrying: it would come as large again)."""
        limit = self.max_response_bytes
        length = response.content_length
        if length is not None:  # aiohttp reads that many bytes and no more
            if length > limit:
                raise PermanentProviderError(_too_large(length, limit))
            return await response.read()
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > limit:
                response.close()  # the rest is not read: the connection is dropped
                raise PermanentProviderError(_too_large(None, limit))
        return bytes(body)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            with contextlib.suppress(RuntimeError):  # the loop it belonged to has ended
                await self._session.close()
        self._session = None


def _too_large(length: int | None, limit: int) -> str:
    size = f"of {length:,} bytes " if length is not None else ""
    return (
        f"response body {size}longer than {limit:,} bytes "
        "(raise the provider's config.maxResponseBytes to accept it)"
    )


def json_object(payload: bytes) -> dict[str, Any]:
    """A response body that must be a JSON object; anything else is a malformed response
    (transient: retried, then the cell's error)."""
    try:
        data = json.loads(payload)
    except ValueError:
        snippet = " ".join(payload.decode("utf-8", "replace").split())[:80]
        raise TransientProviderError(f"malformed response (not JSON): {snippet!r}") from None
    if not isinstance(data, dict):
        raise TransientProviderError("malformed response (not a JSON object)")
    return data


#: How long the preflight waits for a connection: a host that answers later is slow, not
#: absent, and is left to the run's own timeouts.
PREFLIGHT_CONNECT_S = 3.0


async def reachability_problem(url: str, wait: float = PREFLIGHT_CONNECT_S) -> str | None:
    """Why nothing can be sent to ``url``'s host (its name does not resolve, or the
    connection is refused), or None: a slow host, or one behind a proxy, is not judged."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or _proxy_configured():
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    where = f"{host}:{port}"
    try:
        async with asyncio.timeout(wait):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return None
    except socket.gaierror:
        return f"cannot reach {url}: the host name '{host}' does not resolve"
    except ConnectionRefusedError:
        return f"cannot reach {url}: nothing listens at {where} (is the server running?)"
    except OSError as exc:
        return f"cannot reach {url}: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None
