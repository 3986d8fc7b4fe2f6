"""Google's Gemini models through the generateContent protocol: ``google:MODEL``, the
Gemini API, key in ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY`` (Vertex AI, the same protocol
elsewhere, is in ``_google_vertex``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..config._models import ProviderSpec
from ..core._errors import (
    PermanentProviderError,
    SuiteError,
    TransientProviderError,
)
from ..prompts._template import Message
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    DeclaredTools,
    ProviderContext,
    parse_provider_config,
    parse_usage,
)
from ._http import DEFAULT_MAX_RESPONSE_BYTES, ApiHost, BaseUrl, JsonHttpClient, configured_api_key
from ._media import read_parts
from ._pricing import completion_cost, configured_price

__all__ = [
    "GoogleConfig",
    "GoogleProvider",
    "TokenSource",
    "create_google_provider",
    "parse_config",
]

GEMINI_HOST = "generativelanguage.googleapis.com"


class TokenSource(Protocol):
    """Where a request's bearer token comes from (Vertex's access tokens)."""

    async def get(self) -> str: ...


_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
}

#: config keys that are generationConfig settings, in the API's names
_GENERATION = {
    "temperature": "temperature",
    "max_output_tokens": "maxOutputTokens",
    "top_p": "topP",
    "top_k": "topK",
    "stop_sequences": "stopSequences",
    "response_mime_type": "responseMimeType",
    "response_schema": "responseSchema",
    "candidate_count": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "thinking_config": "thinkingConfig",
}


def _names(*names: str) -> Any:
    return AliasChoices(*names)


class GoogleConfig(BaseModel):
    """``config`` of ``google:`` and ``vertex:`` (promptfoo's names, camelCase or snake)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    api_key: str | None = Field(None, alias="apiKey", repr=False)
    api_key_envar: str | None = Field(None, alias="apiKeyEnvar")
    api_host: ApiHost | None = Field(None, alias="apiHost")
    api_base_url: BaseUrl | None = Field(None, alias="apiBaseUrl")
    api_version: str | None = Field(None, alias="apiVersion")
    project_id: str | None = Field(None, validation_alias=_names("projectId", "project_id"))
    region: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES, ge=1, alias="maxResponseBytes", repr=False
    )
    cost: float | None = Field(None, ge=0)
    input_cost: float | None = Field(None, ge=0, alias="inputCost")
    output_cost: float | None = Field(None, ge=0, alias="outputCost")
    temperature: float | None = Field(None, ge=0)
    max_output_tokens: int | None = Field(
        None, ge=1, validation_alias=_names("maxOutputTokens", "max_output_tokens", "max_tokens")
    )
    top_p: float | None = Field(None, ge=0, le=1, validation_alias=_names("topP", "top_p"))
    top_k: int | None = Field(None, validation_alias=_names("topK", "top_k"))
    stop_sequences: list[str] | None = Field(
        None, validation_alias=_names("stopSequences", "stop_sequences", "stop")
    )
    response_mime_type: str | None = Field(
        None, validation_alias=_names("responseMimeType", "response_mime_type")
    )
    response_schema: dict[str, Any] | None = Field(
        None, validation_alias=_names("responseSchema", "response_schema")
    )
    candidate_count: int | None = Field(None, validation_alias=_names("candidateCount"))
    seed: int | None = None
    presence_penalty: float | None = Field(None, validation_alias=_names("presencePenalty"))
    frequency_penalty: float | None = Field(None, validation_alias=_names("frequencyPenalty"))
    thinking_config: dict[str, Any] | None = Field(
        None, validation_alias=_names("thinkingConfig", "thinking_config")
    )
    generation_config: dict[str, Any] = Field(
        default_factory=dict, validation_alias=_names("generationConfig", "generation_config")
    )
    safety_settings: list[dict[str, Any]] | None = Field(
        None, validation_alias=_names("safetySettings", "safety_settings")
    )
    system_instruction: str | dict[str, Any] | None = Field(
        None, validation_alias=_names("systemInstruction", "system_instruction")
    )
    tools: list[dict[str, Any]] | dict[str, Any] | None = None
    tool_config: dict[str, Any] | None = Field(
        None, validation_alias=_names("toolConfig", "tool_config")
    )

    def generation(self) -> dict[str, Any]:
        found = {api: getattr(self, name) for name, api in _GENERATION.items()}
        return {**{k: v for k, v in found.items() if v is not None}, **self.generation_config}


def _part(part: Any) -> dict[str, Any]:
    if part.kind == "text":
        return {"text": part.text}
    if part.url:
        return {"fileData": {"fileUri": part.url, "mimeType": part.mime or _mime_of(part.url)}}
    return {"inlineData": {"mimeType": part.mime, "data": part.data}}


def _mime_of(url: str) -> str:
    from ..config._media import MEDIA_TYPES

    suffix = "." + url.rsplit(".", 1)[-1].lower() if "." in url.rsplit("/", 1)[-1] else ""
    return MEDIA_TYPES.get(suffix, "application/octet-stream")


def google_contents(messages: tuple[Message, ...]) -> tuple[list[dict[str, Any]], str]:
    """The messages as ``contents`` (roles user and model), and the system text."""
    contents: list[dict[str, Any]] = []
    system = []
    for message in messages:
        if message.role in ("system", "developer"):
            system.append(message.text)
            continue
        role = "model" if message.role == "assistant" else "user"
        contents.append({"role": role, "parts": [_part(p) for p in read_parts(message.content)]})
    return contents, "\n\n".join(system)


class GoogleProvider(BaseProvider):
    accepts_media = True

    def __init__(
        self,
        id: str,
        label: str | None,
        model: str,
        config: GoogleConfig,
        base_url: str,
        path: str,
        headers: Mapping[str, str],
        token: TokenSource | None = None,
    ) -> None:
        super().__init__(id, label)
        self.model = model
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.token = token
        self.price = configured_price(config.cost, config.input_cost, config.output_cost, model)
        self.client = JsonHttpClient(
            self.base_url, {**headers, **config.headers}, config.max_response_bytes
        )

    def declared_tools(self) -> DeclaredTools | None:
        tools = self.config.tools
        if tools is None:
            return None
        return DeclaredTools("google", [tools] if isinstance(tools, dict) else tools)

    def identity(self) -> Mapping[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "base_url": self.base_url,
            "path": self.path,
            "generation": self.config.generation(),
            "safety": self.config.safety_settings,
            "system": self.config.system_instruction,
            "tools": self.config.tools,
        }

    async def preflight(self) -> None:
        await self.client.preflight(self.id)

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        contents, system = google_contents(request.messages)
        configured = self.config.system_instruction
        body: dict[str, Any] = {"contents": contents}
        if isinstance(configured, dict):  # the API's own {parts: [...]}
            parts = list(configured.get("parts") or [])
            body["systemInstruction"] = {"parts": [*parts, *([{"text": system}] if system else [])]}
        else:
            system = "\n\n".join(s for s in (configured, system) if s)
            if system:
                body["systemInstruction"] = {"parts": [{"text": system}]}
        generation = self.config.generation()
        if "max_tokens" in request.params and "maxOutputTokens" not in generation:
            generation["maxOutputTokens"] = request.params["max_tokens"]
        for name in ("temperature", "top_p"):
            api = _GENERATION[name]
            if name in request.params and api not in generation:
                generation[api] = request.params[name]
        if generation:
            body["generationConfig"] = generation
        if self.config.safety_settings is not None:
            body["safetySettings"] = self.config.safety_settings
        if self.config.tools is not None:
            tools = self.config.tools
            body["tools"] = [tools] if isinstance(tools, dict) else tools
        if self.config.tool_config is not None:
            body["toolConfig"] = self.config.tool_config
        return body

    async def complete(self, request: CompletionRequest) -> Completion:
        headers = None
        if self.token is not None:
            headers = {"Authorization": f"Bearer {await self.token.get()}"}
        data = await self.client.post(self.path, self.request_body(request), headers)
        return self.parse(data)

    def parse(self, data: Mapping[str, Any]) -> Completion:
        candidates = data.get("candidates")
        if not candidates:
            feedback = data.get("promptFeedback")
            reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
            if reason:
                raise PermanentProviderError(f"the prompt was blocked ({reason})")
            raise TransientProviderError("malformed response: no candidates")
        candidate = candidates[0] if isinstance(candidates, list) else None
        if not isinstance(candidate, Mapping):
            raise TransientProviderError("malformed response: candidates[0] is no object")
        content = candidate.get("content") or {}
        parts = content.get("parts") if isinstance(content, Mapping) else None
        texts = []
        for part in parts or []:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                if not part.get("thought"):  # a thinking model's reasoning is not its answer
                    texts.append(part["text"])
            elif isinstance(part, Mapping) and "functionCall" in part:
                import json

                texts.append(json.dumps(part["functionCall"], ensure_ascii=False))
        usage = parse_usage(
            data.get("usageMetadata"),
            ("promptTokenCount",),
            ("candidatesTokenCount",),
            ("totalTokenCount",),
        )
        finish = candidate.get("finishReason")
        model = data.get("modelVersion")
        return Completion(
            output="".join(texts),
            usage=usage,
            finish_reason=_FINISH.get(finish, finish.lower()) if isinstance(finish, str) else None,
            cost=completion_cost(self.price, usage.prompt_tokens, usage.completion_tokens),
            model=model if isinstance(model, str) and model else self.model,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def _model(spec: ProviderSpec, prefix: str, context: ProviderContext) -> str:
    rest = spec.id.split(":", 1)[1] if ":" in spec.id else ""
    api, colon, named = rest.partition(":")
    if colon and api in ("embedding", "embeddings"):
        raise SuiteError(
            f"provider '{spec.id}' is an embedding model: it serves the 'similar' assertion, "
            f"not prompts; give a chat model such as '{prefix}:gemini-2.5-flash'",
            context.origin,
        )
    if colon and api in ("chat", "live"):
        rest = named
    if not rest:
        raise SuiteError(
            f"provider '{spec.id}' names no model; write e.g. '{prefix}:gemini-2.5-flash'",
            context.origin,
        )
    if prefix == "vertex" and rest.startswith(("claude", "llama", "mistral")):
        raise SuiteError(
            f"provider '{spec.id}': only Gemini models are supported on Vertex; call "
            "Claude through 'anthropic:' or 'bedrock:'",
            context.origin,
        )
    return rest


def parse_config(spec: ProviderSpec, context: ProviderContext) -> GoogleConfig:
    """The config, a ``file://`` system instruction read from its file."""
    config = parse_provider_config(GoogleConfig, spec.config, spec.id, context)
    instruction = config.system_instruction
    if isinstance(instruction, str) and instruction.startswith("file://"):
        from ..config._reading import read_text

        text = read_text(context.base_dir / instruction.removeprefix("file://"), context.origin)
        config = config.model_copy(update={"system_instruction": text.strip()})
    return config


def create_google_provider(spec: ProviderSpec, context: ProviderContext) -> GoogleProvider:
    config = parse_config(spec, context)
    model = _model(spec, "google", context)
    env = context.env
    default_var = "GEMINI_API_KEY" if env.get("GEMINI_API_KEY") else "GOOGLE_API_KEY"
    api_key = configured_api_key(
        spec.id,
        config.api_key,
        config.api_key_envar,
        default_var,
        env,
        context.origin,
        suite_base_url=bool(config.api_base_url or config.api_host),
    )
    host = config.api_host or env.get("GOOGLE_API_HOST") or GEMINI_HOST
    base_url = config.api_base_url or env.get("GOOGLE_API_BASE_URL") or f"https://{host}"
    if not api_key and host == GEMINI_HOST and not config.api_base_url:
        raise SuiteError(
            f"provider '{spec.id}' needs an API key: set GOOGLE_API_KEY (or GEMINI_API_KEY)",
            context.origin,
        )
    version = config.api_version or "v1beta"
    path = f"/{version}/models/{model}:generateContent"
    headers = {"x-goog-api-key": api_key} if api_key else {}
    return GoogleProvider(spec.id, spec.label, model, config, base_url, path, headers)
