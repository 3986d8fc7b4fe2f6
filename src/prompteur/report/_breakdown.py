"""``--by VAR``: pass rates broken down by the value of a test variable (a per-class table
for a classifier, per category, per language…), for each prompt × provider."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core._json import dumps
from ..core._stats import wilson_interval
from ._summary import excerpt

if TYPE_CHECKING:
    from rich.console import Console

    from ..core._results import CellResult

__all__ = ["Breakdown", "break_down", "print_breakdown"]

MISSING = "(not set)"


@dataclass
class Breakdown:
    """Passed and finished cells per value of ``var`` and per prompt × provider column."""

    var: str
    columns: list[str] = field(default_factory=list)
    # value -> column -> [passed, done]
    counts: dict[str, dict[int, list[int]]] = field(default_factory=dict)

    def add(self, result: CellResult, column: int) -> None:
        value = result.vars.get(self.var, MISSING) if self.var in result.vars else MISSING
        text = value if isinstance(value, str) else dumps(value)
        slot = self.counts.setdefault(text, {}).setdefault(column, [0, 0])
        slot[1] += 1
        if result.status == "pass":
            slot[0] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "var": self.var,
            "values": {
                value: {
                    self.columns[c]: {"passed": p, "done": d, "pass_rate": p / d if d else None}
                    for c, (p, d) in by_column.items()
                }
                for value, by_column in self.counts.items()
            },
        }


def break_down(results: Iterable[CellResult], variables: Sequence[str]) -> list[Breakdown]:
    """One breakdown per variable, in one pass over the results."""
    breakdowns = [Breakdown(var) for var in variables]
    columns: dict[tuple[str, str], int] = {}
    for result in results:
        key = (result.prompt_id, result.provider_id)
        column = columns.setdefault(key, len(columns))
        for breakdown in breakdowns:
            breakdown.add(result, column)
    names = [f"{prompt} × {provider}" for prompt, provider in columns]
    for breakdown in breakdowns:
        breakdown.columns = names
    return breakdowns


def _rate(passed: int, done: int) -> str:
    if not done:
        return "—"
    low, high = wilson_interval(passed, done)
    return f"{passed / done:.0%} ({passed}/{done}) {low:.0%}–{high:.0%}"


def print_breakdown(breakdown: Breakdown, console: Console) -> None:
    """A table: one row per value (the most frequent first), one column per prompt ×
    provider, each cell the pass rate with its count and 95% interval."""
    from rich.markup import escape

    from ._tables import Column, print_fitted

    console.print(f"\n[bold]by {escape(breakdown.var)}[/]")
    if not breakdown.counts:
        console.print("[dim]no cells[/]")
        return
    columns = [
        Column(breakdown.var, label=True, min_width=10, max_width=30),
        Column("cases", "right"),
    ]
    columns += [Column(escape(name), "right", drop=9) for name in breakdown.columns]
    columns[2] = Column(escape(breakdown.columns[0]), "right")  # the first is always shown
    ordered = sorted(
        breakdown.counts.items(), key=lambda item: (-max(d for _, d in item[1].values()), item[0])
    )
    rows = [
        [
            escape(excerpt(value, 60)),
            str(max(d for _, d in by_column.values())),
            *(_rate(*by_column.get(c, [0, 0])) for c in range(len(breakdown.columns))),
        ]
        for value, by_column in ordered
    ]
    print_fitted(columns, rows, console)
