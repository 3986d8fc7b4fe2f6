"""Assertions: the registry of assertion types, the built-in checks, the model-graded
graders and their judges, and similarity. Every client (the runner, the optimizer, red
team probes) grades with them."""

from ..core._results import AssertionResult
from ._grading import score_test
from ._judge import GradingError, Judge
from ._registry import (
    AssertionSpec,
    AssertionValueError,
    GradeResult,
    GradingContext,
    assertion,
    assertion_types,
)

__all__ = [
    "AssertionResult",
    "AssertionSpec",
    "AssertionValueError",
    "GradeResult",
    "GradingContext",
    "GradingError",
    "Judge",
    "assertion",
    "assertion_types",
    "score_test",
]
