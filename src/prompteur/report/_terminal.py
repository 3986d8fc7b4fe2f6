"""The terminal report: a table per prompt × provider, then the failures, compactly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core._results import CellResult
from ..core._summary import GroupSummary, RunSummary
from ._summary import excerpt as _excerpt
from ._summary import format_cost, format_ms

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["print_summary"]


def _rate_style(rate: float | None) -> str:
    if rate is None:
        return "dim"
    if rate >= 0.9:
        return "green"
    if rate >= 0.6:
        return "yellow"
    return "red"


def _rate_cell(group: GroupSummary) -> str:
    rate = group.pass_rate
    if rate is None:
        return "[dim]—[/]"
    return f"[{_rate_style(rate)}]{rate:.0%}[/] ({group.passed}/{group.done})"


def _interval_cell(group: GroupSummary) -> str:
    if not group.done:
        return "—"
    low, high = group.interval()
    return f"{low:.0%}–{high:.0%}"


def print_summary(
    summary: RunSummary,
    console: Console,
    *,
    run_id: str | None = None,
    max_failures: int = 10,
    cells: tuple[str, Sequence[CellResult]] | None = None,
) -> None:
    """Print the summary table, named metrics, and up to ``max_failures`` failures; or, given
    ``cells`` (a heading and the cells), those cells in place of the failures."""
    from rich.markup import escape

    from ._tables import Column, print_fitted

    title = summary.description or "evaluation"
    if run_id:  # the run id stays on the title's line, whole: the title gives way
        title = _excerpt(title, max(20, console.width - len(f"  run {run_id}")))
    console.print(f"\n[bold]{escape(title)}[/]" + (f"  [dim]run {run_id}[/]" if run_id else ""))
    # Rates, intervals and errors are read whole; the labels give way (with an ellipsis) on
    # narrow terminals, then latency, tokens and cost are left out, and named below.
    judged = any(g.grader_tokens or g.grader_cost for g in summary.groups)
    columns = [
        Column("prompt", label=True, min_width=8, max_width=40),
        Column("provider", label=True, min_width=8, max_width=28),
        Column("pass rate", justify="right"),
        Column("95% CI", justify="right"),
        Column("score", justify="right", drop=7),
        Column("errors", justify="right"),
        Column("p50", justify="right", drop=5),
        Column("p95", justify="right", drop=3),
        Column("tokens", justify="right", drop=4),
        Column("cost", justify="right", drop=6),
    ]
    if judged:  # model-graded assertions: what the judges cost, apart from the task
        columns += [
            Column("grader tokens", justify="right", drop=1),
            Column("grader cost", justify="right", drop=2),
        ]
    rows = []
    for group in summary.groups:
        score = group.mean_score
        grading = [f"{group.grader_tokens:,}", format_cost(group.grader_cost)] if judged else []
        rows.append(
            [
                escape(group.prompt_label),
                escape(group.provider_id),
                _rate_cell(group),
                _interval_cell(group),
                "—" if score is None else f"{score:.2f}",
                f"[yellow]{group.errors}[/]" if group.errors else "0",
                format_ms(group.latency(50)),
                format_ms(group.latency(95)),
                f"{group.total_tokens:,}",
                format_cost(group.cost),
                *grading,
            ]
        )
    print_fitted(columns, rows, console)
    if summary.human:
        console.print(
            f"[cyan]{summary.human} {'cells carry' if summary.human != 1 else 'cell carries'}"
            " a human verdict ('prompteur rate'), counted instead of the automatic grade[/]"
        )
    _print_metrics(summary, console)
    if cells is None:
        _print_failures(summary, console, max_failures)
    else:
        _print_cells(*cells, console)
    _print_totals(summary, console)


def _print_metrics(summary: RunSummary, console: Console) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    names = sorted({name for g in summary.groups for name in g.metrics})
    derived = [name for name, _ in summary.groups[0].derived] if summary.groups else []
    names += [name for name in derived if name not in names]
    if not names:
        return
    console.print()
    title = "named metrics (mean score)"
    if derived:
        title = "named metrics (mean score; derived ones computed over the totals)"
    table = Table(
        title=title,
        show_edge=False,
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    table.add_column("prompt")
    table.add_column("provider")
    for name in names:
        table.add_column(escape(name), justify="right")
    for group in summary.groups:
        means = group.metric_means()
        table.add_row(
            escape(group.prompt_label),
            escape(group.provider_id),
            *(f"{means[n]:.2f}" if n in means else "—" for n in names),
        )
    console.print(table)


def _failure_line(result: CellResult) -> str:
    from rich.markup import escape

    where = _excerpt(f"{result.prompt_id} × {result.provider_id}", 120)
    case = _excerpt(result.case_label, 120)
    cell = f" [dim]cell {result.key}[/]"
    if result.status == "error":
        return (
            f"[yellow]![/] {escape(where)} · {escape(case)}{cell}\n"
            f"    [yellow]error:[/] {escape(_excerpt(result.error or '', 200))}"
        )
    reasons = [f"{a.type}: {a.reason}" for a in result.failed_assertions()]
    if result.human is not None:
        comment = f": {result.human.comment}" if result.human.comment else ""
        reasons = [f"human verdict by {result.human.author}: fail{comment}"]
    if not reasons:
        reasons = [f"score {result.score:.2f} below the threshold"]
    lines = [f"[red]✗[/] {escape(where)} · {escape(case)}{cell}"]
    lines += [f"    {escape(_excerpt(r, 160))}" for r in reasons[:3]]
    if len(reasons) > 3:
        lines.append(f"    … and {len(reasons) - 3} more")
    lines.append(f"    [dim]output:[/] {escape(_excerpt(result.output))}")
    if result.cut_short:
        lines.append("    [yellow]the answer was cut off by max_tokens[/]")
    return "\n".join(lines)


def _passing_line(result: CellResult) -> str:
    from rich.markup import escape

    where = _excerpt(f"{result.prompt_id} × {result.provider_id}", 120)
    case = _excerpt(result.case_label, 120)
    lines = [f"[green]✓[/] {escape(where)} · {escape(case)} [dim]cell {result.key}[/]"]
    if result.human is not None:
        comment = f": {result.human.comment}" if result.human.comment else ""
        lines.append(
            f"    {escape(_excerpt(f'human verdict by {result.human.author}: pass{comment}', 160))}"
        )
    lines.append(f"    [dim]output:[/] {escape(_excerpt(result.output))}")
    if result.cut_short:
        lines.append("    [yellow]the answer was cut off by max_tokens[/]")
    return "\n".join(lines)


def _print_cells(heading: str, cells: Sequence[CellResult], console: Console) -> None:
    """Every listed cell, passing (✓) or not (✗, !), in the order they were stored."""
    console.print(f"\n[bold]{heading}[/] ({len(cells)})")
    for result in cells:
        console.print(_passing_line(result) if result.status == "pass" else _failure_line(result))


def _print_failures(summary: RunSummary, console: Console, max_failures: int) -> None:
    if not summary.failures_seen or max_failures <= 0:
        return
    shown = summary.failures[:max_failures]
    more = summary.failures_seen - len(shown)
    heading = f"\n[bold]failures[/] ({len(shown)} of {summary.failures_seen} shown"
    heading += "; --max-failures N shows more, -o results.jsonl keeps them all)" if more else ")"
    console.print(heading)
    for result in shown:
        console.print(_failure_line(result))


def _print_totals(summary: RunSummary, console: Console) -> None:
    rate = summary.pass_rate
    parts = [
        f"{summary.passed}/{summary.done} passed" + (f" ({rate:.1%})" if rate is not None else ""),
        f"{summary.failed} failed",
        f"{summary.errors} errors",
    ]
    if summary.cached:
        saved = summary.cached_cost
        parts.append(
            f"{summary.cached} cached"
            + (f" ({format_cost(saved)} not spent again)" if saved else "")
        )
    if summary.cut_short:
        parts.append(f"[yellow]{summary.cut_short} cut off by max_tokens[/]")
    parts.append(f"{summary.duration_s:.1f} s")
    state = "[yellow]interrupted[/]: " if summary.interrupted else ""
    if summary.interrupted:
        parts.append(f"{summary.planned - summary.done} cells not run")
    console.print(f"\n{state}" + " · ".join(parts))
