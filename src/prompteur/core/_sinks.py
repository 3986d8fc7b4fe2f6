"""Sinks receive a run as it happens: one start event, each result as its cell finishes, one
finish event (also when the run is interrupted). The runner keeps no results itself, so a
run's memory does not grow with its size; stores, outputs and progress bars are sinks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._results import CellResult
from ._summary import RunSummary

__all__ = ["CollectingSink", "ResultSink", "RunFinished", "RunStarted"]


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run is about to call its first model."""

    run_id: str
    description: str | None
    prompts: Sequence[tuple[str, str]]  # (id, label)
    providers: Sequence[tuple[str, str]]  # (id, label)
    total_cells: int
    started_at: float
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended; ``summary.interrupted`` tells whether it ran to completion."""

    run_id: str
    summary: RunSummary
    finished_at: float


@runtime_checkable
class ResultSink(Protocol):
    """Receives a run's events. Methods run on the event loop: keep them quick, and batch
    slow I/O."""

    def on_start(self, event: RunStarted) -> None: ...

    def on_result(self, result: CellResult) -> None: ...

    def on_finish(self, event: RunFinished) -> None: ...


class CollectingSink:
    """Keeps every result in memory, in completion order (what ``evaluate`` returns)."""

    def __init__(self) -> None:
        self.results: list[CellResult] = []

    def on_start(self, event: RunStarted) -> None:
        self.results.clear()

    def on_result(self, result: CellResult) -> None:
        self.results.append(result)

    def on_finish(self, event: RunFinished) -> None:
        pass
