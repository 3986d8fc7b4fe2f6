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
import json
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._json import canonical
from ..errors import Location, PrompteurError, SuiteError
from ..prompts._template import Message
from ..providers._base import Completion, CompletionRequest, Provider, ProviderContext

if TYPE_CHECKING:
    from ._cache import CacheKeys, CompletionCache
    from ._run import RunOptions

__all__ = [
    "GradingError",
    "GradingUsage",
    "Judge",
    "JudgePool",
    "JudgeRuntime",
    "parse_json_object",
]

T = TypeVar("T")

#: Judges answer at length enough for a reason and a verdict, deterministically.
JUDGE_PARAMS: Mapping[str, Any] = {"temperature": 0, "max_tokens": 512}


class GradingError(PrompteurError):
    """A model-graded assertion got no usable verdict: the cell is recorded as an error
    (its output was not judged), not as a failure."""


@dataclass
class GradingUsage:
    """What the judge calls of one cell cost."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    def add(self, completion: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += completion.usage.prompt_tokens or 0
        self.completion_tokens += completion.usage.completion_tokens or 0
        if completion.cost is not None:
            self.cost = (self.cost or 0.0) + completion.cost

    def share(self, parts: int) -> list[GradingUsage]:
        """Split among ``parts`` cells (a select-best call judges several at once)."""
        shares = []
        for index in range(parts):
            extra_p = 1 if index < self.prompt_tokens % parts else 0
            extra_c = 1 if index < self.completion_tokens % parts else 0
            shares.append(
                GradingUsage(
                    self.calls if index == 0 else 0,
                    self.prompt_tokens // parts + extra_p,
                    self.completion_tokens // parts + extra_c,
                    None if self.cost is None else self.cost / parts,
                )
            )
        return shares

    def merge(self, other: GradingUsage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost


@dataclass
class JudgeRuntime:
    """The run's services a judge call uses: its cache and its retry policy."""

    options: RunOptions
    cache: CompletionCache | None = None
    keys: CacheKeys | None = None
    semaphores: dict[int, asyncio.Semaphore] = field(default_factory=dict)


_runtime: ContextVar[JudgeRuntime | None] = ContextVar("prompteur_judge_runtime", default=None)
_usage: ContextVar[GradingUsage | None] = ContextVar("prompteur_grading_usage", default=None)


def set_runtime(runtime: JudgeRuntime | None) -> Any:
    return _runtime.set(runtime)


def reset_runtime(token: Any) -> None:
    _runtime.reset(token)


def current_runtime() -> JudgeRuntime | None:
    return _runtime.get()


def track_usage() -> tuple[GradingUsage, Any]:
    """Start counting the judge calls of one cell (in the current task)."""
    usage = GradingUsage()
    return usage, _usage.set(usage)


def stop_tracking(token: Any) -> None:
    _usage.reset(token)


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

    async def complete(
        self, messages: list[Message], *, schema: Mapping[str, Any] | None = None
    ) -> Completion:
        """One judge call, through the run's cache and retries; raises GradingError."""
        from ._cache import CacheKeys
        from ._run import RunOptions, call_with_retries

        runtime = _runtime.get() or JudgeRuntime(RunOptions())
        request = CompletionRequest(
            tuple(messages), True, {}, {**JUDGE_PARAMS, **self._json_params(schema)}
        )
        if runtime.keys is None:
            runtime.keys = CacheKeys()
        key = runtime.keys.key(self.provider, request) if runtime.cache is not None else None
        hit = runtime.cache.get(key) if runtime.cache is not None and key is not None else None
        if hit is not None:
            completion = hit[0]
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
            completion = outcome.completion
            if key is not None and runtime.cache is not None:
                runtime.cache.put(key, self.provider.id, completion, outcome.latency_ms)
        usage = _usage.get()
        if usage is not None:
            usage.add(completion)
        return completion

    async def verdict(
        self,
        messages: list[Message],
        parse: Callable[[Mapping[str, Any]], T],
        *,
        schema: Mapping[str, Any] | None = None,
        what: str = "verdict",
    ) -> T:
        """Ask for a JSON verdict and read it with ``parse`` (which raises ValueError on a
        malformed one). A malformed verdict is asked for once more, with the problem stated;
        a second one raises GradingError."""
        problem = ""
        answer = ""
        for attempt in range(2):
            asked = list(messages)
            if attempt:
                asked += [
                    Message("assistant", answer),
                    Message(
                        "user",
                        f"That answer could not be read ({problem}). Reply with the JSON "
                        "object only, exactly as specified.",
                    ),
                ]
            answer = (await self.complete(asked, schema=schema)).output
            try:
                return parse(parse_json_object(answer))
            except ValueError as exc:
                problem = str(exc)
        excerpt = " ".join(answer.split())[:160]
        raise GradingError(
            f"grader {self.label} gave a malformed {what} twice ({problem}): {excerpt!r}"
        )


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (bare, in a code fence, or amid prose)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for match in re.finditer(r"\{", candidate):
            try:
                value, _ = decoder.raw_decode(candidate, match.start())
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object found")


def provider_setting(setting: Any) -> Any:
    """promptfoo's grader settings: an id, {id, config}, or {text: ..., embedding: ...}
    (the text one judges)."""
    if isinstance(setting, Mapping) and "id" not in setting and "text" in setting:
        return setting["text"]
    return setting


class JudgePool:
    """The judges of one plan, one per distinct provider setting, made at planning (so a
    bad grader fails before any model is called) and closed with the plan."""

    def __init__(self, base_dir: Path, env: Mapping[str, str], default: Any = None) -> None:
        self.base_dir = base_dir
        self.env = env
        self.default = default
        self._judges: dict[str, Judge] = {}

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
            try:
                spec = (
                    ProviderSpec(id=setting)
                    if isinstance(setting, str)
                    else ProviderSpec.model_validate(setting)
                )
            except ValueError as exc:
                raise SuiteError(f"invalid grader provider: {exc}", origin) from None
            provider = create_provider(spec, ProviderContext(self.base_dir, self.env, origin))
            found = Judge(provider, spec.label or spec.id)
            self._judges[key] = found
        return found

    @property
    def judges(self) -> list[Judge]:
        return list(self._judges.values())

    async def aclose(self) -> None:
        for judge in self._judges.values():
            close = getattr(judge.provider, "aclose", None)
            if close is not None:
                await close()
