"""Embedding providers for ``similar``: any OpenAI-compatible ``/embeddings`` endpoint
(OpenAI, vLLM, Ollama, llama.cpp's server started with ``--embedding true``, ...).

Ids are promptfoo's: ``openai:embedding:MODEL`` (or ``openai:embeddings:MODEL``,
``ollama:embedding:MODEL``), with the ``config`` of an OpenAI-compatible provider
(``apiBaseUrl``, ``apiKey``, ``apiKeyEnvar``, ``headers``). A server that answers with one
vector per token (llama.cpp on a model without pooling) has them averaged.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..config._models import ProviderSpec
from ..core._errors import PermanentProviderError, SuiteError, TransientProviderError
from ..providers._base import ProviderContext, parse_provider_config
from ._judge import GradingError, current_runtime

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EMBEDDING_ID", "EndpointEmbeddings", "embedding_setting", "endpoint_embeddings"]

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


def _vectors(data: Mapping[str, Any], count: int) -> list[np.ndarray]:
    import numpy as np

    rows = data.get("data")
    if not isinstance(rows, list) or len(rows) != count:
        raise ValueError(f"malformed embeddings response: expected {count} vectors")
    ordered = sorted(rows, key=lambda r: r.get("index", 0) if isinstance(r, Mapping) else 0)
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
