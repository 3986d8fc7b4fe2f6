"""The async runner: workers per provider pull cells, call the model with a timeout and
bounded retries, grade the output, and hand each result to the sinks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from ..assertions._judge import (
    GradingUsage,
    JudgeRuntime,
    reset_runtime,
    set_runtime,
)
from ..assertions._registry import GradingContext
from ..assertions._transformed import as_output_text
from ..config._var_files import filled_vars
from ..core._errors import SuiteError
from ..core._interrupts import describe_exception, stops_the_run, watching_interrupts
from ..core._json import stable_hash
from ..core._results import CellResult
from ..core._secrets import cell_secrets, redact, redact_text
from ..core._sinks import ResultSink, RunFinished, RunStarted
from ..core._summary import RunSummary, SummaryBuilder
from ..core._time_limit import TimeLimitExceeded
from ..core._transforms import TransformError
from ..providers._answers import checked_completion
from ..providers._base import Completion, CompletionRequest, DeclaredTools, Provider
from ..providers._cache import CacheKeys, CompletionCache
from ..providers._retry import RunOptions, backoff_delay, call_with_retries, new_run_id
from ._lookups import Ahead, CacheLookups, Found
from ._plan import Cell, Plan, PlannedTest, kept_vars
from ._redaction import Redactor
from ._run_groups import Pending, grade_alone, grade_together, grader_fields

__all__ = ["RunOptions", "backoff_delay", "call_with_retries", "new_run_id", "run_plan"]

#: The longest a worker runs cells without letting the event loop run its other work.
BREATHE_SECONDS = 0.05


class _Runner:
    def __init__(
        self,
        plan: Plan,
        options: RunOptions,
        sinks: Sequence[ResultSink],
        builder: SummaryBuilder,
        cache: CompletionCache | None,
        select: Callable[[Cell], bool] | None,
    ) -> None:
        self.plan = plan
        self.options = options
        self.sinks = sinks
        self.builder = builder
        self.cache = cache  # written here, read ahead by the lookups
        self.cache_keys = CacheKeys()
        self.lookups = CacheLookups(plan, cache, self.cache_keys)
        self.redactor = Redactor(plan)
        self.select = select
        self.groups: dict[tuple[int, int], list[Pending]] = {}
        #: the outputs tests stored (``storeOutputAs``), by variable, the latest kept
        self.stored: dict[str, str] = {}
        #: the turns so far of each conversation (``_conversation``), by provider, prompt
        #: and the test's ``conversationId``
        self.conversations: dict[tuple[int, int, Any], list[dict[str, Any]]] = {}
        self.conversation_prompts = plan.conversation_prompts
        self.serial = plan.stores_outputs
        self.skipped = plan.skipped_pairs()
        # a provider's own delay (its ``delay``, ms in the suite) over the run's
        self.delays = [
            options.delay if own is None else own
            for own in (plan.provider_delays or [None] * len(plan.providers))
        ]

    async def worker(
        self, provider: Provider | None, cells: Iterator[tuple[Cell, Ahead | None]]
    ) -> None:
        """Run cells one after another: those of ``provider``, or, when None, of any
        provider (the serial run of a suite that stores outputs)."""
        breathed = time.monotonic()
        for cell, ahead in cells:
            try:
                outcome = await self._execute(
                    provider or self.plan.providers[cell.provider], cell, ahead
                )
            except BaseException as exc:  # what user code raised past its own guards
                if stops_the_run(exc):
                    raise
                test = self.plan.tests[cell.test]
                outcome = self._failed(cell, test, "", describe_exception(exc), 1)
            if isinstance(outcome, Pending):
                results = await self.arrive(outcome)
            elif self.plan.tests[cell.test].has_group_assertions:
                # an error still counts towards its case's group
                results = await self.arrive(Pending(outcome))
            else:
                results = [outcome]
            for result in map(self.redactor.result, results):
                self.builder.add(result)
                for sink in self.sinks:
                    sink.on_result(result)
                if self.plan.hooks is not None:
                    self.plan.hooks.after_each(result, keep=True)
            delay = self.delays[cell.provider]
            if delay:
                await asyncio.sleep(delay)
            elif time.monotonic() - breathed > BREATHE_SECONDS:
                # an instant provider (echo, the cache) never suspends the worker: without
                # this, the loop would see Ctrl-C or SIGTERM only once every cell had run
                await asyncio.sleep(0)
                breathed = time.monotonic()

    def _request_with_stored(self, cell: Cell) -> CompletionRequest:
        """The cell's request, with the outputs stored so far laid over its test's vars
        (as promptfoo does), and vars that name them filled in."""
        prompt = self.plan.prompts[cell.prompt]
        test = self.plan.tests[cell.test]
        variables = dict(test.vars)
        if cell.prompt in self.conversation_prompts and not test.no_conversation:
            turns = self.conversations.get(self._conversation_key(cell), [])
            variables["_conversation"] = [dict(turn) for turn in turns]
        # the test's vars were settled at planning (their newline cut): cut the outputs' now
        stored = {name: output.removesuffix("\n") for name, output in self.stored.items()}
        variables = filled_vars({**variables, **stored})
        return CompletionRequest(
            self.plan.messages_with(cell.prompt, cell.test, variables),
            prompt.chat,
            variables,
            prompt.params,
        )

    def _conversation_key(self, cell: Cell) -> tuple[int, int, Any]:
        conversation = self.plan.tests[cell.test].metadata.get("conversationId")
        return (cell.provider, cell.prompt, stable_hash(conversation))

    def _add_turn(self, cell: Cell, request: CompletionRequest, output: str) -> None:
        """Keep a cell's turn for the later cells of its conversation, as promptfoo
        does: the prompt sent (messages, or text), its last message's text, the output."""
        messages = request.messages
        sent: Any = [m.to_dict() for m in messages] if request.chat else request.text
        last = messages[-1].text if request.chat and messages else request.text
        turns = self.conversations.setdefault(self._conversation_key(cell), [])
        turns.append({"prompt": sent, "input": last, "output": output})

    def _group_size(self, test: int, repeat: int) -> int:
        """How many cells of this run answer case ``test`` (its ``repeat``-th time)."""
        cells = (
            Cell(p, v, test, repeat)
            for p in range(len(self.plan.prompts))
            for v in range(len(self.plan.providers))
            if (p, v) not in self.skipped
        )
        return sum(1 for c in cells if self.select is None or self.select(c))

    async def arrive(self, pending: Pending) -> list[CellResult]:
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
        return await grade_together(self.plan.tests[cell.test_index], group)

    def _failed(
        self,
        cell: Cell,
        test: PlannedTest,
        prompt: str,
        error: str | None,
        attempts: int,
        output: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> CellResult:
        """A cell that got no output to grade: its prompt did not render, its calls failed,
        or its answer was malformed (``output``: what of it can be kept; ``variables``: the
        vars it was rendered with, when not its test's)."""
        return CellResult(
            prompt_index=cell.prompt,
            provider_index=cell.provider,
            test_index=cell.test,
            repeat=cell.repeat,
            prompt_id=self.plan.prompts[cell.prompt].id,
            provider_id=self.plan.provider_labels[cell.provider],
            test_description=test.description,
            vars=test.stored_vars if variables is None else kept_vars(variables),
            metadata=test.metadata,
            prompt=prompt,
            output=output,
            passed=False,
            score=0.0,
            error=error,
            attempts=attempts,
        )

    async def _execute(
        self, provider: Provider, cell: Cell, ahead: Ahead | None
    ) -> CellResult | Pending:
        """Run one cell: its answer (``ahead``: its request and cache entry, read ahead),
        graded; a Pending when its case is graded as a whole."""
        if self.plan.test_providers or self.plan.prompt_providers:  # its own provider
            provider = self.plan.provider_of(cell)
        prompt = self.plan.prompts[cell.prompt]
        test = self.plan.tests[cell.test]
        key: str | None = None
        hit: Found | None = None
        try:
            if ahead is not None:
                request, key, hit = ahead
            elif self.serial:  # rendered now: earlier cells' outputs fill it
                request = self._request_with_stored(cell)
            else:
                request = self.lookups.request(cell)
        except Exception as exc:  # validated at planning; kept as a cell error if it slips
            return self._failed(cell, test, "", f"template: {exc}", 0)
        text = request.text
        # a serial run lays the stored outputs and the turns so far (_conversation) over
        # the test's vars: the checks and the result see them, as in promptfoo
        variables = request.vars if self.serial else test.vars
        laid = variables if self.serial else None
        latency_ms: float | None
        if test.provider_output is not None:  # providerOutput: graded as given, no call
            key, hit = None, None
            completion, latency_ms, attempts = Completion(test.provider_output), 0.0, 0
        else:
            if ahead is None:
                key, hit = self.lookups.lookup(provider, cell, request)
            if hit is not None:  # served from the cache: no call, no attempt
                completion = hit[0] if hit[0].cached else replace(hit[0], cached=True)
                latency_ms, attempts = hit[1], 0
            else:
                outcome = await call_with_retries(provider, request, self.options)
                if outcome.completion is None:
                    return self._failed(
                        cell, test, text, outcome.error, outcome.attempts, variables=laid
                    )
                completion, latency_ms, attempts = (
                    outcome.completion,
                    outcome.latency_ms,
                    outcome.attempts,
                )
        checked, problem, kept = checked_completion(completion)
        if checked is None:
            return self._failed(cell, test, text, problem, attempts, kept, laid)
        if cell.prompt in self.conversation_prompts:
            self._add_turn(cell, request, checked.output)
        if (
            hit is None
            and key is not None
            and self.cache is not None
            and not self.redactor.carries_secret(
                test.vars, test.metadata, cell.provider, checked.output
            )
        ):  # the cache is kept in the store, which keeps no secret
            self.cache.put(key, provider.id, checked, latency_ms)
        completion = checked
        if test.output_transform is not None:  # after the cache: it keeps the model's answer
            try:
                shaped = test.output_transform(
                    completion.output,
                    {"vars": dict(variables), "prompt": {"raw": text, "label": prompt.label}},
                )
            except TransformError as exc:
                why = f"options.transform: {exc}"
                return self._failed(cell, test, text, why, attempts, completion.output, laid)
            completion = replace(completion, output=as_output_text(shaped))
        if test.store_output_as and completion.output:
            self.stored[test.store_output_as] = completion.output
        if test.stored_in_assertions is not None and self.plan.compiler is not None:
            try:  # values that use stored outputs, rendered with those stored so far
                resolved = replace(test.stored_in_assertions, vars=dict(variables))
                test = replace(test, assertions=self.plan.compiler.compile(resolved))
            except SuiteError as exc:
                why = f"assertion: {exc.message}"
                return self._failed(cell, test, text, why, attempts, completion.output, laid)
        usage = completion.usage
        label = self.plan.provider_labels[cell.provider]
        context = GradingContext(
            output=completion.output,
            vars=variables,
            prompt=text,
            provider_id=provider.id,
            test_description=test.description or "",
            latency_ms=latency_ms,
            cost=completion.cost,
            finish_reason=completion.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached=completion.cached,
            metadata=test.metadata,
            prompt_label=prompt.label,
            provider_label=label,
            tools=_declared_tools(provider),
        )
        # a judge's answer may quote the case's secrets: then it is not cached
        with cell_secrets(self.redactor.case_secrets(test.vars, test.metadata, cell.provider)):
            try:
                graded, error, grading, passed, score = await grade_alone(test, context)
            except TimeLimitExceeded as exc:  # a check that never ends: its output is not judged
                graded, error, grading, passed, score = [], str(exc), None, False, 0.0
        result = CellResult(
            prompt_index=cell.prompt,
            provider_index=cell.provider,
            test_index=cell.test,
            repeat=cell.repeat,
            prompt_id=prompt.id,
            provider_id=label,
            test_description=test.description,
            vars=test.stored_vars if laid is None else kept_vars(laid),
            metadata=test.metadata,
            prompt=text,
            output=completion.output,
            error=error,
            passed=passed,
            score=score,
            assertions=tuple(graded),
            latency_ms=latency_ms,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=completion.cost,
            finish_reason=completion.finish_reason,
            cached=completion.cached,
            attempts=attempts,
            model=completion.model,
            **(grader_fields(grading) if grading is not None else {}),
        )
        if test.has_group_assertions and error is None:
            return Pending(result, context, graded, grading or GradingUsage())
        return result


def _workers(provider: Provider, options: RunOptions, cells: int) -> int:
    """How many workers serve a provider that has ``cells`` cells to run."""
    limit = getattr(provider, "max_concurrency", None) or options.max_concurrency
    return max(1, min(options.max_concurrency, limit, cells))


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
    per_provider = plan.cells_per_provider()  # a pass over every test: counted once
    total = plan.total_cells if select is None else sum(1 for c in plan.cells() if select(c))
    # what sinks are told of the run holds no secret either (a key written in a prompt)
    prompts = [(redact_text(p.id), redact_text(p.label)) for p in plan.prompts]
    providers = [
        (redact_text(p.id), redact_text(label))
        for p, label in zip(plan.providers, plan.provider_labels, strict=True)
    ]
    description = redact(plan.description)
    builder = SummaryBuilder(
        description,
        prompts,
        [(label, label) for _, label in providers],
        per_provider // max(1, len(plan.prompts)),
        options.max_failures_kept,
        skipped=plan.skipped_pairs(),
        derived=[(m.name, m.value) for m in plan.suite.derived_metrics] if plan.suite else (),
    )
    started = time.time()
    event = RunStarted(run_id, description, prompts, providers, total, started, asdict(options))
    for sink in sinks:
        sink.on_start(event)
    runner = _Runner(plan, options, sinks, builder, cache, select)
    if plan.hooks is not None:
        plan.hooks.rows.clear()  # afterAll sees this run's results only
    # Judges (model-graded assertions) share the run's cache, cache keys and retry policy.
    runtime = set_runtime(JudgeRuntime(options, cache, runner.cache_keys))
    clock = time.perf_counter()
    try:
        with watching_interrupts():
            async with asyncio.TaskGroup() as group:
                if plan.stores_outputs:  # later tests read earlier outputs: one at a time
                    serial = plan.serial_cells()
                    if select is not None:
                        serial = filter(select, serial)
                    group.create_task(runner.worker(None, ((c, None) for c in serial)))
                for index, provider in enumerate(() if plan.stores_outputs else plan.providers):
                    cells = plan.cells_for(index)
                    if select is not None:
                        cells = filter(select, cells)
                    prepared = runner.lookups.prepared(provider, cells)
                    for _ in range(_workers(provider, options, per_provider)):
                        group.create_task(runner.worker(provider, prepared))
    except BaseException:
        builder.summary.interrupted = True
        _end(runtime, cache, builder, clock, sinks, run_id, stopping=True)
        raise
    if plan.hooks is not None:
        labels = [
            {"label": prompt.label, "provider": label}
            for index, label in enumerate(plan.provider_labels)
            for prompt in (plan.prompts[p] for p in plan.prompts_of(index))
        ]
        plan.hooks.after_all(labels, plan.suite)
    _end(runtime, cache, builder, clock, sinks, run_id, stopping=False)
    return builder.summary


def _end(
    runtime: Any,
    cache: CompletionCache | None,
    builder: SummaryBuilder,
    clock: float,
    sinks: Sequence[ResultSink],
    run_id: str,
    *,
    stopping: bool,
) -> None:
    """Close the run: its judges' runtime, its cache, its sinks. When the run is being
    stopped, a sink's failure is not raised over what stops it (the resume hint and exit
    code depend on that); the sinks all hear the end either way."""
    reset_runtime(runtime)
    try:
        if cache is not None:
            cache.flush()
    finally:
        builder.summary.duration_s = time.perf_counter() - clock
        try:
            finish_sinks(sinks, RunFinished(run_id, builder.summary, time.time()))
        except Exception:
            if not stopping:
                raise


def finish_sinks(sinks: Sequence[ResultSink], event: RunFinished) -> None:
    """Tell every sink the run is over, even when one of them fails (a store that cannot
    be written must not cost the reports); the first failure is raised after."""
    failure: BaseException | None = None
    for sink in sinks:
        try:
            sink.on_finish(event)
        except BaseException as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def _declared_tools(provider: Provider) -> DeclaredTools | None:
    declared = getattr(provider, "declared_tools", None)  # not every provider has tools
    return declared() if callable(declared) else None
