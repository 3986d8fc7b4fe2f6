"""``prompteur history``: a suite's pass rates per prompt × provider over time, with drift
alarms (a significant drop against the previous run, a provider whose model changed)."""

from __future__ import annotations

import datetime
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import db_option, open_store, stdout_console

if TYPE_CHECKING:
    from ..analysis._compare import Outcome
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


@dataclass
class _Group:
    rates: list[float | None] = field(default_factory=list)
    outcomes: list[dict[Hashable, Outcome | None]] = field(default_factory=list)
    models: list[set[str]] = field(default_factory=list)
    # the prompt in each run: a registered prompt's exact version, else its label
    versions: list[set[str]] = field(default_factory=list)
    registered: bool = False  # the line is a registered prompt's, across its versions
    human: int = 0  # cells whose verdict is a person's, over all the runs shown

    def shown(self, prompt: str) -> str:
        """The prompt's name for a registered prompt (its versions are in the alarms), else
        its latest label."""
        if self.registered:
            return prompt
        latest = next((v for v in reversed(self.versions) if v), set())
        return min(latest) if latest else prompt


def _collect(store: Store, runs: list[RunInfo]) -> dict[tuple[str, str], _Group]:
    from ..analysis._compare import Outcome
    from ..analysis._pairing import line_name, run_prompts, version_name

    # A registered prompt's versions form one line, whatever label a suite gave them.
    groups: dict[tuple[str, str], _Group] = {}
    for index, info in enumerate(runs):
        prompts = run_prompts(info)
        lines = [line_name(p, prompts) for p in prompts]
        for cell in store.outcomes(info.id):
            prompt = prompts[cell.prompt_pos]
            group = groups.setdefault((lines[cell.prompt_pos], cell.provider), _Group())
            while len(group.outcomes) <= index:
                group.outcomes.append({})
                group.models.append(set())
                group.versions.append(set())
            group.outcomes[index][(cell.test_key, cell.repeat)] = (
                None if cell.status == "error" else Outcome(cell.status == "pass", cell.case)
            )
            if cell.model:
                group.models[index].add(cell.model)
            if prompt.registered is not None:
                group.registered = True
                group.versions[index].add(version_name(prompt.registered))
            else:
                group.versions[index].add(cell.prompt_label)
            group.human += cell.human
    for group in groups.values():
        while len(group.outcomes) < len(runs):
            group.outcomes.append({})
            group.models.append(set())
            group.versions.append(set())
        for cells in group.outcomes:
            done = len(cells)
            passed = sum(1 for o in cells.values() if o is not None and o.passed)
            group.rates.append(passed / done if done else None)
    return groups


def _alarms(key: tuple[str, str], group: _Group, runs: list[RunInfo]) -> list[str]:
    from ..analysis._compare import ALPHA, compare_outcomes

    name = (group.shown(key[0]), key[1])
    alarms = []
    for index in range(1, len(runs)):
        before, after = group.outcomes[index - 1], group.outcomes[index]
        if not before or not after:
            continue
        comparison = compare_outcomes(before, after)
        changes = []
        old, new = group.models[index - 1], group.models[index]
        if old and new and old != new:
            changes.append(
                f"the model changed: {', '.join(sorted(old))} → {', '.join(sorted(new))}"
            )
        old, new = group.versions[index - 1], group.versions[index]
        if old and new and old != new:
            changes.append(
                f"the prompt changed: {', '.join(sorted(old))} → {', '.join(sorted(new))}"
            )
        changed = "".join(f"; {c}" for c in changes)
        if comparison.b_passed < comparison.a_passed and comparison.p_value < ALPHA:
            assert comparison.a_rate is not None and comparison.b_rate is not None
            alarms.append(
                f"run {runs[index].id}: {name[0]} × {name[1]} dropped "
                f"{comparison.a_rate:.0%} → {comparison.b_rate:.0%} on "
                f"{comparison.pairs} shared cases (McNemar p = "
                f"{comparison.p_value:.3g}){changed}"
            )
        elif changed:
            alarms.append(f"run {runs[index].id}: {name[0]} × {name[1]}:{changed[1:]}")
    return alarms


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
def history_command(suite: str, limit: int, db: str | None) -> None:
    """Pass rate per prompt × provider across the runs of SUITE (a suite file, or the
    suite's description), oldest first; flags significant drops against the previous run.

    Exit code 1 when the latest run dropped significantly, so it can watch for drift."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    store = open_store(db)
    path = Path(suite)
    key = str(path.resolve()) if path.is_file() else suite
    runs = list(reversed(store.runs(suite=key, limit=limit, statuses=["finished", "interrupted"])))
    if not runs:
        from ..core._errors import PrompteurError

        raise PrompteurError(f"no recorded runs of {suite} (see 'prompteur runs')")
    groups = _collect(store, runs)
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
        found = _alarms(name, group, runs)
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
