"""``prompteur runs`` and ``prompteur show``: the history of runs, and one run again."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import (
    by_option,
    db_option,
    open_store,
    output_option,
    output_sinks,
    print_breakdowns,
    replay,
    server_option,
    stdout_console,
    wrote,
)

if TYPE_CHECKING:
    from ..core._results import CellResult
    from ..store import RunInfo


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _made_by(info: RunInfo) -> str | None:
    """The command that generated the run's cases (``bias``, ``robustness``), if one did."""
    name = info.options.get("command")
    return str(name) if name else None


def _run_json(info: RunInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "suite": info.suite_name,
        "suite_path": info.suite_path,
        "command": _made_by(info),
        "description": info.description,
        "status": info.status,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "duration_s": info.duration_s,
        "cells": info.total_cells,
        "done": info.done,
        "passed": info.final_passed,
        "failed": info.done - info.final_passed - info.errors,
        "errors": info.errors,
        "pass_rate": info.pass_rate,
        "human_verdicts": info.human,
        "automatic": {"passed": info.passed, "failed": info.failed},
        "prompts": [label for _, label in info.prompts],
        "providers": [label for _, label in info.providers],
        "tool_version": info.tool_version,
        "git_commit": info.git_commit,
        "author": info.author,
        "host": info.host,
        "pid": info.pid,
    }


@click.group("runs", invoke_without_command=True)
@click.option("--suite", help="Only runs of this suite (its description or file path).")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the latest runs to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list.")
@db_option
@server_option
@click.pass_context
def runs_command(
    ctx: click.Context, suite: str | None, limit: int, as_json: bool, db: str | None
) -> None:
    """List recorded runs, newest first. Pass rates count human verdicts ('prompteur rate')
    where there are some; such rows are marked with *.

    \b
    A run recorded as running whose process is gone shows as interrupted
    (resume it with `prompteur eval --resume RUN`)."""
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(db)
    if suite is not None and Path(suite).is_file():
        suite = str(Path(suite).resolve())
    found = store.runs(suite=suite, limit=limit)
    if as_json:
        from ..core._json import dumps

        click.echo(dumps([_run_json(info) for info in found]))
        return
    _print_runs(found, store.display_url)


def _print_runs(found: list[RunInfo], where: str) -> None:
    from rich.markup import escape

    from ..report._tables import Column, print_fitted

    console = stdout_console()
    if not found:
        console.print(f"no runs in {escape(where)}")
        return
    # The run id and the counts are read whole; at 80 columns the suite's name gives way,
    # then the least needed columns are left out.
    columns = [
        Column("run"),
        Column("started", drop=2),
        Column("suite", label=True, min_width=12, max_width=40),
        Column("status"),
        Column("cells", justify="right"),
        Column("pass rate", justify="right"),
        Column("errors", justify="right", drop=3),
        Column("duration", justify="right", drop=1),
    ]
    rows = []
    for info in found:
        rate = info.pass_rate
        status = {"finished": "[green]finished[/]", "interrupted": "[yellow]interrupted[/]"}.get(
            info.status, f"[cyan]{info.status}[/]"
        )
        made_by = _made_by(info)
        rows.append(
            [
                info.id,
                _when(info.started_at),
                escape(info.suite_name or "—") + (f" ({escape(made_by)})" if made_by else ""),
                status,
                f"{info.done}/{info.total_cells}",
                ("—" if rate is None else f"{rate:.1%}") + ("*" if info.human else ""),
                str(info.errors),
                "—" if info.duration_s is None else f"{info.duration_s:.1f} s",
            ]
        )
    print_fitted(columns, rows, console)
    if any(info.human for info in found):
        console.print(
            "[cyan]* counts human verdicts ('prompteur rate') instead of the automatic grades[/]"
        )


@runs_command.command("delete")
@click.argument("refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@server_option
@click.pass_context
def delete_command(ctx: click.Context, refs: tuple[str, ...], yes: bool, db: str | None) -> None:
    """Delete runs (ids, unique prefixes, or 'latest') with their cells and human verdicts.
    The completion cache, the registered prompts and the cases other runs share stay."""
    from ..store import StoreError

    store = open_store(db or (ctx.parent.params.get("db") if ctx.parent else None))
    chosen: dict[str, RunInfo] = {}
    for ref in refs:
        info = store.run(ref)
        if info.status == "running":
            raise StoreError(
                f"run {info.id} is still running (process {info.pid} on {info.host}); "
                "stop it before deleting it"
            )
        chosen[info.id] = info
    cells = sum(info.done for info in chosen.values())
    human = sum(info.human for info in chosen.values())
    if not yes:
        verdicts = f", {human} human verdict{'s' if human != 1 else ''}" if human else ""
        what = f"{len(chosen)} run{'s' if len(chosen) != 1 else ''} ({cells} cells{verdicts})"
        click.echo("\n".join(f"  {run_id}" for run_id in chosen), err=True)
        click.confirm(f"delete {what}?", abort=True)
    for run_id, info in chosen.items():
        store.delete_run(run_id)
        click.echo(f"deleted run {run_id} ({info.done} cells)")


@click.command("show")
@click.argument("run", default="latest")
@output_option
@click.option("--max-failures", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--all", "listing", flag_value="all", help="List every cell, not only failures.")
@click.option("--passing", "listing", flag_value="passing", help="List only the passing cells.")
@by_option
@db_option
@server_option
def show_command(
    run: str,
    outputs: tuple[Path, ...],
    max_failures: int,
    listing: str | None,
    by: tuple[str, ...],
    db: str | None,
) -> None:
    """Show a recorded RUN (an id, a unique prefix, or 'latest'): its summary and failures
    (--all: every cell, --passing: the passing ones). With -o, write its report (HTML,
    Markdown, JSON...)."""
    from ..core._sinks import CollectingSink
    from ..report._terminal import print_summary

    store = open_store(db)
    info = store.run(run)
    collected = CollectingSink()
    sinks = output_sinks(outputs)
    summary = replay(store, info, [*sinks, collected] if listing else sinks)
    console = stdout_console()
    cells: tuple[str, list[CellResult]] | None = None
    if listing == "all":
        cells = ("cells", collected.results)
    elif listing == "passing":
        cells = ("passing", [r for r in collected.results if r.status == "pass"])
    print_summary(summary, console, run_id=info.id, max_failures=max_failures, cells=cells)
    if by:
        print_breakdowns(store, info.id, by)
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
