"""What a judge call needs from the run it is part of, and what it reports back: the
run's cache and retry policy (a context variable the runner sets), and the grader usage of
the cell being graded (another, set per cell), calls from the cache counted apart."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core._errors import PrompteurError
from ..providers._base import Completion

if TYPE_CHECKING:
    from ..providers._cache import CacheKeys, CompletionCache
    from ..providers._retry import RunOptions

__all__ = [
    "GradingError",
    "GradingUsage",
    "JudgeRuntime",
    "current_runtime",
    "current_usage",
    "reset_runtime",
    "set_runtime",
    "stop_tracking",
    "track_usage",
]


class GradingError(PrompteurError):
    """A model-graded assertion got no usable verdict: the cell is recorded as an error
    (its output was not judged), not as a failure."""


@dataclass
class GradingUsage:
    """What the judge calls of one cell cost. Calls answered from the cache count too
    (with what the answer once cost), and are counted apart again as ``cached_*``."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached_calls: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    cached_cost: float | None = None

    def add(self, completion: Completion) -> None:
        prompt = completion.usage.prompt_tokens or 0
        answer = completion.usage.completion_tokens or 0
        self.calls += 1
        self.prompt_tokens += prompt
        self.completion_tokens += answer
        if completion.cost is not None:
            self.cost = (self.cost or 0.0) + completion.cost
        if completion.cached:
            self.cached_calls += 1
            self.cached_prompt_tokens += prompt
            self.cached_completion_tokens += answer
            if completion.cost is not None:
                self.cached_cost = (self.cached_cost or 0.0) + completion.cost

    @property
    def paid(self) -> tuple[int, int, float | None]:
        """The prompt tokens, completion tokens and cost of the calls actually made (the
        cache's answers cost nothing again)."""
        cost = None if self.cost is None else self.cost - (self.cached_cost or 0.0)
        return (
            self.prompt_tokens - self.cached_prompt_tokens,
            self.completion_tokens - self.cached_completion_tokens,
            None if cost is None else max(cost, 0.0),
        )

    def share(self, parts: int) -> list[GradingUsage]:
        """Split among ``parts`` cells (a select-best call judges several at once)."""

        def split(total: int, index: int) -> int:
            return total // parts + (1 if index < total % parts else 0)

        return [
            GradingUsage(
                self.calls if index == 0 else 0,
                split(self.prompt_tokens, index),
                split(self.completion_tokens, index),
                None if self.cost is None else self.cost / parts,
                self.cached_calls if index == 0 else 0,
                split(self.cached_prompt_tokens, index),
                split(self.cached_completion_tokens, index),
                None if self.cached_cost is None else self.cached_cost / parts,
            )
            for index in range(parts)
        ]

    def merge(self, other: GradingUsage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost
        self.cached_calls += other.cached_calls
        self.cached_prompt_tokens += other.cached_prompt_tokens
        self.cached_completion_tokens += other.cached_completion_tokens
        if other.cached_cost is not None:
            self.cached_cost = (self.cached_cost or 0.0) + other.cached_cost


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


def current_usage() -> GradingUsage | None:
    """The grader usage of the cell being graded, if one is being counted."""
    return _usage.get()
