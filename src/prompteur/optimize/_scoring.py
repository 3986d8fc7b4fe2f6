"""Scoring candidate prompts on cases through the same runner as ``eval`` (render →
cache → provider → assertions), with every call that reaches a model charged to the
ledger first: a batch is cut to what the budget can pay before it starts, and each call
is refused if, retries included, it would overflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..core._errors import PermanentProviderError
from ..core._results import CellResult
from ..core._sinks import CollectingSink
from ..eval._plan import Cell, Plan
from ..eval._run import run_plan
from ..prompts._template import PromptTemplate
from ..providers._base import BaseProvider, Completion, CompletionRequest, provider_identity
from ..providers._cache import CacheKeys, CompletionCache
from ..providers._retry import RunOptions
from ._budget import Ledger

__all__ = ["BUDGET_REFUSAL", "BudgetedProvider", "CaseScore", "Scorer"]

BUDGET_REFUSAL = "the optimizer's budget is spent"


class BudgetedProvider(BaseProvider):
    """A provider whose every call is charged to the ledger before it is made (the
    runner calls it only on a cache miss)."""

    def __init__(self, inner: Any, ledger: Ledger, role: str) -> None:
        super().__init__(inner.id, getattr(inner, "label", None))
        self.inner = inner
        self.ledger = ledger
        self.role = role
        self.cacheable = getattr(inner, "cacheable", True) and callable(
            getattr(inner, "identity", None)
        )
        self.vars_in_cache_key = getattr(inner, "vars_in_cache_key", False)
        self.max_concurrency = getattr(inner, "max_concurrency", None)

    def identity(self) -> Mapping[str, Any]:
        return provider_identity(self.inner)

    async def complete(self, request: CompletionRequest) -> Completion:
        reservation = self.ledger.reserve(self.role, len(request.text))
        if reservation is None:
            raise PermanentProviderError(BUDGET_REFUSAL)
        try:
            completion: Completion = await self.inner.complete(request)
        except BaseException:
            self.ledger.settle(self.role, reservation, None, None, None)
            raise
        usage = completion.usage
        self.ledger.settle(
            self.role, reservation, usage.prompt_tokens, usage.completion_tokens, completion.cost
        )
        return completion

    async def preflight(self) -> None:
        check = getattr(self.inner, "preflight", None)
        if check is not None:
            await check()

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


@dataclass(frozen=True)
class CaseScore:
    """A candidate on one case: its score (mean over the task models), whether it passed,
    and what the model said and why it failed (for reflection)."""

    score: float
    passed: bool
    output: str
    reason: str


def _failure_reason(result: CellResult) -> str:
    if result.error:
        return result.error
    failed = [a.reason for a in result.assertions if not a.passed and a.reason]
    return "; ".join(failed)[:300]


class Scorer:
    """Scores templates on cases of ``plan``; what was scored once is not scored again."""

    def __init__(
        self,
        plan: Plan,
        providers: Sequence[BudgetedProvider],
        ledger: Ledger,
        cache: CompletionCache | None,
        options: RunOptions,
    ) -> None:
        self.plan = plan
        self.providers = list(providers)
        self.ledger = ledger
        self.cache = cache
        self.options = options
        self.memo: dict[tuple[str, int], CaseScore] = {}
        self.exhausted = False
        self.keys = CacheKeys()
        self.seen_cases: set[int] = set()  # every case a task model was asked about
        # model-graded assertions call a judge per output: those calls are charged too
        self.judge_calls = max(
            (sum(1 for a in t.assertions if a.is_async) for t in plan.tests), default=0
        )
        _charge_judges(plan, ledger)

    def known(self, key: str, cases: Sequence[int]) -> dict[int, CaseScore]:
        return {c: self.memo[(key, c)] for c in cases if (key, c) in self.memo}

    async def score(
        self, key: str, template: PromptTemplate, cases: Sequence[int]
    ) -> dict[int, CaseScore]:
        """The candidate's scores on ``cases``: those the budget could pay for (when it
        cannot pay for them all, ``exhausted`` is set and the rest are left out)."""
        wanted = [c for c in dict.fromkeys(cases) if (key, c) not in self.memo]
        if wanted:
            # every call counts here, cached or not: a warm cache changes no decision
            per_case = len(self.providers) * (1 + self.judge_calls)
            affordable = self.ledger.affordable_calls(len(template.raw) + 200) // per_case
            chosen = wanted[:affordable]
            if len(chosen) < len(wanted):
                self.exhausted = True
            if chosen:
                await self._run(key, template, chosen)
        return self.known(key, cases)

    async def _run(self, key: str, template: PromptTemplate, cases: list[int]) -> None:
        plan = replace(
            self.plan,
            prompts=[template],
            providers=list(self.providers),
            provider_labels=self.plan.provider_labels[: len(self.providers)],
            rendered={},
            affixed=None,
            _fingerprint=None,
        )
        chosen = set(cases)
        self.seen_cases |= chosen

        def selected(cell: Cell) -> bool:
            return cell.test in chosen and cell.repeat == 0

        collector = CollectingSink()
        await run_plan(plan, self.options, [collector], cache=self.cache, select=selected)
        by_case: dict[int, list[CellResult]] = {}
        for result in collector.results:
            by_case.setdefault(result.test_index, []).append(result)
        for case, results in by_case.items():
            if any(BUDGET_REFUSAL in (r.error or "") for r in results):
                self.exhausted = True  # not scored: the budget stopped it
                continue
            self._count(results)
            score = sum(r.score for r in results) / len(results)
            passes = sum(1 for r in results if r.passed)
            failed = next((r for r in results if not r.passed), results[0])
            self.memo[(key, case)] = CaseScore(
                score,
                passes * 2 >= len(results) and passes > 0,
                failed.output or "",
                _failure_reason(failed) if not failed.passed else "",
            )

    def _count(self, results: list[CellResult]) -> None:
        for result in results:
            if result.cached:
                tokens = (result.prompt_tokens or 0) + (result.completion_tokens or 0)
                self.ledger.served_from_cache("task", tokens, result.cost or 0.0)


def _charge_judges(plan: Plan, ledger: Ledger) -> None:
    """Put the judges of model-graded assertions behind the ledger (role ``judge``), so
    that their calls are charged and capped like the task's."""
    pool = plan.judges
    for judge in getattr(pool, "_judges", {}).values():
        if not isinstance(judge.provider, BudgetedProvider):
            judge.provider = BudgetedProvider(judge.provider, ledger, "judge")
