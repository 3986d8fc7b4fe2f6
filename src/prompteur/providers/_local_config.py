"""The ``local`` provider's ``config``: llama.cpp's generation settings, checked when the
suite is planned. llama.cpp passes nothing on to anything else, so a setting it would
ignore or fail on is refused here rather than in every cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["GENERATION_KEYS", "LocalConfig"]

#: The settings a generation takes (from config, or from the prompt's own parameters).
GENERATION_KEYS = frozenset(
    {
        "temperature",
        "max_tokens",
        "top_p",
        "top_k",
        "min_p",
        "repeat_penalty",
        "seed",
        "stop",
        "response_format",
    }
)


#: what the embedded model generates at most unless the suite says otherwise
DEFAULT_MAX_TOKENS = 128


class LocalConfig(BaseModel):
    """Generation settings of the embedded model. Defaults favour reproducible evaluations."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    temperature: float = Field(0.0, ge=0)
    # a 135M model on 2 cores may loop until the limit: 256 tokens took 167 s on one cell
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = None
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = None
    seed: int = 0
    stop: str | list[str] | None = None
    response_format: dict[str, Any] | None = Field(
        None, description='{"type": "json_object", "schema": {...}}: output held to JSON'
    )
    n_ctx: int = Field(2048, ge=128, alias="contextLength")
    n_threads: int | None = Field(
        None, ge=1, le=1024, alias="threads", description="threads of each worker process"
    )
    workers: int | None = Field(
        None, ge=1, le=64, description="model processes answering in parallel (default 2)"
    )

    @field_validator("response_format")
    @classmethod
    def _llama_response_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return llama_response_format(value)

    @model_validator(mode="after")
    def _room_for_the_prompt(self) -> LocalConfig:
        # llama.cpp would silently cut max_tokens down to what the context leaves
        if self.max_tokens >= self.n_ctx:
            raise PydanticCustomError(
                "max_tokens",
                "max_tokens ({max_tokens}) leaves no room for the prompt in a context of "
                "{n_ctx} tokens: raise contextLength or lower max_tokens",
                {"max_tokens": self.max_tokens, "n_ctx": self.n_ctx},
            )
        return self

    def generation(self) -> dict[str, Any]:
        return self.model_dump(include=set(GENERATION_KEYS), exclude_none=True)


def llama_response_format(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A response format as llama.cpp reads it: ``{"type": "json_object"[, "schema"]}``.

    OpenAI's ``{"type": "json_schema", "json_schema": {"schema": ...}}`` is translated (llama.cpp
    would silently ignore it), ``{"type": "text"}`` is no constraint, anything else is refused."""
    if value is None:
        return None
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        schema = value.get("schema")
    elif kind == "json_schema":
        inner = value.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        if schema is None:
            raise _format_error("a json_schema response format needs json_schema.schema")
    else:
        raise _format_error(
            f"type {kind!r} is not one of 'json_object', 'json_schema', 'text'"
            if kind is not None
            else "it needs a type: 'json_object' (optionally with a schema) or 'json_schema'"
        )
    if schema is None:
        return {"type": "json_object"}
    if not isinstance(schema, Mapping):
        raise _format_error("its schema must be a JSON Schema object")
    _check_schema(schema)
    return {"type": "json_object", "schema": dict(schema)}


def _check_schema(schema: Mapping[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        problem = f"its schema is not valid JSON Schema: {exc.message}"
        raise _format_error(f"{problem} (at {where})" if where else problem) from None


def _format_error(problem: str) -> PydanticCustomError:
    return PydanticCustomError("response_format", "{problem}", {"problem": problem})
