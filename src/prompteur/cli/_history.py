"""``prompteur history``: a suite's pass rates per prompt × provider over time, with drift
alarms (a significant drop against the previous run, a provider whose model changed); the
history itself is ``prompteur.analysis``'s."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import db_option, open_store, server_option, stdout_console

if TYPE_CHECKING:
    from ..analysis._history import HistoryLine
    from ..store import RunInfo, Store

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


def _rates(group: HistoryLine) -> str:
    """The pass rate in each run, a registered prompt's new version marked where it came."""
    shown = []
    for index, rate in enumerate(group.rates):
        text = "—" if rate is None else f"{rate:.0%}"
        changed = group.version_changed(index)
        shown.append(f"{changed}:{text}" if changed else text)
    return " ".join(shown)


def _chosen_runs(store: Store, suite: str | None, prompt: str | None, limit: int) -> list[RunInfo]:
    """The runs to show, oldest first: a suite's, or those that used a registered prompt."""
    statuses = ["finished", "interrupted"]
    if prompt is not None:
        used = [
            info
            for info in store.runs(limit=None, statuses=statuses)
            if any(ref is not None and ref[0] == prompt for ref in info.registered)
        ]
        return list(reversed(used[:limit]))
    assert suite is not None
    path = Path(suite)
    key = str(path.resolve()) if path.is_file() else suite
    return list(reversed(store.runs(suite=key, limit=limit, statuses=statuses)))


@click.command("history")
@click.argument("suite", required=False)
@click.option(
    "--prompt",
    metavar="NAME",
    help="Follow a registered prompt instead: every run that used any of its versions.",
)
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
def history_command(suite: str | None, prompt: str | None, limit: int, db: str | None) -> None:
    """Pass rate and mean score per prompt × provider across the runs of SUITE (a suite
    file, or the suite's description), or of a registered prompt (--prompt NAME), oldest
    first; flags significant drops against the previous run.

    \b
    A line follows a prompt: a registered prompt's versions are one line (a new version is
    marked v2:80%), and a prompt rewritten in place starts a new line.
    Exit code 1 when the latest run dropped significantly, so it can watch for drift."""
    from rich.markup import escape

    from ..analysis._history import drift_alarms, run_history
    from ..core._errors import PrompteurError
    from ..report._tables import Column, print_fitted

    if (suite is None) == (prompt is None):
        raise click.UsageError("give a SUITE or --prompt NAME (one of them)")
    store = open_store(db)
    runs = _chosen_runs(store, suite, prompt, limit)
    if not runs:
        what = f"registered prompt '{prompt}'" if prompt else suite
        raise PrompteurError(f"no recorded runs of {what} (see 'prompteur runs')")
    groups = run_history(store, runs)
    if prompt is not None:  # the prompt's lines only, not the other prompts of its runs
        groups = {
            key: group
            for key, group in groups.items()
            if group.registered
            and any(v.rsplit("@", 1)[0] == prompt for run in group.versions for v in run)
        }
    console = stdout_console()
    first = datetime.datetime.fromtimestamp(runs[0].started_at).strftime("%Y-%m-%d")
    last = datetime.datetime.fromtimestamp(runs[-1].started_at).strftime("%Y-%m-%d")
    title = prompt if prompt is not None else (runs[-1].suite_name or suite or "")
    console.print(f"[bold]{escape(title)}[/]: {len(runs)} runs, {first} to {last}, oldest first")
    # The latest rate and score are read whole; the label gives way, then the rates of
    # every run (the sparkline still draws them) are left out at 80 columns.
    columns = [
        Column("prompt × provider", label=True, min_width=16, max_width=44),
        Column("trend"),
        Column("pass rates", drop=1),
        Column("latest", justify="right"),
        Column("score", justify="right"),
    ]
    rows = []
    alarms: list[str] = []
    latest_dropped = False
    for name, group in groups.items():
        latest, score = group.rates[-1], group.scores[-1]
        rows.append(
            [
                escape(f"{group.shown(name[0])} × {name[1]}"),
                sparkline(group.rates),
                escape(_rates(group)),
                "—" if latest is None else f"{latest:.0%}",
                "—" if score is None else f"{score:.2f}",
            ]
        )
        found = drift_alarms(name, group, runs)
        alarms += found
        latest_dropped = latest_dropped or any(
            a.startswith(f"run {runs[-1].id}") and "dropped" in a for a in found
        )
    print_fitted(columns, rows, console)
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
