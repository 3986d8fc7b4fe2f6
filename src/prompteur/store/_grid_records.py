"""What a run's grid is made of, as the store hands it to a viewer: the filter, pages of
rows of cells, one cell whole, and each prompt × provider's figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core._results import HumanVerdict

__all__ = ["CellDetail", "GridCell", "GridFilter", "GridPage", "GridRow", "GroupStats"]


@dataclass(frozen=True)
class GridFilter:
    """Which rows (cases) of a run's grid to show. A row is shown when any of its cells
    matches: failed (or errored), graded on ``metric``, rated by a person, or the text
    found in its output or its case; ``differing`` wants cells whose verdicts differ."""

    failures: bool = False
    metric: str | None = None
    differing: bool = False
    rated: bool = False
    search: str | None = None
    sort: str = "case"


@dataclass(frozen=True, slots=True)
class GridCell:
    key: str
    prompt_pos: int
    provider_pos: int
    repeat: int
    status: str  # the human verdict where there is one
    automatic: str  # the graders' verdict
    score: float
    output: str | None  # an excerpt
    truncated: bool
    error: str | None
    latency_ms: float | None
    human: bool


@dataclass(frozen=True, slots=True)
class GridRow:
    test_pos: int
    case: str
    cells: list[GridCell]


@dataclass(frozen=True)
class GridPage:
    total: int | None  # rows that match the filter; None: not counted yet
    offset: int
    rows: list[GridRow] = field(default_factory=list)
    more: bool = False  # rows that match come after these


@dataclass(frozen=True)
class CellDetail:
    """Everything stored about one cell, with every human verdict and comment on it."""

    run_id: str
    key: str
    prompt_pos: int
    provider_pos: int
    test_pos: int
    repeat: int
    case: str
    vars: dict[str, Any]
    status: str
    automatic: str
    score: float
    rendered_prompt: str
    output: str | None
    error: str | None
    assertions: list[dict[str, Any]]
    latency_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    grader_cost: float | None
    model: str | None
    cached: bool
    ratings: list[HumanVerdict]


@dataclass
class GroupStats:
    """One prompt × provider of a run, as its summary shows it."""

    prompt_pos: int
    provider_pos: int
    done: int
    passed: int
    errors: int
    mean_score: float | None
    mean_latency_ms: float | None
    tokens: int
    cost: float | None
    human: int = 0

    @property
    def graded(self) -> int:
        return self.done - self.errors
