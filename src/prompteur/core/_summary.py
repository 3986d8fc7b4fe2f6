"""Aggregates of a run per prompt × provider, built incrementally as results stream in."""

from __future__ import annotations

from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ._results import CellResult
from ._stats import percentile, wilson_interval

__all__ = ["GroupSummary", "RunSummary", "SummaryBuilder"]


@dataclass
class GroupSummary:
    """Totals of one prompt on one provider. Memory per cell is one latency (8 bytes)."""

    prompt_id: str
    prompt_label: str
    provider_id: str
    provider_label: str
    planned: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    cached: int = 0
    score_sum: float = 0.0
    # tokens and cost of the calls this run made; cells served from the cache cost nothing
    # again, and what they first cost is kept apart
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached_tokens: int = 0
    cached_cost: float | None = None
    # what the judges of model-graded assertions cost, apart from the task's own
    grader_tokens: int = 0
    grader_cost: float | None = None
    human: int = 0  # cells whose verdict is a person's
    cut_short: int = 0  # answers stopped by max_tokens
    latencies: array[float] = field(default_factory=lambda: array("d"), repr=False)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum, count]

    @property
    def done(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def graded(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        """Passed over finished cells: a cell whose call errored did not pass."""
        return self.passed / self.done if self.done else None

    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the pass rate."""
        return wilson_interval(self.passed, self.done)

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.graded if self.graded else None

    def latency(self, q: float) -> float | None:
        return percentile(self.latencies, q)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def metric_means(self) -> dict[str, float]:
        return {name: total / count for name, (total, count) in self.metrics.items() if count}

    def add(self, result: CellResult) -> None:
        status = result.status  # a person's verdict, where there is one, counts
        if status == "error":
            self.errors += 1
        elif status == "pass":
            self.passed += 1
        else:
            self.failed += 1
        if result.human is not None:
            self.human += 1
        if result.cut_short:
            self.cut_short += 1
        if status != "error":
            self.score_sum += result.final_score
            for assertion in result.assertions:
                if assertion.metric:
                    slot = self.metrics.setdefault(assertion.metric, [0.0, 0])
                    slot[0] += assertion.score
                    slot[1] += 1
        if result.cached:
            self.cached += 1
        if result.latency_ms is not None and not result.cached:
            self.latencies.append(result.latency_ms)
        if result.cached:
            self.cached_tokens += (result.prompt_tokens or 0) + (result.completion_tokens or 0)
            if result.cost is not None:
                self.cost = self.cost or 0.0
                self.cached_cost = (self.cached_cost or 0.0) + result.cost
        else:
            self.prompt_tokens += result.prompt_tokens or 0
            self.completion_tokens += result.completion_tokens or 0
            if result.cost is not None:
                self.cost = (self.cost or 0.0) + result.cost
        self.grader_tokens += (result.grader_prompt_tokens or 0) + (
            result.grader_completion_tokens or 0
        )
        if result.grader_cost is not None:
            self.grader_cost = (self.grader_cost or 0.0) + result.grader_cost


@dataclass
class RunSummary:
    """The run's totals, its groups, and the first failures (kept for the report)."""

    description: str | None
    groups: list[GroupSummary]
    planned: int
    failures: list[CellResult] = field(default_factory=list, repr=False)
    failures_seen: int = 0
    duration_s: float = 0.0
    interrupted: bool = False

    @property
    def passed(self) -> int:
        return sum(g.passed for g in self.groups)

    @property
    def failed(self) -> int:
        return sum(g.failed for g in self.groups)

    @property
    def errors(self) -> int:
        return sum(g.errors for g in self.groups)

    @property
    def done(self) -> int:
        return sum(g.done for g in self.groups)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.done if self.done else None

    @property
    def cached(self) -> int:
        """Cells served from the completion cache."""
        return sum(g.cached for g in self.groups)

    @property
    def cached_cost(self) -> float | None:
        """What the cells served from the cache cost when they were first asked."""
        costs = [g.cached_cost for g in self.groups if g.cached_cost is not None]
        return sum(costs) if costs else None

    @property
    def human(self) -> int:
        """Cells whose verdict is a person's (``prompteur rate``)."""
        return sum(g.human for g in self.groups)

    @property
    def cut_short(self) -> int:
        return sum(g.cut_short for g in self.groups)

    @property
    def success(self) -> bool:
        """Every planned cell ran and passed."""
        return (
            not self.interrupted
            and self.done == self.planned
            and self.failed == 0
            and self.errors == 0
        )

    def group(self, prompt_id: str, provider_id: str) -> GroupSummary:
        for group in self.groups:
            if group.prompt_id == prompt_id and group.provider_id == provider_id:
                return group
        raise KeyError((prompt_id, provider_id))


class SummaryBuilder:
    """Folds results into a RunSummary; keeps at most ``max_failures`` failed cells."""

    def __init__(
        self,
        description: str | None,
        prompts: Sequence[tuple[str, str]],
        providers: Sequence[tuple[str, str]],
        planned_per_group: int,
        max_failures: int = 50,
        skipped: Collection[tuple[int, int]] = (),
    ) -> None:
        """``skipped``: the (prompt, provider) pairs that have no cells (prompts a provider
        does not run); they have no group."""
        self.max_failures = max_failures
        self._groups = {
            (pi, vi): GroupSummary(pid, plabel, vid, vlabel, planned=planned_per_group)
            for vi, (vid, vlabel) in enumerate(providers)
            for pi, (pid, plabel) in enumerate(prompts)
            if (pi, vi) not in skipped
        }
        self.summary = RunSummary(
            description, list(self._groups.values()), planned=planned_per_group * len(self._groups)
        )

    def add(self, result: CellResult) -> None:
        self._groups[(result.prompt_index, result.provider_index)].add(result)
        if result.status != "pass":
            self.summary.failures_seen += 1
            if len(self.summary.failures) < self.max_failures:
                self.summary.failures.append(result)
