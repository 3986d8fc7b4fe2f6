"""An assertion's own ``transform``: the output it grades is reshaped first, for it alone."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from typing import Any

from ..core._transforms import Transform, TransformError
from ._grading import CompiledAssertion
from ._registry import GradeResult, GradingContext

__all__ = ["as_output_text", "with_transform"]


def as_output_text(value: Any) -> str:
    """What a transform returned, as the text graders read (promptfoo's outputString)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def with_transform(compiled: CompiledAssertion, transform: Transform) -> CompiledAssertion:
    """The assertion, grading the transformed output; a transform that fails fails it."""
    grader = compiled.grader

    def transformed(ctx: GradingContext) -> GradingContext | GradeResult:
        context = {"vars": dict(ctx.vars), "prompt": {"label": ctx.prompt_label, "raw": ctx.prompt}}
        try:
            return replace(ctx, output=as_output_text(transform(ctx.output, context)))
        except TransformError as exc:
            return GradeResult(False, 0.0, f"transform: {exc}", undecided=True)

    if compiled.is_async:

        async def grade_async(ctx: GradingContext) -> GradeResult:
            given = transformed(ctx)
            if isinstance(given, GradeResult):
                return given
            result = grader(given)
            return await result if inspect.isawaitable(result) else result

        return replace(compiled, grader=grade_async, _made={})

    def grade(ctx: GradingContext) -> GradeResult:
        given = transformed(ctx)
        return given if isinstance(given, GradeResult) else grader(given)  # type: ignore[return-value]

    return replace(compiled, grader=grade, _made={})
