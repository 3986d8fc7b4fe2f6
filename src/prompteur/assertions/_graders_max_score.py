"""``max-score``: of a case's outputs, the one whose other assertions score highest passes;
the others fail. The aggregate is the weighted mean of those assertions' scores (or their
weighted sum with ``method: sum``), weighted per assertion type (``weights: {python: 3}``,
1 for a type not named), as promptfoo computes it; ``threshold`` is the least aggregate
the best output needs to pass. No model is called."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..core._results import AssertionResult
from ._graders_select_best import output_name
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

__all__ = ["MaxScore"]

_GROUP_TYPES = frozenset({"max-score", "select-best"})


class MaxScore:
    """Grades a case's outputs together, from the verdicts of their other assertions."""

    needs_verdicts = True  # grade_group is handed each output's other verdicts

    def __init__(self, method: str, weights: Mapping[str, float], threshold: float | None):
        self.method = method
        self.weights = weights
        self.threshold = threshold

    def __call__(self, ctx: GradingContext) -> GradeResult:
        return GradeResult(True, 1.0, "the only output of this case: nothing to compare")

    def aggregate(self, verdicts: Sequence[AssertionResult]) -> float:
        relevant = [v for v in verdicts if v.type.removeprefix("not-") not in _GROUP_TYPES]
        if not relevant:
            raise ValueError(
                "max-score needs at least one other assertion (besides max-score and "
                "select-best) to aggregate the scores of"
            )
        total = weight_sum = 0.0
        for verdict in relevant:
            weight = self.weights.get(verdict.type, 1.0)
            total += verdict.score * weight
            weight_sum += weight
        if self.method == "sum":
            return total
        return total / weight_sum if weight_sum > 0 else 0.0

    async def grade_group(
        self,
        contexts: Sequence[GradingContext],
        verdicts: Sequence[Sequence[AssertionResult]] = (),
    ) -> list[GradeResult]:
        if len(contexts) == 1:
            return [self(contexts[0])]
        scores = [self.aggregate(v) for v in verdicts]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))  # the first on a tie
        enough = self.threshold is None or scores[best] >= self.threshold
        winner = output_name(contexts[best])
        results = []
        for i, score in enumerate(scores):
            won = i == best and enough
            if won:
                reason = f"the highest aggregate score ({score:.3g}) among {len(scores)}"
            elif i == best:
                reason = (
                    f"the highest aggregate score ({score:.3g}), below the threshold "
                    f"{self.threshold:g}"
                )
            else:
                reason = (
                    f"aggregate score {score:.3g}; {winner} scored highest ({scores[best]:.3g})"
                )
            results.append(GradeResult(won, 1.0 if won else 0.0, reason))
        return results


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AssertionValueError(f"{what} must be a number, not {value!r}")
    return float(value)


@assertion("max-score", "the output whose other assertions score highest passes; the others fail")
def _max_score(spec: AssertionSpec) -> Any:
    value = spec.value if spec.value is not None else {}
    if not isinstance(value, Mapping):
        raise AssertionValueError("max-score takes a mapping: {method, weights, threshold}")
    unknown = set(value) - {"method", "weights", "threshold"}
    if unknown:
        raise AssertionValueError(
            f"max-score: unknown key {sorted(unknown)[0]!r} (it reads method, weights, threshold)"
        )
    method = value.get("method", "average")
    if method not in ("average", "sum"):
        raise AssertionValueError(f"max-score's method is 'average' or 'sum', not {method!r}")
    weights = value.get("weights", {})
    if not isinstance(weights, Mapping):
        raise AssertionValueError("max-score's weights map assertion types to numbers")
    threshold = value.get("threshold", spec.threshold)
    return MaxScore(
        method,
        {str(k): _number(w, f"the weight of {k!r}") for k, w in weights.items()},
        None if threshold is None else _number(threshold, "max-score's threshold"),
    )
