"""Compiled assertions, grading one output, and scoring a test from its assertions."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

from ..core._interrupts import describe_exception, stops_the_run
from ..core._results import AssertionResult
from ..core._storable import without_surrogates
from ..core._time_limit import TimeLimitExceeded
from ._judge import GradingError
from ._registry import AssertionSpec, Grader, GradeResult, GradingContext, get_assertion

__all__ = [
    "AssertionResult",
    "CompiledAssertion",
    "compile_assertion",
    "grade_group",
    "grade_output",
    "score_test",
]


_RESULTS_KEPT = 4


@dataclass(frozen=True, slots=True)
class CompiledAssertion:
    """An assertion ready to grade: its factory has run and validated the settings."""

    type: str
    value: Any
    negate: bool
    weight: float
    metric: str | None
    grader: Grader
    is_async: bool
    threshold: float | None = None
    is_group: bool = False  # grades the outputs of one case together (select-best)
    # The results made from the grader's verdicts, for graders that hand out the same few
    # verdict objects (most deterministic checks: a pass and a fail made once): results are
    # immutable, so the same one serves every cell that gets that verdict.
    _made: dict[int, tuple[GradeResult, AssertionResult]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _finish(self, verdict: GradeResult) -> AssertionResult:
        made = self._made.get(id(verdict))
        if made is not None and made[0] is verdict:
            return made[1]
        given = verdict
        if not _well_formed(verdict):  # a plugin's grader: its verdict is no verdict
            raise GradingError(f"{self.type} returned a malformed verdict: {verdict!r}")
        if self.negate and not verdict.undecided:
            reason = verdict.reason if not verdict.passed else f"{verdict.reason} (expected not)"
            verdict = GradeResult(not verdict.passed, 1.0 - verdict.score, reason)
        reason = verdict.reason
        if not reason.isascii():  # a judge's or a check's text: no lone surrogates kept
            reason = without_surrogates(reason)
        result = AssertionResult(
            self.type, self.value, verdict.passed, verdict.score, reason, self.weight, self.metric
        )
        if len(self._made) < _RESULTS_KEPT:  # graders making new verdicts fill it, then stop
            self._made[id(given)] = (given, result)
        return result

    def _raised(self, exc: BaseException) -> GradingError:
        """What a grader raised (a bug, ``sys.exit()``, a malformed result...): the cell's
        error, since its output was not judged; a real interrupt goes on stopping the run."""
        if isinstance(exc, GradingError):
            return exc
        if stops_the_run(exc) or isinstance(exc, TimeLimitExceeded):
            raise exc  # the run is stopping, or the runner says the check ran too long
        return GradingError(f"{self.type} raised {describe_exception(exc)}")

    def grade_sync(self, ctx: GradingContext) -> AssertionResult:
        """The grader's verdict on one output; raises GradingError when it gives none."""
        try:
            verdict: GradeResult = self.grader(ctx)  # type: ignore[assignment] # a sync grader
            # the result of a verdict handed out before, without a call (graders of a large
            # suite's cells mostly hand out the same few verdicts)
            made = self._made.get(id(verdict))
            if made is not None and made[0] is verdict:
                return made[1]
            return self._finish(verdict)
        except BaseException as exc:  # whatever a grader raises is its cell's error
            raise self._raised(exc) from None

    async def grade_async(self, ctx: GradingContext) -> AssertionResult:
        try:
            result = self.grader(ctx)
            verdict = await result if inspect.isawaitable(result) else result
            return self._finish(verdict)
        except BaseException as exc:
            raise self._raised(exc) from None


def _well_formed(verdict: Any) -> bool:
    """A GradeResult whose pass is a bool and whose score is a finite number."""
    if not isinstance(verdict, GradeResult) or not isinstance(verdict.passed, bool):
        return False
    score = verdict.score
    return isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score)


def _is_async(grader: Grader) -> bool:
    """Whether the grader is a coroutine function (or an object whose ``__call__`` is)."""
    if type(grader) is FunctionType and not grader.__dict__:
        # a plain function, unmarked (what most factories return, once per distinct value
        # in a large suite): its code says it, without inspect's unwrapping
        return bool(grader.__code__.co_flags & inspect.CO_COROUTINE)
    return inspect.iscoroutinefunction(grader) or (
        not inspect.isfunction(grader) and inspect.iscoroutinefunction(type(grader).__call__)
    )


def compile_assertion(
    type_name: str,
    spec: AssertionSpec,
    *,
    weight: float,
    metric: str | None,
) -> CompiledAssertion:
    """Run the factory of ``spec.type``; raises AssertionValueError on bad settings."""
    registered = get_assertion(spec.type)
    grader = registered.factory(spec)
    return CompiledAssertion(
        type_name,
        spec.value,
        spec.negate,
        weight,
        metric,
        grader,
        _is_async(grader),
        spec.threshold,
        callable(getattr(grader, "grade_group", None)),
    )


async def grade_group(
    compiled: CompiledAssertion,
    contexts: Sequence[GradingContext],
    verdicts: Sequence[Sequence[AssertionResult]] = (),
) -> list[AssertionResult]:
    """Grade the outputs of one case together (select-best, max-score); ``verdicts`` are
    each output's other assertions' results, for a grader that reads them (max-score).
    Raises GradingError when there is no usable verdict."""
    grader: Any = compiled.grader
    try:
        if getattr(grader, "needs_verdicts", False):
            together = await grader.grade_group(contexts, verdicts)
        else:
            together = await grader.grade_group(contexts)
        return [compiled._finish(v) for v in together]
    except BaseException as exc:
        raise compiled._raised(exc) from None


async def grade_output(
    assertions: Sequence[CompiledAssertion], ctx: GradingContext
) -> list[AssertionResult]:
    """Grade one output with every assertion; synchronous graders run without a task switch."""
    results: list[AssertionResult] = []
    for compiled in assertions:
        if compiled.is_async:
            results.append(await compiled.grade_async(ctx))
        else:
            results.append(compiled.grade_sync(ctx))
    return results


def score_test(results: Sequence[AssertionResult], threshold: float | None) -> tuple[bool, float]:
    """A test's (passed, score): the weighted mean of assertion scores; it passes when every
    assertion passes, or when a threshold is set and the score reaches it. Raises
    GradingError when the score is not a finite number (an infinite weight or score)."""
    if not results:
        return True, 1.0
    total_weight = 0.0
    weighted = 0.0
    all_passed = True
    for result in results:
        total_weight += result.weight
        weighted += result.weight * result.score
        all_passed = all_passed and (result.passed or result.weight == 0)
    score = weighted / total_weight if total_weight > 0 else (1.0 if all_passed else 0.0)
    if not math.isfinite(score):
        weights = ", ".join(f"{r.type} {r.score:g}×{r.weight:g}" for r in results)
        raise GradingError(f"the score is not a finite number (scores × weights: {weights})")
    passed = all_passed or (threshold is not None and score >= threshold)
    return passed, score
