"""Cases graded as a whole (select-best): their cells wait for each other, then one judge
call grades them together and its usage is shared among them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..assertions._grading import grade_group, score_test
from ..assertions._judge import GradingError, GradingUsage, stop_tracking, track_usage
from ..assertions._registry import GradingContext
from ..core._results import AssertionResult, CellResult
from ._plan import PlannedTest

__all__ = ["Pending", "grade_together", "grader_fields"]


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
                    **grader_fields(pending.usage),
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
                **grader_fields(pending.usage),
            )
        )
    return results
