"""Tables that fit the terminal: the figures a user must read (ids, counts, rates) are never
cut; labels give way with an ellipsis, and at narrow widths the least needed columns are left
out and named below the table, rather than every column being squeezed to nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["Column", "fitted_table", "print_fitted"]


@dataclass(frozen=True)
class Column:
    """One column. A ``label`` column shrinks (to ``min_width``, with an ellipsis); the others
    are shown whole or not at all. ``drop`` orders the columns left out when even the shrunk
    table is too wide (lowest first); None: always shown."""

    header: str
    justify: Literal["left", "right"] = "left"
    label: bool = False
    min_width: int = 8
    max_width: int | None = None
    drop: int | None = None


def _width(text: str) -> int:
    from rich.text import Text

    return max((Text.from_markup(line).cell_len for line in text.splitlines()), default=0)


_GAP = 2  # between two columns: one space of padding and the box's blank separator


def _whole(column: Column, rows: Sequence[Sequence[str]], i: int) -> int:
    return max([_width(column.header), *(_width(row[i]) for row in rows)])


def _layout(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], keep: Sequence[int], width: int
) -> tuple[dict[int, int], bool]:
    """Each kept column's width within ``width``: the others whole, the labels sharing what is
    left (each at least its minimum); and whether that fits."""
    whole = {i: _whole(columns[i], rows, i) for i in keep}
    for i in keep:
        if columns[i].max_width is not None and columns[i].label:
            whole[i] = min(whole[i], columns[i].max_width or whole[i])
    labels = [i for i in keep if columns[i].label]
    widths = dict(whole)
    need = sum(whole.values()) + _GAP * (len(keep) - 1)
    for i in sorted(labels, key=lambda i: -whole[i]):  # the longest labels give way first
        if need <= width:
            break
        least = min(columns[i].min_width, whole[i])
        cut = min(need - width, whole[i] - least)
        widths[i] -= cut
        need -= cut
    return widths, need <= width


def _build(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], widths: dict[int, int]
) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
    )
    for i, width in widths.items():
        column = columns[i]
        table.add_column(
            column.header, justify=column.justify, no_wrap=True, overflow="ellipsis", width=width
        )
    for row in rows:
        table.add_row(*(row[i] for i in widths))
    return table


def fitted_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], console: Console
) -> tuple[Table, list[str]]:
    """The table that fits the console's width, and the headers of the columns left out."""
    keep = list(range(len(columns)))
    droppable = [
        i for _, i in sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None)
    ]
    widths, fits = _layout(columns, rows, keep, console.width)
    while not fits and droppable:
        keep.remove(droppable.pop(0))
        widths, fits = _layout(columns, rows, keep, console.width)
    hidden = [c.header for i, c in enumerate(columns) if i not in keep]
    return _build(columns, rows, widths), hidden


def print_fitted(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], console: Console
) -> None:
    """Print the fitted table, and a line naming the columns the width left out."""
    table, hidden = fitted_table(columns, rows, console)
    need = sum(c.width or 0 for c in table.columns) + _GAP * (len(table.columns) - 1)
    if need <= console.width:
        console.print(table)
    else:  # narrower than the figures themselves: the lines run over rather than cut an id
        width = console.width
        console.width = need
        try:
            console.print(table, crop=False)
        finally:
            console.width = width
    if hidden:
        console.print(f"[dim]not shown at {console.width} columns: {', '.join(hidden)}[/]")
