"""OpenAI's Responses API: ``openai:responses:MODEL``. The same endpoint, key and
settings as the chat provider, another request (``input``, ``max_output_tokens``,
``text.format``) and another answer (``output`` items, ``input_tokens``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from ..config._models import ProviderSpec
from ..core._errors import SuiteError, TransientProviderError
from ..prompts._template import Message
from ._base import (
    Completion,
    CompletionRequest,
    ProviderContext,
    parse_provider_config,
    parse_usage,
)
from ._media import read_parts
from ._openai import OpenAIConfig, OpenAIProvider, endpoint
from ._pricing import completion_cost

__all__ = ["ResponsesConfig", "ResponsesProvider", "create_responses_provider"]

#: Request parameters the Responses API takes as they are written.
RESPONSES_PASSTHROUGH = (
    "temperature",
    "top_p",
    "max_output_tokens",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "store",
    "metadata",
    "truncation",
    "previous_response_id",
    "include",
    "user",
    "max_tool_calls",
    "service_tier",
)


class ResponsesConfig(OpenAIConfig):
    max_output_tokens: int | None = Field(None, ge=1)
    instructions: str | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    truncation: str | None = None
    previous_response_id: str | None = None
    include: list[str] | None = None
    max_tool_calls: int | None = Field(None, ge=1)
    service_tier: str | None = None

    def responses_parameters(self) -> dict[str, Any]:
        found = {
            name: getattr(self, name)
            for name in RESPONSES_PASSTHROUGH
            if getattr(self, name) is not None
        }
        # the chat API's names for the same settings
        if "max_output_tokens" not in found:
            tokens = self.max_completion_tokens or self.max_tokens
            if tokens is not None:
                found["max_output_tokens"] = tokens
        if "text" not in found and self.response_format is not None:
            found["text"] = {"format": _text_format(self.response_format)}
        if "reasoning" not in found and self.reasoning_effort is not None:
            found["reasoning"] = {"effort": self.reasoning_effort}
        return found


def _text_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """A chat ``response_format`` as the Responses API's ``text.format`` (whose JSON schema
    is flattened into it)."""
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema")
        if isinstance(schema, Mapping):
            return {"type": "json_schema", **schema}
    return dict(response_format)


def responses_input(message: Message) -> dict[str, Any]:
    """A message as an ``input`` item: content parts in the Responses API's shapes."""
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    content: list[dict[str, Any]] = []
    for part in read_parts(message.content):
        if part.kind == "text":
            content.append({"type": "input_text", "text": part.text})
        elif part.kind == "image":
            url = part.url or f"data:{part.mime};base64,{part.data}"
            content.append({"type": "input_image", "image_url": url})
        elif part.kind == "file":
            item: dict[str, Any] = {"type": "input_file", "filename": part.filename or "file"}
            if part.url:
                item["file_url"] = part.url
            else:
                item["file_data"] = f"data:{part.mime};base64,{part.data}"
            content.append(item)
        else:
            content.append(
                {
                    "type": "input_audio",
                    "input_audio": {"data": part.data, "format": part.mime.split("/")[-1]},
                }
            )
    return {"role": message.role, "content": content}


class ResponsesProvider(OpenAIProvider):
    path = "/responses"

    def __init__(
        self,
        id: str,
        label: str | None,
        model: str,
        config: ResponsesConfig,
        base_url: str,
        api_key: str | None,
    ) -> None:
        super().__init__(id, label, model, config, base_url, api_key)
        self.responses_config = config
        self.params = config.responses_parameters()

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "input": [responses_input(m) for m in request.messages],
        }
        for name, value in request.params.items():
            if name == "max_tokens":
                body["max_output_tokens"] = value
            elif name in RESPONSES_PASSTHROUGH:
                body[name] = value
        body.update(self.params)
        body.update(self.config.extra_body)
        return body

    def json_mode(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "verdict",
                    "schema": dict(schema),
                    "strict": False,
                }
            }
        }

    def parse(self, data: Mapping[str, Any]) -> Completion:
        output = data.get("output")
        if not isinstance(output, list):
            raise TransientProviderError("malformed response: no output list")
        texts: list[str] = []
        calls: list[Any] = []
        for item in output:
            if not isinstance(item, Mapping):
                raise TransientProviderError("malformed response: an output item is no object")
            if item.get("type") == "message":
                for block in item.get("content") or []:
                    if isinstance(block, Mapping) and block.get("type") == "output_text":
                        text = block.get("text")
                        if not isinstance(text, str):
                            raise TransientProviderError(
                                "malformed response: an output_text's text is not text"
                            )
                        texts.append(text)
                    elif isinstance(block, Mapping) and block.get("type") == "refusal":
                        texts.append(str(block.get("refusal", "")))
            elif item.get("type") == "function_call":
                calls.append(dict(item))
        text = "".join(texts)
        if not text and calls:
            text = json.dumps(calls, ensure_ascii=False)
        usage = parse_usage(
            data.get("usage"), ("input_tokens",), ("output_tokens",), ("total_tokens",)
        )
        status = data.get("status")
        finish = "stop" if status == "completed" else None
        details = data.get("incomplete_details")
        if status == "incomplete":
            reason = details.get("reason") if isinstance(details, Mapping) else None
            finish = "length" if reason == "max_output_tokens" else str(reason or "incomplete")
        if calls and not texts:
            finish = "tool_calls"
        model = data.get("model")
        return Completion(
            output=text,
            usage=usage,
            finish_reason=finish,
            cost=completion_cost(self.price, usage.prompt_tokens, usage.completion_tokens),
            model=model if isinstance(model, str) and model else self.model,
        )


def create_responses_provider(spec: ProviderSpec, context: ProviderContext) -> ResponsesProvider:
    config = parse_provider_config(ResponsesConfig, spec.config, spec.id, context)
    model = spec.id.split(":", 2)[2] if spec.id.count(":") >= 2 else ""
    if not model:
        raise SuiteError(
            f"provider '{spec.id}' names no model; write e.g. 'openai:responses:gpt-4.1-mini'",
            context.origin,
        )
    base_url, api_key = endpoint(spec, config, context, ollama=False)
    return ResponsesProvider(spec.id, spec.label, model, config, base_url, api_key)
