"""Anthropic's Messages API. Ids: ``anthropic:messages:MODEL`` or ``anthropic:MODEL``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config._models import ProviderSpec
from ..core._errors import PermanentProviderError, SuiteError, TransientProviderError
from ..prompts._template import Content
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    ProviderContext,
    parse_provider_config,
    parse_usage,
)
from ._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    BaseUrl,
    JsonHttpClient,
    configured_api_key,
    env_base_url,
)
from ._media import read_parts
from ._pricing import completion_cost, configured_price

__all__ = ["AnthropicConfig", "AnthropicProvider", "create_anthropic_provider"]

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    api_base_url: BaseUrl | None = Field(None, alias="apiBaseUrl")
    api_key: str | None = Field(None, alias="apiKey", repr=False)
    api_key_envar: str | None = Field(None, alias="apiKeyEnvar")
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES, ge=1, alias="maxResponseBytes", repr=False
    )
    cost: float | None = Field(None, ge=0)
    input_cost: float | None = Field(None, ge=0, alias="inputCost")
    output_cost: float | None = Field(None, ge=0, alias="outputCost")
    temperature: float | None = Field(None, ge=0, le=1)  # the API's range
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = None
    stop: list[str] | None = Field(None, alias="stop_sequences")

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_sequence(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)


class AnthropicProvider(BaseProvider):
    accepts_media = True

    def __init__(
        self,
        id: str,
        label: str | None,
        model: str,
        config: AnthropicConfig,
        base_url: str,
        api_key: str | None,
    ) -> None:
        super().__init__(id, label)
        self.model = model
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.price = configured_price(config.cost, config.input_cost, config.output_cost, model)
        headers = {"anthropic-version": API_VERSION, **config.headers}
        if api_key:
            headers["x-api-key"] = api_key
        self.client = JsonHttpClient(self.base_url, headers, config.max_response_bytes)

    async def preflight(self) -> None:
        await self.client.preflight(self.id)

    def identity(self) -> Mapping[str, Any]:
        params = self.config.model_dump(
            include={"temperature", "max_tokens", "top_p", "top_k", "stop", "tools", "tool_choice"},
            exclude_none=True,
        )
        return {
            "id": self.id,
            "model": self.model,
            "base_url": self.base_url,
            "params": params,
            "extra_body": self.config.extra_body,
        }

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        system = "\n\n".join(m.text for m in request.messages if m.role in ("system", "developer"))
        messages = [
            {"role": m.role, "content": anthropic_content(m.content)}
            for m in request.messages
            if m.role in ("user", "assistant")
        ]
        config = self.config
        max_tokens = request.params.get("max_tokens", config.max_tokens)
        if "max_tokens" in config.model_fields_set:
            max_tokens = config.max_tokens
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "messages": messages}
        if system:
            body["system"] = system
        settings = {
            "temperature": config.temperature,
            "top_p": config.top_p,
            "top_k": config.top_k,
            "stop_sequences": config.stop,
            "tools": config.tools,
            "tool_choice": config.tool_choice,
        }
        for name in ("temperature", "top_p", "top_k"):
            if settings[name] is None and name in request.params:
                settings[name] = request.params[name]
        body.update({k: v for k, v in settings.items() if v is not None})
        body.update(config.extra_body)
        return body

    async def complete(self, request: CompletionRequest) -> Completion:
        data = await self.client.post("/v1/messages", self.request_body(request))
        text = _text(data.get("content"))
        usage = parse_usage(data.get("usage"), ("input_tokens",), ("output_tokens",), ())
        stop = data.get("stop_reason")
        model = data.get("model")
        return Completion(
            output=text,
            usage=usage,
            finish_reason=_STOP_REASONS.get(stop, stop) if isinstance(stop, str) else None,
            cost=completion_cost(self.price, usage.prompt_tokens, usage.completion_tokens),
            model=model if isinstance(model, str) and model else self.model,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def anthropic_content(content: Content) -> str | list[dict[str, Any]]:
    """Content parts as the Messages API's blocks: images and PDFs as base64 (or URL)
    sources; Anthropic's own block types pass unchanged."""
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for raw in content:
        part = read_parts((raw,))[0]
        if part.kind == "text":  # Anthropic's own text block keeps its extras (cache_control)
            blocks.append(
                dict(raw) if raw.get("type") == "text" else {"type": "text", "text": part.text}
            )
            continue
        if part.kind in ("audio", "video"):
            raise PermanentProviderError(f"Anthropic's Messages API takes no {part.kind}")
        kind = "image" if part.kind == "image" else "document"
        if part.url:
            blocks.append({"type": kind, "source": {"type": "url", "url": part.url}})
        else:
            source = {"type": "base64", "media_type": part.mime, "data": part.data}
            blocks.append({"type": kind, "source": source})
    return blocks


def _text(blocks: Any) -> str:
    """The text of a Messages API answer's content blocks; a body of another shape is a
    malformed response (TransientProviderError: retried, then the cell's error)."""
    if not isinstance(blocks, list):
        raise TransientProviderError("malformed response: no content list")
    texts = []
    for block in blocks:
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise TransientProviderError("malformed response: a content block with no type")
        if block["type"] == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise TransientProviderError(
                    f"malformed response: a text block's text is {type(text).__name__}, not text"
                )
            texts.append(text)
    return "".join(texts)


def create_anthropic_provider(spec: ProviderSpec, context: ProviderContext) -> AnthropicProvider:
    config = parse_provider_config(AnthropicConfig, spec.config, spec.id, context)
    rest = spec.id.split(":", 1)[1] if ":" in spec.id else ""
    model = rest.removeprefix("messages:")
    api, colon, named = model.partition(":")
    if colon and api in ("completion", "claude-agent-sdk"):
        # promptfoo's other Anthropic APIs; the id would otherwise read as a model name
        raise SuiteError(
            f"provider '{spec.id}': only the Messages API is supported; "
            f"write 'anthropic:messages:{named or 'MODEL'}'",
            context.origin,
        )
    if not model:
        raise SuiteError(
            f"provider '{spec.id}' names no model; write e.g. "
            "'anthropic:messages:claude-3-5-haiku-latest'",
            context.origin,
        )
    base_url = (
        config.api_base_url
        or env_base_url(spec.id, ("ANTHROPIC_BASE_URL",), context.env, context.origin)
        or ANTHROPIC_BASE_URL
    )
    api_key = configured_api_key(
        spec.id,
        config.api_key,
        config.api_key_envar,
        "ANTHROPIC_API_KEY",
        context.env,
        context.origin,
        suite_base_url=config.api_base_url is not None,
    )
    key_var = config.api_key_envar or "ANTHROPIC_API_KEY"
    if not api_key and base_url.rstrip("/") == ANTHROPIC_BASE_URL:
        raise SuiteError(f"provider '{spec.id}' needs an API key: set {key_var}", context.origin)
    return AnthropicProvider(spec.id, spec.label, model, config, base_url, api_key)
