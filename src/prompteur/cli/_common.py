"""Pieces shared by the commands: the --db option, consoles, output files, replaying runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ..core._author import default_author

if TYPE_CHECKING:
    from rich.console import Console

    from ..core._sinks import ResultSink
    from ..core._summary import RunSummary
    from ..store import RunInfo, Store

__all__ = ["default_author"]  # re-exported for the commands

F = TypeVar("F", bound=Callable[..., Any])


def db_option(function: F) -> F:
    """``--db URL``: the results store (default: PROMPTEUR_DB, else .prompteur/prompteur.db)."""
    decorated: F = click.option(
        "--db",
        "db",
        metavar="URL",
        help="Results store: a SQLite path or a postgresql:// URL "
        "[default: $PROMPTEUR_DB, else .prompteur/prompteur.db].",
    )(function)
    return decorated


def by_option(function: F) -> F:
    """``--by VAR``: pass rates broken down by a test variable's value (repeatable)."""
    decorated: F = click.option(
        "--by",
        "by",
        multiple=True,
        metavar="VAR",
        help="Also break the pass rates down by this variable's value (e.g. --by category: "
        "a per-class table for a classifier). Repeatable.",
    )(function)
    return decorated


SERVER_KEY = "prompteur.server"


def server_option(function: F) -> F:
    """``--server URL``: a team server (``prompteur serve``) instead of a store; the API
    token comes from PROMPTEUR_TOKEN."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.meta[SERVER_KEY] = value.rstrip("/")

    decorated: F = click.option(
        "--server",
        metavar="URL",
        envvar="PROMPTEUR_SERVER",
        expose_value=False,
        callback=remember,
        help="A team server (prompteur serve) to read and record on instead of a store; "
        "the token comes from $PROMPTEUR_TOKEN [default: $PROMPTEUR_SERVER].",
    )(function)
    return decorated


def print_breakdowns(store: Store, run_id: str, variables: Sequence[str]) -> None:
    """The ``--by`` tables of a recorded run, read back from the store in one pass."""
    from ..report._breakdown import break_down, print_breakdown

    console = stdout_console()
    for breakdown in break_down(store.results(run_id), variables):
        print_breakdown(breakdown, console)


def server_url() -> str | None:
    """The team server given with --server, if any."""
    ctx = click.get_current_context(silent=True)
    server: str | None = ctx.meta.get(SERVER_KEY) if ctx is not None else None
    return server


def output_option(function: F) -> F:
    decorated: F = click.option(
        "-o",
        "--output",
        "outputs",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Write a report: .html, .md, .json, .jsonl, .csv, or .xml (JUnit). Repeatable.",
    )(function)
    return decorated


def open_store(db: str | None) -> Store:
    """The store at ``db``; with --server, the team server standing in for one."""
    from ..store import Store

    server = server_url()
    if server is None:
        return Store(db)
    if db:
        raise click.UsageError("give either --db or --server, not both")
    import os

    from ..store._remote import RemoteStore

    # RemoteStore answers what the commands that take --server ask of a Store
    return cast("Store", RemoteStore(server, os.environ.get("PROMPTEUR_TOKEN")))


def stdout_console() -> Console:
    """The console for reports: wide enough in logs and pipes not to squeeze tables."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))
    return console


def output_sinks(paths: Sequence[Path]) -> list[ResultSink]:
    from ..report._outputs import output_sink

    return [output_sink(path) for path in paths]


def replay(
    store: Store, info: RunInfo, sinks: Sequence[ResultSink], max_failures: int = 50
) -> RunSummary:
    """Feed a stored run through sinks (reports of past or resumed runs); its summary."""
    from ..core._sinks import RunFinished, RunStarted
    from ..core._summary import SummaryBuilder
    from ..eval._run import finish_sinks

    planned = info.total_cells // max(1, len(info.prompts) * len(info.providers))
    builder = SummaryBuilder(info.description, info.prompts, info.providers, planned, max_failures)
    started = RunStarted(
        info.id,
        info.description,
        info.prompts,
        info.providers,
        info.total_cells,
        info.started_at,
        dict(info.options),
    )
    for sink in sinks:
        sink.on_start(started)
    for result in store.results(info.id):
        builder.add(result)
        for sink in sinks:
            sink.on_result(result)
    summary = builder.summary
    summary.duration_s = info.duration_s or 0.0
    summary.interrupted = info.status != "finished"
    finish_sinks(sinks, RunFinished(info.id, summary, info.finished_at or time.time()))
    return summary


def wrote(paths: Sequence[Path]) -> None:
    for path in paths:
        click.echo(f"wrote {path}", err=True)
