"""The prompt optimizer: candidates raced on a suite's validation cases within a call
budget, the winner proven on held-out cases the search never saw."""

from ._api import OptimizeError, Settings, optimize, optimize_async
from ._budget import Budget, BudgetError, Ledger, parse_budget
from ._outcome import HoldoutResult, OptimizeResult

__all__ = [
    "Budget",
    "BudgetError",
    "HoldoutResult",
    "Ledger",
    "OptimizeError",
    "OptimizeResult",
    "Settings",
    "optimize",
    "optimize_async",
    "parse_budget",
]
