"""Evaluation: planning a suite, the async runner, and recording and resuming runs.

Assertion and result names are re-exported here for older imports; they live in
``prompteur.assertions`` and ``prompteur.core``."""

from ..assertions._grading import score_test
from ..assertions._judge import GradingError, Judge
from ..assertions._registry import (
    AssertionSpec,
    AssertionValueError,
    GradeResult,
    GradingContext,
    assertion,
    assertion_types,
)
from ..core._results import AssertionResult, CellResult, HumanVerdict
from ..core._sinks import CollectingSink, ResultSink, RunFinished, RunStarted
from ..core._stats import percentile, wilson_interval
from ..core._summary import GroupSummary, RunSummary
from ._api import EvalOptions, EvalResult, evaluate, evaluate_async, plan_suite
from ._plan import Cell, Plan, PlannedTest

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
