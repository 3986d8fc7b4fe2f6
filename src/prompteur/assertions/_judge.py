"""Judges: the providers that model-graded assertions call, and what a grading call needs.

A judge is any provider (``defaultTest.options.provider``, an assertion's ``provider``),
the embedded model by default, so a suite never needs an API key to grade. Judge calls go
through the run's completion cache and its retry policy, ask for JSON where the provider
can be held to it (a grammar on the embedded model, JSON mode on OpenAI-compatible
servers), and add their tokens and cost to the cell's grader usage, kept apart from the
task's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ValidationError

from ..core._errors import Location, SuiteError
from ..core._json import canonical
from ..prompts._template import Message
from ..providers._answers import checked_completion
from ..providers._base import Completion, CompletionRequest, Provider, ProviderContext
from ._judge_parse import parse_json_object
from ._judge_runtime import (
    GradingError,
    GradingUsage,
    JudgeRuntime,
    current_runtime,
    current_usage,
    reset_runtime,
    set_runtime,
    stop_tracking,
    track_usage,
)

if TYPE_CHECKING:
    from ._similarity import Embedder

__all__ = [
    "GradingError",
    "GradingUsage",
    "Judge",
    "JudgePool",
    "JudgeRuntime",
    "current_runtime",
    "parse_json_object",
    "reset_runtime",
    "set_runtime",
    "stop_tracking",
    "track_usage",
]

T = TypeVar("T")

#: Judges answer at length enough for a reason and a verdict, deterministically.
JUDGE_PARAMS: Mapping[str, Any] = {"temperature": 0, "max_tokens": 512}


@dataclass(frozen=True, slots=True)
class _Answer:
    completion: Completion
    key: str | None  # its cache key, when the run has a cache and the judge is cacheable
    latency_ms: float | None
    from_cache: bool


class Judge:
    """One grader provider, as model-graded assertions use it."""

    def __init__(self, provider: Provider, label: str) -> None:
        self.provider = provider
        self.label = label

    def _json_params(self, schema: Mapping[str, Any] | None) -> dict[str, Any]:
        if schema is None:
            return {}
        json_mode = getattr(self.provider, "json_mode", None)
        return dict(json_mode(schema)) if callable(json_mode) else {}

    async def _ask(
        self, messages: list[Message], schema: Mapping[str, Any] | None, *, read_cache: bool = True
    ) -> _Answer:
        """One judge call, read from the run's cache when it has the answer, else made with
        the run's retries; counted in the cell's grader usage. Raises GradingError."""
        from ..providers._cache import CacheKeys
        from ..providers._retry import RunOptions, call_with_retries

        runtime = current_runtime() or JudgeRuntime(RunOptions())
        request = CompletionRequest(
            tuple(messages), True, {}, {**JUDGE_PARAMS, **self._json_params(schema)}
        )
        if runtime.keys is None:
            runtime.keys = CacheKeys()
        cache = runtime.cache
        key = runtime.keys.key(self.provider, request) if cache is not None else None
        hit = cache.get(key) if read_cache and cache is not None and key is not None else None
        if hit is not None:
            completion = hit[0] if hit[0].cached else replace(hit[0], cached=True)
            answer = _Answer(completion, key, hit[1], True)
        else:
            semaphore = runtime.semaphores.get(id(self.provider))
            if semaphore is None:
                limit = getattr(self.provider, "max_concurrency", None)
                semaphore = asyncio.Semaphore(limit or runtime.options.max_concurrency)
                runtime.semaphores[id(self.provider)] = semaphore
            async with semaphore:
                outcome = await call_with_retries(self.provider, request, runtime.options)
            if outcome.completion is None:
                raise GradingError(f"grader {self.label}: {outcome.error}")
            answer = _Answer(
                _judge_answer(outcome.completion, self.label), key, outcome.latency_ms, False
            )
        usage = current_usage()
        if usage is not None:
            usage.add(answer.completion)
        return answer

    def _remember(self, key: str | None, answer: _Answer) -> None:
        """Cache ``answer`` under ``key`` (unless it was read from there)."""
        runtime = current_runtime()
        cache = runtime.cache if runtime is not None else None
        if cache is None or key is None or (answer.from_cache and key == answer.key):
            return
        from ..core._secrets import holds_secret

        if holds_secret(answer.completion.output):  # the cache is kept in the store
            return
        completion = replace(answer.completion, cached=False)
        cache.put(key, self.provider.id, completion, answer.latency_ms)

    async def complete(
        self, messages: list[Message], *, schema: Mapping[str, Any] | None = None
    ) -> Completion:
        """One judge call, through the run's cache and retries; raises GradingError."""
        answer = await self._ask(messages, schema)
        self._remember(answer.key, answer)
        return answer.completion

    async def verdict(
        self,
        messages: list[Message],
        parse: Callable[[Mapping[str, Any]], T],
        *,
        schema: Mapping[str, Any] | None = None,
        what: str = "verdict",
        fallback: Callable[[str], T | None] | None = None,
    ) -> T:
        """Ask for a JSON verdict and read it with ``parse`` (which raises ValueError on a
        malformed one; ``fallback`` may read an answer that holds no object). A malformed
        verdict is asked for once more, with the problem stated; a second one raises
        GradingError. Only answers that could be read are cached, so a grading error is
        never replayed; a verdict given on the second try is cached under the first
        question too, where the next run looks first."""
        first = await self._ask(messages, schema)
        result, problem = _read(first.completion.output, parse, fallback)
        if problem is not None and first.from_cache:  # cached before answers were checked
            first = await self._ask(messages, schema, read_cache=False)
            result, problem = _read(first.completion.output, parse, fallback)
        if problem is None:
            self._remember(first.key, first)
            return cast(T, result)
        retry = [
            *messages,
            Message("assistant", first.completion.output),
            Message(
                "user",
                f"That answer could not be read ({problem}). Reply with the JSON "
                "object only, exactly as specified.",
            ),
        ]
        second = await self._ask(retry, schema)
        result, problem = _read(second.completion.output, parse, fallback)
        if problem is None:
            self._remember(second.key, second)
            self._remember(first.key, second)
            return cast(T, result)
        excerpt = " ".join(second.completion.output.split())[:160]
        raise GradingError(
            f"grader {self.label} gave a malformed {what} twice ({problem}): {excerpt!r}"
        )


def _read(
    text: str, parse: Callable[[Mapping[str, Any]], T], fallback: Callable[[str], T | None] | None
) -> tuple[T | None, str | None]:
    """(the verdict, None), or (None, what is wrong with the answer)."""
    try:
        return parse(parse_json_object(text)), None
    except ValueError as exc:
        if fallback is not None:
            found = fallback(text)
            if found is not None:
                return found, None
        return None, str(exc)


def provider_setting(setting: Any) -> Any:
    """promptfoo's grader settings: an id, {id, config}, or {text: ..., embedding: ...}
    (the text one judges)."""
    if isinstance(setting, Mapping) and "id" not in setting and "text" in setting:
        return setting["text"]
    if isinstance(setting, Mapping) and set(setting) == {"embedding"}:
        return None  # {embedding: ...} alone names no judge: the default one judges
    if isinstance(setting, Mapping) and "id" in setting and "embedding" in setting:
        # {id, embedding: {...}}: the id judges, the embedding half serves 'similar'
        return {k: v for k, v in setting.items() if k != "embedding"}
    return setting


def _one_line(exc: ValidationError) -> str:
    """A grader setting's first problem, as one line."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where + ': ' if where else ''}{first.get('msg', 'invalid')}{tail}"


class JudgePool:
    """The judges of one plan, one per distinct provider setting, made at planning (so a
    bad grader fails before any model is called) and closed with the plan."""

    def __init__(self, base_dir: Path, env: Mapping[str, str], default: Any = None) -> None:
        self.base_dir = base_dir
        self.env = env
        self.default = default
        self._judges: dict[str, Judge] = {}
        self._embedders: dict[str, Embedder] = {}

    def providers(self) -> list[Provider]:
        """The providers of the judges made so far."""
        return [judge.provider for judge in self._judges.values()]

    def judge(self, setting: Any, origin: Location | None = None) -> Judge:
        from ..config._models import ProviderSpec
        from ..providers._registry import DEFAULT_PROVIDER, create_provider

        setting = provider_setting(setting)
        if setting is None:
            setting = self.default if self.default is not None else DEFAULT_PROVIDER
        if isinstance(setting, Provider):
            key = f"object:{id(setting)}"
            if key not in self._judges:
                self._judges[key] = Judge(setting, setting.id)
            return self._judges[key]
        key = canonical(setting)
        found = self._judges.get(key)
        if found is None:
            from ._similarity import is_embedding_setting

            if is_embedding_setting(setting):
                raise SuiteError(
                    "an embedding provider cannot judge: give this assertion a chat model "
                    "(embedding providers serve 'similar')",
                    origin,
                )
            if isinstance(setting, Mapping) and "id" not in setting:
                default = self.default if self.default is not None else DEFAULT_PROVIDER
                if "config" not in setting or not isinstance(default, str):
                    raise SuiteError(
                        "a grader provider needs an 'id' (an id such as "
                        "openai:chat:gpt-4o-mini, or {id, config})",
                        origin,
                    )
                # {config: ...} alone: the default grader, with these settings
                setting = {**setting, "id": default}
            try:
                spec = (
                    ProviderSpec(id=setting)
                    if isinstance(setting, str)
                    else ProviderSpec.model_validate(setting)
                )
            except ValidationError as exc:
                raise SuiteError(f"invalid grader provider: {_one_line(exc)}", origin) from None
            provider = create_provider(spec, ProviderContext(self.base_dir, self.env, origin))
            found = Judge(provider, spec.label or spec.id)
            self._judges[key] = found
        return found

    def embedder(self, setting: Any, origin: Location | None = None) -> Embedder:
        """The embedder of an embedding provider setting (``similar``), one per setting."""
        from ._similarity import Embedder, endpoint_embeddings

        key = canonical(setting)
        found = self._embedders.get(key)
        if found is None:
            context = ProviderContext(self.base_dir, self.env, origin)
            found = Embedder(endpoint_embeddings(setting, context))
            self._embedders[key] = found
        return found

    @property
    def judges(self) -> list[Judge]:
        return list(self._judges.values())

    async def aclose(self) -> None:
        closers = [getattr(j.provider, "aclose", None) for j in self._judges.values()]
        closers += [getattr(e.encoder, "aclose", None) for e in self._embedders.values()]
        for close in closers:
            if close is not None:
                await close()


def _judge_answer(completion: Completion, label: str) -> Completion:
    """A judge's answer as a cell may keep it (see ``checked_completion``): lone surrogates
    in its text become U+FFFD, its verdict may still be read; no text is a GradingError."""
    checked, problem, kept = checked_completion(completion)
    if checked is None and kept is not None:
        checked, problem, kept = checked_completion(replace(completion, output=kept))
    if checked is None:
        raise GradingError(f"grader {label}: {problem}")
    return checked
