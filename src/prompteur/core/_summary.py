"""Aggregates of a run per prompt × provider, built incrementally as results stream in."""

from __future__ import annotations

import ast
import math
import operator
from array import array
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ._results import CellResult
from ._stats import percentile, wilson_interval

__all__ = [
    "DerivedMetric",
    "GroupSummary",
    "RunSummary",
    "SummaryBuilder",
    "check_metric_expression",
]

#: A derived metric (promptfoo's ``derivedMetrics``): a name, and an arithmetic expression
#: over the named metrics' totals for one prompt (``tp / (tp + fp)``).
DerivedMetric = tuple[str, str]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: _divide(a, b),
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
}


def _divide(a: float, b: float) -> float:
    # as math.js (and JavaScript) divide: by zero gives an infinity, or NaN for 0 / 0
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


def _parse(expression: str) -> ast.expr:
    # math.js's ^ raises to a power, and binds tighter than * as ** does
    return ast.parse(expression.strip().replace("^", "**"), mode="eval").body


def check_metric_expression(expression: str) -> str | None:
    """What is wrong with a derived metric's expression (numbers, metric names, + - * / ^ %,
    parentheses, and abs min max sqrt log exp round floor ceil), or None."""
    try:
        tree = _parse(expression)
    except SyntaxError:
        return "is not an arithmetic expression"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
                return "calls a function it cannot (abs, min, max, sqrt, log, exp, round...)"
            if node.keywords:
                return "passes a function a keyword argument"
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                return "uses an operator other than + - * / ^ %"
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                return "holds a value that is not a number"
        elif not isinstance(node, ast.Name | ast.UnaryOp | ast.Load | ast.operator | ast.unaryop):
            return "is not an arithmetic expression"
    return None


def _evaluate(node: ast.expr, names: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # check_metric_expression saw to it
        return float(node.value)
    if isinstance(node, ast.Name):
        return names[node.id]  # a KeyError: a metric the group has no value of
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return float(_FUNCTIONS[node.func.id](*(_evaluate(a, names) for a in node.args)))


def derived_values(
    derived: Sequence[DerivedMetric], totals: Mapping[str, float]
) -> dict[str, float]:
    """The derived metrics, in order (one may use those before it), over the named metrics'
    totals; one that names a metric with no value, or fails, is left out."""
    names = dict(totals)
    out: dict[str, float] = {}
    for name, expression in derived:
        try:
            value = _evaluate(_parse(expression), names)
        except (KeyError, ArithmeticError, ValueError, TypeError, SyntaxError):
            continue
        names[name] = out[name] = value
    return out


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
    derived: Sequence[DerivedMetric] = ()

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
        """Each named metric's mean, then each derived metric's value (computed over the
        named metrics' totals, as promptfoo computes them)."""
        means = {name: total / count for name, (total, count) in self.metrics.items() if count}
        if self.derived:
            totals = {name: total for name, (total, _) in self.metrics.items()}
            means.update(derived_values(self.derived, totals))
        return means

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
        derived: Sequence[DerivedMetric] = (),
    ) -> None:
        """``skipped``: the (prompt, provider) pairs that have no cells (prompts a provider
        does not run); they have no group. ``derived``: the derived metrics each group
        computes."""
        self.max_failures = max_failures
        self._groups = {
            (pi, vi): GroupSummary(
                pid, plabel, vid, vlabel, planned=planned_per_group, derived=derived
            )
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
