"""``prompteur history``: a suite's pass rates per prompt × provider over time, with drift
alarms (a significant drop against the previous run, a provider whose model changed); the
history itself is ``prompteur.analysis``'s."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import db_option, open_store, server_option, stdout_console

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(rates: list[float | None]) -> str:
    """One character per run (a space when unknown), the line's own range spread over eight
    steps, so that 100% → 88% shows; a range under 10 points is drawn as 10 points wide,
    so that noise does not look like a cliff."""
    known = [r for r in rates if r is not None]
    if not known:
        return " " * len(rates)
    high = max(known)
    low = max(0.0, min(min(known), high - 0.1))
    if high - low < 0.1:
        high = low + 0.1
    return "".join(
        " " if r is None else SPARKS[min(7, int((r - low) / (high - low) * 8))] for r in rates
    )


@click.command("history")
@click.argument("suite")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=2),
    default=20,
    show_default=True,
    help="How many of the latest runs to show.",
)
@db_option
@server_option
def history_command(suite: str, limit: int, db: str | None) -> None:
    """Pass rate per prompt × provider across the runs of SUITE (a suite file, or the
    suite's description), oldest first; flags significant drops against the previous run.

    Exit code 1 when the latest run dropped significantly, so it can watch for drift."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from ..analysis._history import drift_alarms, run_history

    store = open_store(db)
    path = Path(suite)
    key = str(path.resolve()) if path.is_file() else suite
    runs = list(reversed(store.runs(suite=key, limit=limit, statuses=["finished", "interrupted"])))
    if not runs:
        from ..core._errors import PrompteurError

        raise PrompteurError(f"no recorded runs of {suite} (see 'prompteur runs')")
    groups = run_history(store, runs)
    console = stdout_console()
    first = datetime.datetime.fromtimestamp(runs[0].started_at).strftime("%Y-%m-%d")
    last = datetime.datetime.fromtimestamp(runs[-1].started_at).strftime("%Y-%m-%d")
    console.print(
        f"[bold]{escape(runs[-1].suite_name or suite)}[/]: {len(runs)} runs, "
        f"{first} to {last}, oldest first"
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("prompt × provider", max_width=44, overflow="ellipsis", no_wrap=True)
    table.add_column("trend", no_wrap=True)
    table.add_column("pass rates", no_wrap=False)
    table.add_column("latest", justify="right")
    alarms: list[str] = []
    latest_dropped = False
    for name, group in groups.items():
        rates = " ".join("—" if r is None else f"{r:.0%}" for r in group.rates)
        latest = group.rates[-1]
        table.add_row(
            escape(f"{group.shown(name[0])} × {name[1]}"),
            sparkline(group.rates),
            rates,
            "—" if latest is None else f"{latest:.0%}",
        )
        found = drift_alarms(name, group, runs)
        alarms += found
        latest_dropped = latest_dropped or any(
            a.startswith(f"run {runs[-1].id}") and "dropped" in a for a in found
        )
    console.print(table)
    human = sum(g.human for g in groups.values())
    if human:
        console.print(
            f"[cyan]{human} {'cells carry' if human != 1 else 'cell carries'} a human verdict "
            "('prompteur rate'), counted instead of the automatic grade[/]"
        )
    for alarm in alarms:
        console.print(f"[yellow]![/] {escape(alarm)}")
    if not alarms:
        console.print("[green]no significant drop between consecutive runs[/]")
    click.get_current_context().exit(EXIT_FAILED if latest_dropped else EXIT_OK)
