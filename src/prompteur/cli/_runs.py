"""``prompteur runs`` and ``prompteur show``: the history of runs, and one run again."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import (
    db_option,
    open_store,
    output_option,
    output_sinks,
    replay,
    stdout_console,
    wrote,
)


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@click.command("runs")
@click.option("--suite", help="Only runs of this suite (its description or file path).")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True)
@db_option
def runs_command(suite: str | None, limit: int, db: str | None) -> None:
    """List recorded runs, newest first."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    store = open_store(db)
    found = store.runs(suite=suite, limit=limit)
    console = stdout_console()
    if not found:
        console.print(f"no runs in {store.display_url}")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in ("run", "started", "suite", "status"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=40)
    for column in ("cells", "pass rate", "errors", "duration"):
        table.add_column(column, justify="right", no_wrap=True)
    for info in found:
        rate = info.pass_rate
        status = {"finished": "[green]finished[/]", "interrupted": "[yellow]interrupted[/]"}.get(
            info.status, f"[cyan]{info.status}[/]"
        )
        table.add_row(
            info.id,
            _when(info.started_at),
            escape(info.suite_name or "—"),
            status,
            f"{info.done}/{info.total_cells}",
            "—" if rate is None else f"{rate:.1%}",
            str(info.errors),
            "—" if info.duration_s is None else f"{info.duration_s:.1f} s",
        )
    console.print(table)


@click.command("show")
@click.argument("run", default="latest")
@output_option
@click.option("--max-failures", type=click.IntRange(min=0), default=10, show_default=True)
@db_option
def show_command(run: str, outputs: tuple[Path, ...], max_failures: int, db: str | None) -> None:
    """Show a recorded RUN (an id, a unique prefix, or 'latest'): its summary and failures.
    With -o, write its report (HTML, Markdown, JSON...)."""
    from ..report._terminal import print_summary

    store = open_store(db)
    info = store.run(run)
    summary = replay(store, info, output_sinks(outputs))
    console = stdout_console()
    print_summary(summary, console, run_id=info.id, max_failures=max_failures)
    details = [
        f"status {info.status}",
        f"started {_when(info.started_at)}",
        f"prompteur {info.tool_version}",
    ]
    if info.git_commit:
        details.append(f"commit {info.git_commit[:12]}")
    if info.suite_path:
        details.append(info.suite_path)
    console.print("[dim]" + " · ".join(details) + "[/]")
    wrote(outputs)
    click.get_current_context().exit(EXIT_OK if summary.success else EXIT_FAILED)
