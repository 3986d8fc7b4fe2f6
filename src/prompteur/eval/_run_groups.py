"""Cases graded as a whole (select-best): their cells wait for each other, then one judge
call grades them together and its usage is shared among them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..assertions._grading import grade_group, grade_output, score_test
from ..assertions._judge import GradingError, GradingUsage, stop_tracking, track_usage
from ..assertions._registry import GradingContext
from ..core._results import AssertionResult, CellResult
from ..core._time_limit import TimeLimitExceeded
from ..core._transforms import TransformError
from ._plan import PlannedTest

__all__ = ["Pending", "grade_alone", "grade_together", "grader_fields", "test_verdict"]

SCORING = "assertScoringFunction"


def test_verdict(
    test: PlannedTest, results: list[AssertionResult]
) -> tuple[list[AssertionResult], bool, float]:
    """The test's results, pass and score: the assertions' (weighted mean, threshold), or
    what its assertScoringFunction makes of its named metrics' scores, as promptfoo calls
    it; that function's verdict joins the results, so its reason is seen."""
    passed, score = score_test(results, test.threshold)
    if test.scoring is None:
        return results, passed, score
    named: dict[str, float] = {}
    for result in results:
        if result.metric:
            named[result.metric] = named.get(result.metric, 0.0) + result.score
    context: dict[str, Any] = {
        "componentResults": [
            {
                "pass": r.passed,
                "score": r.score,
                "reason": r.reason,
                "assertion": {"type": r.type, "value": r.value, "metric": r.metric},
            }
            for r in results
        ],
        "tokensUsed": {},
    }
    if test.threshold is not None:  # absent, not null, as promptfoo's undefined is
        context["threshold"] = test.threshold
    try:
        verdict = test.scoring(named, context)
        ok = (
            isinstance(verdict, dict)
            and isinstance(verdict.get("pass"), bool)
            and isinstance(verdict.get("score"), int | float)
            and not isinstance(verdict.get("score"), bool)
        )
        if not ok:
            raise TransformError("it must return {pass: true or false, score: a number, reason}")
        passed, score = verdict["pass"], float(verdict["score"])
        reason = str(verdict.get("reason") or f"{SCORING}: score {score:g}")
    except TransformError as exc:
        passed, score, reason = False, 0.0, f"Scoring function error: {exc}"
    kept = AssertionResult(SCORING, None, passed, score, reason, weight=0.0)
    return [*results, kept], passed, score


def grader_fields(usage: GradingUsage) -> dict[str, Any]:
    """A cell's grading usage: what its judge calls cost this run (answers from the cache
    cost nothing again, as with the task's own calls)."""
    if not usage.calls and not usage.prompt_tokens and not usage.completion_tokens:
        return {}
    prompt_tokens, completion_tokens, cost = usage.paid
    return {
        "grader_prompt_tokens": prompt_tokens,
        "grader_completion_tokens": completion_tokens,
        "grader_cost": cost,
    }


async def grade_alone(
    test: PlannedTest, context: GradingContext
) -> tuple[list[AssertionResult], str | None, GradingUsage | None, bool, float]:
    """Grade one output with the test's assertions that grade it alone: the results, the
    reason grading failed (then no results), what the judges they call cost (None when the
    test calls none), and the test's (passed, score) unless a group assertion decides it."""
    grading: GradingUsage | None = None
    error: str | None = None
    graded: list[AssertionResult] = []
    if test.counts_judge_calls:
        grading, token = track_usage()
        try:
            graded = await grade_output(test.graded_alone, context)
        except GradingError as exc:
            error = f"grading: {exc}"
        finally:
            stop_tracking(token)
    else:  # synchronous graders only: no judge to count, no task switch
        try:
            graded = [compiled.grade_sync(context) for compiled in test.graded_alone]
        except GradingError as exc:
            error = f"grading: {exc}"
    passed, score = False, 0.0
    if error is None and not test.has_group_assertions:
        try:
            graded, passed, score = test_verdict(test, graded)
        except GradingError as exc:  # a score that is no finite number
            graded, error = [], f"grading: {exc}"
    return graded, error, grading, passed, score


@dataclass
class Pending:
    """A cell waiting for the other outputs of its case, to be graded with them."""

    result: CellResult
    context: GradingContext | None = None
    graded: list[AssertionResult] = field(default_factory=list)  # the individual assertions
    usage: GradingUsage = field(default_factory=GradingUsage)


async def grade_together(test: PlannedTest, group: list[Pending]) -> list[CellResult]:
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
                others = [p.graded for p in answered]
                for pending, verdict in zip(
                    answered, await grade_group(compiled, contexts, others), strict=True
                ):
                    joint[id(pending)].append(verdict)
    except GradingError as exc:
        error = f"grading: {exc}"
    except TimeLimitExceeded as exc:  # a check that never ends: the outputs are not judged
        error = str(exc)
    finally:
        stop_tracking(token)
    shares = usage.share(len(answered)) if answered else []
    results = []
    for pending in group:
        if pending.context is None or pending.result.error is not None:
            results.append(pending.result)
            continue
        pending.usage.merge(shares.pop(0))
        cell_error = error
        if cell_error is None:  # every group assertion gave this cell its verdict
            individual, together = iter(pending.graded), iter(joint[id(pending)])
            ordered = [next(together) if a.is_group else next(individual) for a in assertions]
            try:
                ordered, passed, score = test_verdict(test, ordered)
            except GradingError as exc:
                cell_error = f"grading: {exc}"
        if cell_error is not None:
            results.append(
                replace(
                    pending.result,
                    error=cell_error,
                    passed=False,
                    score=0.0,
                    assertions=(),
                    **grader_fields(pending.usage),
                )
            )
            continue
        results.append(
            replace(
                pending.result,
                passed=passed,
                score=score,
                assertions=tuple(ordered),
                **grader_fields(pending.usage),
            )
        )
    return results
