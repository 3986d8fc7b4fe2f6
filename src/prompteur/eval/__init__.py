"""Evaluation: planning, the async runner, assertions, scoring and statistics."""

from ._api import EvalOptions, EvalResult, evaluate, evaluate_async, plan_suite
from ._grading import AssertionResult, score_test
from ._judge import GradingError, Judge
from ._plan import Cell, Plan, PlannedTest
from ._registry import (
    AssertionSpec,
    AssertionValueError,
    GradeResult,
    GradingContext,
    assertion,
    assertion_types,
)
from ._results import CellResult, HumanVerdict
from ._run import RunOptions
from ._sinks import CollectingSink, ResultSink, RunFinished, RunStarted
from ._stats import percentile, wilson_interval
from ._summary import GroupSummary, RunSummary

__all__ = [
    "AssertionResult",
    "AssertionSpec",
    "AssertionValueError",
    "Cell",
    "CellResult",
    "CollectingSink",
    "EvalOptions",
    "EvalResult",
    "GradeResult",
    "GradingContext",
    "GradingError",
    "GroupSummary",
    "HumanVerdict",
    "Judge",
    "Plan",
    "PlannedTest",
    "ResultSink",
    "RunFinished",
    "RunOptions",
    "RunStarted",
    "RunSummary",
    "assertion",
    "assertion_types",
    "evaluate",
    "evaluate_async",
    "percentile",
    "plan_suite",
    "score_test",
    "wilson_interval",
]
