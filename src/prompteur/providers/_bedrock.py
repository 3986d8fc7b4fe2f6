"""Amazon Bedrock's Converse API: ``bedrock:MODEL`` (``bedrock:converse:MODEL`` too), one
protocol for every model family Bedrock hosts.

Requests are signed with AWS Signature Version 4 by botocore (``pip install
'prompteur[bedrock]'``), with the credentials botocore finds (environment, profile, role);
a Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``) needs no signing and no botocore."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..config._models import ProviderSpec
from ..core._errors import MissingDependencyError, SuiteError, TransientProviderError
from ..prompts._template import Message
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    ProviderContext,
    parse_provider_config,
    parse_usage,
)
from ._http import DEFAULT_MAX_RESPONSE_BYTES, BaseUrl, JsonHttpClient, _json_body, json_object
from ._media import MediaPart, extension_of, read_parts
from ._pricing import completion_cost, configured_price

__all__ = ["BedrockConfig", "BedrockProvider", "converse_messages", "create_bedrock_provider"]

_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


class BedrockConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    region: str | None = None
    api_base_url: BaseUrl | None = Field(
        None, validation_alias=AliasChoices("apiBaseUrl", "endpoint")
    )
    api_key: str | None = Field(None, alias="apiKey", repr=False)
    access_key_id: str | None = Field(None, alias="accessKeyId", repr=False)
    secret_access_key: str | None = Field(None, alias="secretAccessKey", repr=False)
    session_token: str | None = Field(None, alias="sessionToken", repr=False)
    profile: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES, ge=1, alias="maxResponseBytes", repr=False
    )
    cost: float | None = Field(None, ge=0)
    input_cost: float | None = Field(None, ge=0, alias="inputCost")
    output_cost: float | None = Field(None, ge=0, alias="outputCost")
    temperature: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(
        None, ge=1, validation_alias=AliasChoices("max_tokens", "maxTokens", "max_new_tokens")
    )
    top_p: float | None = Field(None, ge=0, le=1, validation_alias=AliasChoices("top_p", "topP"))
    stop: list[str] | None = Field(
        None, validation_alias=AliasChoices("stop", "stopSequences", "stop_sequences")
    )
    additional_model_request_fields: dict[str, Any] | None = Field(
        None, alias="additionalModelRequestFields"
    )
    tool_config: dict[str, Any] | None = Field(None, alias="toolConfig")
    guardrail_config: dict[str, Any] | None = Field(None, alias="guardrailConfig")
    # extended thinking (Claude): sent in additionalModelRequestFields
    thinking: dict[str, Any] | None = None
    show_thinking: bool = Field(False, alias="showThinking")
    performance_config: dict[str, Any] | None = Field(None, alias="performanceConfig")

    def inference(self) -> dict[str, Any]:
        found = {
            "maxTokens": self.max_tokens,
            "temperature": self.temperature,
            "topP": self.top_p,
            "stopSequences": self.stop,
        }
        return {k: v for k, v in found.items() if v is not None}


def _block(part: MediaPart) -> dict[str, Any]:
    if part.kind == "text":
        return {"text": part.text}
    if part.url:
        raise SuiteError("Bedrock takes media inline only: name the file as a file:// var")
    source = {"bytes": part.data}
    if part.kind == "image":
        return {"image": {"format": extension_of(part.mime), "source": source}}
    if part.kind == "file":
        name = (part.filename or "document").rsplit(".", 1)[0] or "document"
        return {"document": {"format": extension_of(part.mime), "name": name, "source": source}}
    if part.kind == "audio":
        raise SuiteError("Bedrock's Converse API takes no audio")
    return {"video": {"format": extension_of(part.mime), "source": source}}


def converse_messages(messages: tuple[Message, ...]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The messages as Converse's ``messages`` and ``system`` blocks."""
    turns: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            system.append({"text": message.text})
            continue
        try:
            blocks = [_block(p) for p in read_parts(message.content)]
        except SuiteError as exc:
            from ..core._errors import PermanentProviderError

            raise PermanentProviderError(exc.message) from None
        turns.append(
            {"role": "assistant" if message.role == "assistant" else "user", "content": blocks}
        )
    return turns, system


class BedrockProvider(BaseProvider):
    accepts_media = True

    def __init__(
        self,
        id: str,
        label: str | None,
        model: str,
        config: BedrockConfig,
        region: str,
        base_url: str,
        signer: Any,
        bearer: str | None,
    ) -> None:
        super().__init__(id, label)
        self.model = model
        self.config = config
        self.region = region
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/model/{quote(model, safe='')}/converse"
        self.signer = signer
        headers = dict(config.headers)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        self.client = JsonHttpClient(self.base_url, headers, config.max_response_bytes)
        # Bedrock's ids carry a vendor (and a region's) prefix: us.anthropic.claude-...
        self.price = configured_price(
            config.cost, config.input_cost, config.output_cost, model.split(".")[-1]
        )

    def identity(self) -> Mapping[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "url": self.url,
            "inference": self.config.inference(),
            "fields": self.config.additional_model_request_fields,
            "thinking": [self.config.thinking, self.config.show_thinking],
            "tools": self.config.tool_config,
            "guardrail": self.config.guardrail_config,
        }

    async def preflight(self) -> None:
        await self.client.preflight(self.id)

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        messages, system = converse_messages(request.messages)
        body: dict[str, Any] = {"messages": messages}
        if system:
            body["system"] = system
        inference = self.config.inference()
        for name, api in (("max_tokens", "maxTokens"), ("temperature", "temperature")):
            if name in request.params and api not in inference:
                inference[api] = request.params[name]
        if inference:
            body["inferenceConfig"] = inference
        fields = dict(self.config.additional_model_request_fields or {})
        if self.config.thinking is not None:
            fields.setdefault("thinking", self.config.thinking)
        for key, value in (
            ("additionalModelRequestFields", fields or None),
            ("performanceConfig", self.config.performance_config),
            ("toolConfig", self.config.tool_config),
            ("guardrailConfig", self.config.guardrail_config),
        ):
            if value is not None:
                body[key] = value
        return body

    async def complete(self, request: CompletionRequest) -> Completion:
        data = _json_body(self.request_body(request))
        headers = self.signer.sign(self.url, data) if self.signer is not None else None
        # sent as signed: the model id's colons stay %3A
        _, _, payload = await self.client.send("POST", self.url, data, headers, encoded=True)
        return self.parse(json_object(payload))

    def parse(self, data: Mapping[str, Any]) -> Completion:
        output = data.get("output")
        message = output.get("message") if isinstance(output, Mapping) else None
        blocks = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(blocks, list):
            raise TransientProviderError("malformed response: no output.message.content list")
        texts = []
        for block in blocks:
            if isinstance(block, Mapping) and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif isinstance(block, Mapping) and "reasoningContent" in block:
                reasoning = block["reasoningContent"].get("reasoningText") or {}
                if self.config.show_thinking and isinstance(reasoning.get("text"), str):
                    texts.append(f"Thinking: {reasoning['text']}\n\n")
            elif isinstance(block, Mapping) and "toolUse" in block:
                texts.append(json.dumps(block["toolUse"], ensure_ascii=False))
        usage = parse_usage(
            data.get("usage"), ("inputTokens",), ("outputTokens",), ("totalTokens",)
        )
        stop = data.get("stopReason")
        return Completion(
            output="".join(texts),
            usage=usage,
            finish_reason=_STOP.get(stop, stop) if isinstance(stop, str) else None,
            cost=completion_cost(self.price, usage.prompt_tokens, usage.completion_tokens),
            model=self.model,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class SigV4Signer:
    """Signs each request with botocore's SigV4 for the ``bedrock`` service."""

    def __init__(self, credentials: Any, region: str) -> None:
        from botocore.auth import SigV4Auth

        self.auth = SigV4Auth(credentials, "bedrock", region)

    def sign(self, url: str, body: bytes) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest

        request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
        self.auth.add_auth(request)
        return dict(request.headers.items())


def _signer(
    spec: ProviderSpec, config: BedrockConfig, region: str, context: ProviderContext
) -> Any:
    try:
        import botocore.session
        from botocore.credentials import Credentials
    except ImportError:
        raise MissingDependencyError(
            f"provider '{spec.id}' signs its requests with botocore: pip install "
            "'prompteur[bedrock]' (or set AWS_BEARER_TOKEN_BEDROCK to a Bedrock API key)"
        ) from None
    if config.access_key_id and config.secret_access_key:
        credentials = Credentials(
            config.access_key_id, config.secret_access_key, config.session_token
        )
    else:
        session = botocore.session.Session(profile=config.profile)
        credentials = session.get_credentials()
        if credentials is None:
            raise SuiteError(
                f"provider '{spec.id}' found no AWS credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, a profile (config.profile), or AWS_BEARER_TOKEN_BEDROCK",
                context.origin,
            )
    return SigV4Signer(credentials, region)


_OTHER_APIS = ("embedding", "embeddings", "kb", "agents", "nova-sonic")


def create_bedrock_provider(spec: ProviderSpec, context: ProviderContext) -> BedrockProvider:
    config = parse_provider_config(BedrockConfig, spec.config, spec.id, context)
    rest = spec.id.split(":", 1)[1] if ":" in spec.id else ""
    api, colon, named = rest.partition(":")
    if colon and api in _OTHER_APIS:
        raise SuiteError(
            f"provider '{spec.id}': only Bedrock's Converse API (chat models) is supported",
            context.origin,
        )
    if colon and api in ("converse", "chat", "completion"):
        rest = named
    if not rest:
        raise SuiteError(
            f"provider '{spec.id}' names no model; write e.g. "
            "'bedrock:anthropic.claude-3-5-haiku-20241022-v1:0'",
            context.origin,
        )
    env = context.env
    region = (
        config.region
        or env.get("AWS_BEDROCK_REGION")
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    base_url = config.api_base_url or f"https://bedrock-runtime.{region}.amazonaws.com"
    bearer = config.api_key or env.get("AWS_BEARER_TOKEN_BEDROCK")
    signer = None if bearer else _signer(spec, config, region, context)
    return BedrockProvider(spec.id, spec.label, rest, config, region, base_url, signer, bearer)
