"""The provider protocol: one async call from a rendered prompt to a completion."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from ..core._errors import Location, SuiteError, did_you_mean
from ..prompts._template import Message, as_text

__all__ = [
    "BaseProvider",
    "Completion",
    "CompletionRequest",
    "DeclaredTools",
    "Provider",
    "ProviderContext",
    "Usage",
    "parse_cost",
    "parse_provider_config",
    "parse_token_count",
    "parse_usage",
    "provider_identity",
]


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A rendered prompt. ``params`` are the prompt's own generation settings (a .prompty
    file's); a provider applies them under its configured ones."""

    messages: tuple[Message, ...]
    chat: bool = False
    vars: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The prompt as one string (plain text, or role-marked lines for a chat prompt)."""
        return as_text(self.messages, chat=self.chat)

    @classmethod
    def from_text(cls, text: str) -> CompletionRequest:
        return cls((Message("user", text),))


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


def parse_token_count(value: Any) -> int | None:
    """A token count as a provider reported it: an int, or None when it is missing or not a
    count. Numeric strings and integral floats are accepted; bools, negative, fractional
    and non-finite numbers and anything else are dropped, never passed on to the totals."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        value = value.strip()
        try:
            value = float(value) if value else None
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return int(value)
    return None


def parse_cost(value: Any) -> float | None:
    """A cost as a provider reported it: a finite, non-negative number (or numeric string);
    None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def parse_usage(
    data: Any,
    prompt_keys: tuple[str, ...] = ("prompt", "prompt_tokens", "promptTokens"),
    completion_keys: tuple[str, ...] = ("completion", "completion_tokens", "completionTokens"),
    total_keys: tuple[str, ...] = ("total", "total_tokens", "totalTokens"),
) -> Usage:
    """Token counts from a provider's usage mapping, whatever its shape: promptfoo's
    ``{total, prompt, completion, cached}``, OpenAI's ``{prompt_tokens, ...}``. A missing
    half is derived from ``total`` when that is consistent; extra keys are ignored."""
    if not isinstance(data, Mapping):
        return Usage()

    def first(keys: tuple[str, ...]) -> int | None:
        for key in keys:
            if key in data:
                return parse_token_count(data[key])
        return None

    prompt, completion, total = first(prompt_keys), first(completion_keys), first(total_keys)
    if total is not None:
        if prompt is None and completion is not None and completion <= total:
            prompt = total - completion
        elif completion is None and prompt is not None and prompt <= total:
            completion = total - prompt
    return Usage(prompt, completion)


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer. ``cost`` is None when no price is known for the model."""

    output: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    cost: float | None = None
    model: str | None = None
    cached: bool = False


@runtime_checkable
class Provider(Protocol):
    """What the runner calls. Raise TransientProviderError for failures worth retrying and
    PermanentProviderError for the others; the runner applies timeouts and retries."""

    @property
    def id(self) -> str: ...

    async def complete(self, request: CompletionRequest) -> Completion: ...


class BaseProvider:
    """Convenience base with the optional parts of the protocol filled in."""

    #: Upper bound on concurrent calls the provider can use (None: the run's setting).
    max_concurrency: int | None = None
    #: Whether completions may be served from the cache (see ``identity``).
    cacheable: bool = True
    #: Whether the test's variables, not only the rendered prompt, decide the output (a
    #: provider that reads ``request.vars``): they then join the cache key.
    vars_in_cache_key: bool = False
    #: Whether the provider takes content parts other than text (images, audio, files): a
    #: prompt that holds some is refused at planning by the providers that do not.
    accepts_media: bool = False

    def __init__(self, id: str, label: str | None = None) -> None:
        self._id = id
        self.label = label or id

    @property
    def id(self) -> str:
        return self._id

    def declared_tools(self) -> DeclaredTools | None:
        """The functions this provider offers the model, for checks of its tool calls;
        None where it offers none or has no notion of tools."""
        return None

    def identity(self) -> Mapping[str, Any]:
        """What distinguishes this provider's outputs (model, parameters), without secrets;
        recorded with runs and used in cache keys."""
        return {"id": self._id}

    async def complete(self, request: CompletionRequest) -> Completion:  # pragma: no cover
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections; called once when the run ends."""


@dataclass(frozen=True, slots=True)
class DeclaredTools:
    """The tools a provider's config offers the model, as written there: ``api`` is the
    shape they and the calls take ("openai": ``tools`` and the older ``functions``;
    "google": ``tools`` holding ``functionDeclarations``)."""

    api: str
    tools: Any = None
    functions: Any = None


@dataclass(frozen=True)
class ProviderContext:
    """What a provider factory is given besides the provider's own spec."""

    base_dir: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    origin: Location | None = None


M = TypeVar("M", bound=BaseModel)


def parse_provider_config(
    model: type[M], config: Mapping[str, Any], provider_id: str, context: ProviderContext
) -> M:
    """Validate a provider's ``config`` with a model that rejects unknown keys. A setting
    written as ``file://x.json`` (or .yaml, .yml) is that file's data, as in promptfoo
    (``response_format: file://schema.json``, ``tools: file://tools.yaml``)."""
    config = _with_files(config, context)
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        error = errors[0]
        path = _given_path(config, error["loc"])
        key = ".".join(str(p) for p in path)
        if error["type"] == "extra_forbidden":
            known = [f.alias or name for name, f in model.model_fields.items()]
            message = f"unknown config key '{key}' for provider '{provider_id}'"
            message += _suggestion(str(error["loc"][-1]), known)
        elif key:
            from ..config._errors import plain_problem

            # a union's members each say what they take: "should be text or a list"
            problems = list(
                dict.fromkeys(
                    plain_problem(e) for e in errors if _given_path(config, e["loc"]) == path
                )
            )
            problem = " or ".join(
                [problems[0], *(p.removeprefix("should be ") for p in problems[1:])]
            )
            if "input" in error and not isinstance(error["input"], Mapping | list):
                problem += f" (got {error['input']!r})"
            message = f"provider '{provider_id}' config '{key}': {problem}"
        else:  # a check across several keys
            message = f"provider '{provider_id}' config: {error['msg']}"
        raise SuiteError(message, context.origin) from None


_DATA_FILES = (".json", ".yaml", ".yml")


def _with_files(config: Mapping[str, Any], context: ProviderContext) -> Mapping[str, Any]:
    named = {
        key: value
        for key, value in config.items()
        if isinstance(value, str)
        and value.startswith("file://")
        and value.lower().endswith(_DATA_FILES)
    }
    if not named:
        return config
    from ..config._source import read_structured

    loaded = {
        key: read_structured(context.base_dir / value.removeprefix("file://"), context.origin)
        for key, value in named.items()
    }
    return {**config, **loaded}


def _given_path(config: Mapping[str, Any], loc: Sequence[Any]) -> list[Any]:
    """The error's place in the config as written: pydantic's location also names the
    members of a union it tried (``stop.str``), which the user never wrote."""
    path: list[Any] = []
    node: Any = config
    for part in loc:
        in_mapping = isinstance(node, Mapping) and part in node
        if in_mapping or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        elif path:
            continue
        path.append(part)
    return path


# Other tools' names for settings these providers know by another: too unlike for a spelling
# suggestion, too common to leave unexplained (llama.cpp, Ollama and promptfoo names).
_SYNONYMS = {
    "num_predict": "max_tokens",
    "n_predict": "max_tokens",
    "num_ctx": "contextLength",
    "stopSequences": "stop_sequences",
    "stop_sequences": "stop",
    "base_url": "apiBaseUrl",
    "baseUrl": "apiBaseUrl",
    "baseURL": "apiBaseUrl",
    "functions": "tools",
    "function_call": "tool_choice",
}


def _suggestion(key: str, known: list[str]) -> str:
    synonym = _SYNONYMS.get(key)
    if synonym in known:
        return f" (did you mean '{synonym}'?)"
    return did_you_mean(key, known)


def provider_identity(provider: Provider) -> Mapping[str, Any]:
    """What distinguishes a provider's outputs; providers without ``identity()`` are known
    by their id only."""
    identity = getattr(provider, "identity", None)
    return identity() if callable(identity) else {"id": provider.id}
