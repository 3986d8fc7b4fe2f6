"""Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, Ollama, llama.cpp server,
LM Studio... Ids: ``openai:chat:MODEL`` or ``openai:MODEL``; ``ollama:chat:MODEL`` is the
same provider pointed at a local Ollama."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..config._models import ProviderSpec
from ..core._errors import SuiteError, TransientProviderError
from ..prompts._template import Message
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    DeclaredTools,
    ProviderContext,
    parse_cost,
    parse_provider_config,
    parse_usage,
)
from ._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    ApiHost,
    BaseUrl,
    JsonHttpClient,
    configured_api_key,
    env_base_url,
)
from ._media import data_url, extension_of, read_parts
from ._pricing import completion_cost, configured_price

__all__ = ["OpenAIConfig", "OpenAIProvider", "create_ollama_provider", "create_openai_provider"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"

#: Request parameters passed through to the API unchanged when set.
PASSTHROUGH = (
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "stop",
    "response_format",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "user",
    "reasoning_effort",
    "parallel_tool_calls",
)


class OpenAIConfig(BaseModel):
    """``config`` of an OpenAI-compatible provider (promptfoo's names)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    api_base_url: BaseUrl | None = Field(None, alias="apiBaseUrl")
    api_host: ApiHost | None = Field(None, alias="apiHost")
    api_key: str | None = Field(None, alias="apiKey", repr=False)
    api_key_envar: str | None = Field(None, alias="apiKeyEnvar")
    organization: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES, ge=1, alias="maxResponseBytes", repr=False
    )
    cost: float | None = Field(None, ge=0)
    input_cost: float | None = Field(None, ge=0, alias="inputCost")
    output_cost: float | None = Field(None, ge=0, alias="outputCost")
    # promptfoo calls it passthrough
    extra_body: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("extra_body", "passthrough")
    )
    temperature: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, ge=0, le=1)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    # the API's older form of tools, which promptfoo's configs still use
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None

    def parameters(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in PASSTHROUGH if getattr(self, name) is not None
        }


class OpenAIProvider(BaseProvider):
    accepts_media = True
    #: the path of the chat-completions call under the base URL
    path = "/chat/completions"

    def __init__(
        self,
        id: str,
        label: str | None,
        model: str,
        config: OpenAIConfig,
        base_url: str,
        api_key: str | None,
    ) -> None:
        super().__init__(id, label)
        self.model = model
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.params = config.parameters()
        self.price = configured_price(config.cost, config.input_cost, config.output_cost, model)
        headers = dict(config.headers)
        if api_key:
            headers.update(self.auth_headers(api_key))
        if config.organization:
            headers["OpenAI-Organization"] = config.organization
        self.client = JsonHttpClient(self.base_url, headers, config.max_response_bytes)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    async def preflight(self) -> None:
        """Refuse a server that cannot be reached at all before any cell runs."""
        await self.client.preflight(self.id)

    def declared_tools(self) -> DeclaredTools | None:
        if self.config.tools is None and self.config.functions is None:
            return None
        return DeclaredTools("openai", self.config.tools, self.config.functions)

    def identity(self) -> Mapping[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "base_url": self.base_url,
            "params": self.params,
            "extra_body": self.config.extra_body,
        }

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [openai_message(m) for m in request.messages],
        }
        for name, value in request.params.items():
            if name in PASSTHROUGH:
                body[name] = value
        body.update(self.params)
        body.update(self.config.extra_body)
        return body

    def json_mode(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Request parameters for a JSON answer held to ``schema`` (the schema is in the
        prompt too). OpenAI's own API takes it as a ``json_schema`` response format; other
        servers get JSON mode with the schema beside it, which llama.cpp's servers turn
        into a grammar and the others (vLLM, Ollama...) read as plain JSON mode."""
        if _is_openai_api(self.base_url):
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "verdict", "schema": dict(schema), "strict": False},
                }
            }
        return {"response_format": {"type": "json_object", "schema": dict(schema)}}

    async def complete(self, request: CompletionRequest) -> Completion:
        data = await self.client.post(self.path, self.request_body(request))
        return self.parse(data)

    def parse(self, data: Mapping[str, Any]) -> Completion:
        """The completion a chat-completions body holds; a body of another shape is a
        malformed response (TransientProviderError: retried, then the cell's error)."""
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        message = choice.get("message") if isinstance(choice, Mapping) else None
        if not isinstance(choice, Mapping) or not isinstance(message, Mapping):
            raise TransientProviderError("malformed response: no choices[0].message object")
        content = message.get("content")
        if content is None and message.get("tool_calls"):
            content = json.dumps(message["tool_calls"], ensure_ascii=False)
        elif content is None and message.get("function_call"):
            content = json.dumps(message["function_call"], ensure_ascii=False)
        if content is not None and not isinstance(content, str):
            raise TransientProviderError(
                f"malformed response: choices[0].message.content is "
                f"{type(content).__name__}, not text"
            )
        usage = parse_usage(
            data.get("usage"), ("prompt_tokens",), ("completion_tokens",), ("total_tokens",)
        )
        finish = choice.get("finish_reason")
        model = data.get("model")
        # a gateway's own figure (OpenRouter's usage.cost) goes before the price table
        raw_usage = data.get("usage")
        reported = parse_cost(raw_usage.get("cost")) if isinstance(raw_usage, Mapping) else None
        if self.config.cost is not None or self.config.input_cost is not None:
            reported = None  # a configured price is the user's word
        return Completion(
            output=content or "",  # no content and no tool calls: an empty answer
            usage=usage,
            finish_reason=finish if isinstance(finish, str) else None,
            cost=reported
            if reported is not None
            else completion_cost(self.price, usage.prompt_tokens, usage.completion_tokens),
            model=model if isinstance(model, str) and model else self.model,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def openai_message(message: Message) -> dict[str, Any]:
    """A message as the chat-completions API takes it: parts written in another API's
    shape (Anthropic's, Bedrock's) in OpenAI's, media from file:// vars as data: URLs, an
    audio part's data as bare base64 with its format."""
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    return {"role": message.role, "content": [openai_part(p) for p in message.content]}


def openai_part(raw: Mapping[str, Any]) -> dict[str, Any]:
    part = read_parts((raw,))[0]
    if part.kind == "text":
        return dict(raw) if raw.get("type") == "text" else {"type": "text", "text": part.text}
    if part.kind == "audio":
        return {
            "type": "input_audio",
            "input_audio": {"data": part.data, "format": extension_of(part.mime)},
        }
    url = part.url or data_url(part.mime, part.data)
    if part.kind == "image":
        detail = raw.get("image_url", {}).get("detail") if raw.get("type") == "image_url" else None
        image: dict[str, Any] = {"url": url}
        if isinstance(detail, str):
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    file: dict[str, Any] = {"filename": part.filename or "file"}
    if part.url:
        file["file_url"] = url
    else:
        file["file_data"] = url
    return {"type": "file", "file": file}


def _model_name(provider_id: str) -> str:
    # openai:chat:MODEL, openai:MODEL, ollama:chat:MODEL, ollama:MODEL
    rest = provider_id.split(":", 1)[1] if ":" in provider_id else ""
    if rest.startswith("chat:"):
        rest = rest[len("chat:") :]
    return rest


# promptfoo's other OpenAI and Ollama APIs: their ids would otherwise read as model names
# ('completion:gpt-3.5-turbo-instruct'), and every call fail with an unknown model.
_OTHER_APIS = {
    "completion": "the text completions API",
    "responses": "the Responses API",
    "assistant": "the Assistants API",
    "realtime": "the Realtime API",
    "image": "image generation",
    "moderation": "the moderation API",
    "embedding": "embeddings",
    "embeddings": "embeddings",
}


def _other_api_problem(provider_id: str) -> str | None:
    prefix, _, rest = provider_id.partition(":")
    api, colon, model = rest.partition(":")
    if not colon or api not in _OTHER_APIS or not model:
        return None
    if api.startswith("embedding"):
        return (
            f"provider '{provider_id}' is an embedding model: it serves the 'similar' "
            f"assertion, not prompts; give a chat model such as '{prefix}:chat:MODEL'"
        )
    return (
        f"provider '{provider_id}': {_OTHER_APIS[api]} is not supported; "
        f"call a chat model as '{prefix}:chat:{model}'"
    )


def _create(spec: ProviderSpec, context: ProviderContext, *, ollama: bool) -> OpenAIProvider:
    if spec.id.split(":")[1:2] == ["responses"] and not ollama:
        from ._openai_responses import create_responses_provider

        return create_responses_provider(spec, context)
    config = parse_provider_config(OpenAIConfig, spec.config, spec.id, context)
    if problem := _other_api_problem(spec.id):
        raise SuiteError(problem, context.origin)
    model = _model_name(spec.id)
    if not model:
        raise SuiteError(
            f"provider '{spec.id}' names no model; write e.g. '{spec.id.split(':')[0]}:chat:MODEL'",
            context.origin,
        )
    base_url, api_key = endpoint(spec, config, context, ollama=ollama)
    return OpenAIProvider(spec.id, spec.label, model, config, base_url, api_key)


def endpoint(
    spec: ProviderSpec, config: OpenAIConfig, context: ProviderContext, *, ollama: bool
) -> tuple[str, str | None]:
    """The base URL and API key an OpenAI-compatible provider (chat or embeddings) calls:
    from its config, else the environment, else the default server; refuses settings no
    call could use (an environment URL that is none, OpenAI's API without a key)."""
    env_base: tuple[str, ...]
    if ollama:
        default_base, env_base, env_suffix = OLLAMA_BASE_URL, ("OLLAMA_BASE_URL",), "/v1"
    else:
        default_base, env_suffix = OPENAI_BASE_URL, ""
        env_base = ("OPENAI_BASE_URL", "OPENAI_API_BASE_URL", "OPENAI_API_BASE")
    if config.api_base_url:
        base_url = config.api_base_url
    elif config.api_host:
        base_url = f"https://{config.api_host}/v1"
    elif from_env := env_base_url(spec.id, env_base, context.env, context.origin):
        # OLLAMA_BASE_URL names the server (http://host:11434); its OpenAI API is under /v1
        base_url = f"{from_env.rstrip('/')}{env_suffix}"
    else:
        base_url = default_base
    api_key = configured_api_key(
        spec.id,
        config.api_key,
        config.api_key_envar,
        "OPENAI_API_KEY",
        context.env,
        context.origin,
        suite_base_url=bool(config.api_base_url or config.api_host),
    )
    key_var = config.api_key_envar or "OPENAI_API_KEY"
    if not api_key and not ollama and base_url.rstrip("/") == OPENAI_BASE_URL:
        raise SuiteError(
            f"provider '{spec.id}' needs an API key: set {key_var} "
            f"(or point config.apiBaseUrl at a compatible server)",
            context.origin,
        )
    return base_url, api_key


def create_openai_provider(spec: ProviderSpec, context: ProviderContext) -> OpenAIProvider:
    return _create(spec, context, ollama=False)


def create_ollama_provider(spec: ProviderSpec, context: ProviderContext) -> OpenAIProvider:
    return _create(spec, context, ollama=True)


def _is_openai_api(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host == "api.openai.com" or host.endswith(".openai.azure.com")
