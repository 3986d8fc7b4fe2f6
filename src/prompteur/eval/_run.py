"""The async runner: workers per provider pull cells, call the model with a timeout and
bounded retries, grade the output, and hand each result to the sinks."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import PermanentProviderError, TransientProviderError
from ..providers._base import Completion, CompletionRequest, Provider
from ._cache import CacheKeys, CompletionCache
from ._grading import AssertionResult, grade_group, grade_output, score_test
from ._judge import (
    GradingError,
    GradingUsage,
    JudgeRuntime,
    reset_runtime,
    set_runtime,
    stop_tracking,
    track_usage,
)
from ._plan import Cell, Plan, PlannedTest
from ._registry import GradingContext
from ._results import CellResult
from ._sinks import ResultSink, RunFinished, RunStarted
from ._summary import RunSummary, SummaryBuilder

__all__ = ["RunOptions", "backoff_delay", "call_with_retries", "new_run_id", "run_plan"]

#: Cells whose cache entries are read in one query (a fully cached run's lookups).
PREFETCH_CELLS = 256


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves. Timeouts and delays are in seconds."""

    max_concurrency: int = 4
    timeout: float = 300.0
    max_retries: int = 4
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0
    max_retry_after: float = 300.0
    delay: float = 0.0
    max_failures_kept: int = 50


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def backoff_delay(attempt: int, retry_after: float | None, options: RunOptions) -> float:
    """Seconds to wait before retry number ``attempt + 1``: the server's Retry-After when it
    gave one (up to ``max_retry_after``), else exponential backoff with equal jitter."""
    if retry_after is not None:
        return min(retry_after, options.max_retry_after)
    ceiling: float = min(options.retry_max_delay, options.retry_base_delay * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    completion: Completion | None
    error: str | None
    attempts: int
    latency_ms: float | None


async def call_with_retries(
    provider: Provider, request: CompletionRequest, options: RunOptions
) -> CallOutcome:
    """Call the provider until it answers, a permanent error occurs, or retries run out."""
    reason = "no attempt made"
    attempts = 0
    for attempt in range(options.max_retries + 1):
        attempts = attempt + 1
        retry_after: float | None = None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(options.timeout):
                completion = await provider.complete(request)
            return CallOutcome(completion, None, attempts, (time.perf_counter() - started) * 1000)
        except TimeoutError:
            reason = f"timed out after {options.timeout:g} s"
        except TransientProviderError as exc:
            reason, retry_after = str(exc), exc.retry_after
        except PermanentProviderError as exc:
            return CallOutcome(None, str(exc), attempts, None)
        except (ConnectionError, OSError) as exc:
            reason = f"connection failed: {exc}"
        except Exception as exc:  # a provider's own bug is recorded, never fatal to the run
            return CallOutcome(None, f"{type(exc).__name__}: {exc}", attempts, None)
        if attempt < options.max_retries:
            await asyncio.sleep(backoff_delay(attempt, retry_after, options))
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    return CallOutcome(None, reason + suffix, attempts, None)


class _Runner:
    def __init__(
        self, plan: Plan, options: RunOptions, sinks: Sequence[ResultSink], builder: SummaryBuilder
    ) -> None:
        self.plan = plan
        self.options = options
        self.sinks = sinks
        self.builder = builder
        self.cache: CompletionCache | None = None
        self.cache_keys = CacheKeys()
        self.select: Callable[[Cell], bool] | None = None
        self.groups: dict[tuple[int, int], list[_Pending]] = {}
        # requests and cache lookups made ahead of the cells' turn (see ``prepared``)
        self.looked_up: dict[
            Cell, tuple[CompletionRequest, str, tuple[Completion, float | None] | None]
        ] = {}

    async def worker(self, provider: Provider, cells: Iterator[Cell]) -> None:
        for cell in cells:
            outcome = await self.execute(provider, cell)
            results = [outcome] if isinstance(outcome, CellResult) else await self.arrive(outcome)
            for result in results:
                self.builder.add(result)
                for sink in self.sinks:
                    sink.on_result(result)
            if self.options.delay:
                await asyncio.sleep(self.options.delay)

    def _group_size(self, test: int, repeat: int) -> int:
        """How many cells of this run answer case ``test`` (its ``repeat``-th time)."""
        cells = (
            Cell(p, v, test, repeat)
            for p in range(len(self.plan.prompts))
            for v in range(len(self.plan.providers))
        )
        return sum(1 for c in cells if self.select is None or self.select(c))

    async def arrive(self, pending: _Pending) -> list[CellResult]:
        """Collect the cells of a case graded together (select-best): nothing until the last
        one arrives, which grades them all and returns them. Workers never wait on each
        other, so one worker per provider cannot deadlock."""
        cell = pending.result
        key = (cell.test_index, cell.repeat)
        group = self.groups.setdefault(key, [])
        group.append(pending)
        if len(group) < self._group_size(*key):
            return []
        del self.groups[key]
        return await _grade_together(self.plan.tests[cell.test_index], group)

    async def execute(self, provider: Provider, cell: Cell) -> CellResult | _Pending:
        outcome = await self._execute(provider, cell)
        if isinstance(outcome, CellResult) and self.plan.tests[cell.test].has_group_assertions:
            return _Pending(outcome)  # an error still counts towards its case's group
        return outcome

    def prepared(self, provider: Provider, cells: Iterator[Cell]) -> Iterator[Cell]:
        """The cells, with the cache read ahead for them in batches (one query for many
        cells, where the cache can do that: a fully cached run then costs microseconds a
        cell). Each cell's request and what was found wait in ``self.looked_up`` for the
        cell's worker."""
        get_many = getattr(self.cache, "get_many", None)
        if not callable(get_many) or self.cache_keys.key_of_provider(provider) is None:
            yield from cells
            return
        while True:
            batch = list(itertools.islice(cells, PREFETCH_CELLS))
            if not batch:
                return
            keys: dict[Cell, tuple[CompletionRequest, str]] = {}
            for cell in batch:
                request = self._request(cell)
                if request is not None:
                    key = self.cache_keys.key(provider, request, cell.repeat)
                    if key is not None:
                        keys[cell] = (request, key)
            hits = get_many([key for _, key in keys.values()])
            for cell, (request, key) in keys.items():
                self.looked_up[cell] = (request, key, hits.get(key))
            yield from batch

    def _request(self, cell: Cell) -> CompletionRequest | None:
        prompt = self.plan.prompts[cell.prompt]
        try:
            return CompletionRequest(
                self.plan.messages(cell.prompt, cell.test),
                prompt.chat,
                self.plan.tests[cell.test].vars,
                prompt.params,
            )
        except Exception:  # reported when the cell runs
            return None

    def _cached(
        self, provider: Provider, cell: Cell, request: CompletionRequest
    ) -> tuple[str | None, tuple[Completion, float | None] | None]:
        """The cell's cache key and what the cache holds for it."""
        if self.cache is None:
            return None, None
        key = self.cache_keys.key(provider, request, cell.repeat)
        return key, self.cache.get(key) if key is not None else None

    async def _execute(self, provider: Provider, cell: Cell) -> CellResult | _Pending:
        prompt = self.plan.prompts[cell.prompt]
        test = self.plan.tests[cell.test]
        common: dict[str, Any] = {
            "prompt_index": cell.prompt,
            "provider_index": cell.provider,
            "test_index": cell.test,
            "repeat": cell.repeat,
            "prompt_id": prompt.id,
            "provider_id": self.plan.provider_labels[cell.provider],
            "test_description": test.description,
            "vars": test.vars,
            "metadata": test.metadata,
        }
        looked_up = self.looked_up.pop(cell, None)
        key: str | None = None
        hit: tuple[Completion, float | None] | None = None
        try:
            if looked_up is not None:  # read ahead in ``prepared``
                request, key, hit = looked_up
            else:
                request = CompletionRequest(
                    self.plan.messages(cell.prompt, cell.test),
                    prompt.chat,
                    test.vars,
                    prompt.params,
                )
        except Exception as exc:  # validated at planning; kept as a cell error if it slips
            return CellResult(
                **common,
                prompt="",
                output=None,
                passed=False,
                score=0.0,
                error=f"template: {exc}",
                attempts=0,
            )
        text = request.text
        if looked_up is None:
            key, hit = self._cached(provider, cell, request)
        if hit is not None:
            cached = hit[0] if hit[0].cached else replace(hit[0], cached=True)
            outcome = CallOutcome(cached, None, 0, hit[1])
        else:
            outcome = await call_with_retries(provider, request, self.options)
            if key is not None and self.cache is not None and outcome.completion is not None:
                self.cache.put(key, provider.id, outcome.completion, outcome.latency_ms)
        completion = outcome.completion
        if completion is None:
            return CellResult(
                **common,
                prompt=text,
                output=None,
                passed=False,
                score=0.0,
                error=outcome.error,
                attempts=outcome.attempts,
            )
        usage = completion.usage
        context = GradingContext(
            output=completion.output,
            vars=test.vars,
            prompt=text,
            provider_id=provider.id,
            test_description=test.description or "",
            latency_ms=outcome.latency_ms,
            cost=completion.cost,
            finish_reason=completion.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached=completion.cached,
            metadata=test.metadata,
        )
        individual = [a for a in test.assertions if not a.is_group]
        grading, token = track_usage()
        try:
            graded = await grade_output(individual, context)
            error = None
        except GradingError as exc:
            graded, error = [], f"grading: {exc}"
        finally:
            stop_tracking(token)
        passed, score = score_test(graded, test.threshold) if error is None else (False, 0.0)
        result = CellResult(
            **common,
            prompt=text,
            output=completion.output,
            error=error,
            passed=passed,
            score=score,
            assertions=tuple(graded),
            latency_ms=outcome.latency_ms,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=completion.cost,
            finish_reason=completion.finish_reason,
            cached=completion.cached,
            attempts=outcome.attempts,
            model=completion.model,
            **_grader_fields(grading),
        )
        if test.has_group_assertions and error is None:
            return _Pending(result, context, graded, grading)
        return result


def _grader_fields(usage: GradingUsage) -> dict[str, Any]:
    if not usage.calls and not usage.prompt_tokens and not usage.completion_tokens:
        return {}
    return {
        "grader_prompt_tokens": usage.prompt_tokens,
        "grader_completion_tokens": usage.completion_tokens,
        "grader_cost": usage.cost,
    }


@dataclass
class _Pending:
    """A cell waiting for the other outputs of its case, to be graded with them."""

    result: CellResult
    context: GradingContext | None = None
    graded: list[AssertionResult] = field(default_factory=list)  # the individual assertions
    usage: GradingUsage = field(default_factory=GradingUsage)


async def _grade_together(test: PlannedTest, group: list[_Pending]) -> list[CellResult]:
    """Grade a case's outputs together, then finish each cell: its assertions in the
    suite's order, its score, its share of the judge's usage."""
    assertions = test.assertions
    answered = [p for p in group if p.context is not None and p.result.error is None]
    contexts = [p.context for p in answered if p.context is not None]
    joint: dict[int, list[AssertionResult]] = {id(p): [] for p in answered}
    usage, token = track_usage()
    error = None
    try:
        for compiled in assertions:
            if compiled.is_group:
                for pending, verdict in zip(
                    answered, await grade_group(compiled, contexts), strict=True
                ):
                    joint[id(pending)].append(verdict)
    except GradingError as exc:
        error = f"grading: {exc}"
    finally:
        stop_tracking(token)
    shares = usage.share(len(answered)) if answered else []
    results = []
    for pending in group:
        if pending.context is None or pending.result.error is not None:
            results.append(pending.result)
            continue
        pending.usage.merge(shares.pop(0))
        if error is not None:
            results.append(
                replace(
                    pending.result,
                    error=error,
                    passed=False,
                    score=0.0,
                    assertions=(),
                    **_grader_fields(pending.usage),
                )
            )
            continue
        individual, together = iter(pending.graded), iter(joint[id(pending)])
        ordered = [next(together) if a.is_group else next(individual) for a in assertions]
        passed, score = score_test(ordered, test.threshold)
        results.append(
            replace(
                pending.result,
                passed=passed,
                score=score,
                assertions=tuple(ordered),
                **_grader_fields(pending.usage),
            )
        )
    return results


def _workers(plan: Plan, provider: Provider, options: RunOptions) -> int:
    limit = getattr(provider, "max_concurrency", None) or options.max_concurrency
    return max(1, min(options.max_concurrency, limit, plan.cells_per_provider()))


async def run_plan(
    plan: Plan,
    options: RunOptions,
    sinks: Sequence[ResultSink] = (),
    run_id: str | None = None,
    *,
    cache: CompletionCache | None = None,
    select: Callable[[Cell], bool] | None = None,
) -> RunSummary:
    """Run the cells of the plan (those ``select`` accepts, if given), reading and filling
    ``cache``. Cancelling the task (Ctrl-C) stops the workers, and the sinks still receive
    the finish event with what was completed."""
    run_id = run_id or new_run_id()
    total = plan.total_cells if select is None else sum(1 for c in plan.cells() if select(c))
    prompts = [(p.id, p.label) for p in plan.prompts]
    providers = [
        (p.id, label) for p, label in zip(plan.providers, plan.provider_labels, strict=True)
    ]
    builder = SummaryBuilder(
        plan.description,
        prompts,
        [(label, label) for _, label in providers],
        plan.cells_per_provider() // max(1, len(plan.prompts)),
        options.max_failures_kept,
    )
    started = time.time()
    event = RunStarted(
        run_id, plan.description, prompts, providers, total, started, asdict(options)
    )
    for sink in sinks:
        sink.on_start(event)
    runner = _Runner(plan, options, sinks, builder)
    runner.cache = cache
    runner.select = select
    # Judges (model-graded assertions) share the run's cache, cache keys and retry policy.
    runtime = set_runtime(JudgeRuntime(options, cache, runner.cache_keys))
    clock = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for index, provider in enumerate(plan.providers):
                cells = plan.cells_for(index)
                if select is not None:
                    cells = filter(select, cells)
                cells = runner.prepared(provider, cells)
                for _ in range(_workers(plan, provider, options)):
                    group.create_task(runner.worker(provider, cells))
    except BaseException:
        builder.summary.interrupted = True
        raise
    finally:
        reset_runtime(runtime)
        if cache is not None:
            cache.flush()
        builder.summary.duration_s = time.perf_counter() - clock
        finished = RunFinished(run_id, builder.summary, time.time())
        for sink in sinks:
            sink.on_finish(finished)
    return builder.summary
