"""``prompteur prompts`` commands that read the registry and move its labels: list, show,
history, diff (word by word), tag and untag."""

from __future__ import annotations

import difflib
import json
import re
from typing import TYPE_CHECKING

import click

from ._common import db_option, default_author, stdout_console
from ._prompts import author_option, labels_of, open_registry, prompts_command, when

if TYPE_CHECKING:
    from rich.text import Text


@prompts_command.command("list")
@db_option
def list_command(db: str | None) -> None:
    """Every registered prompt: its latest version, labels, and description."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    registry = open_registry(db)
    latest = registry.names()
    console = stdout_console()
    if not latest:
        console.print("no registered prompts (add one with 'prompteur prompts add NAME FILE')")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in ("name", "latest", "labels", "updated", "author", "description"):
        table.add_column(column, overflow="fold")
    for version in latest:
        labels = sorted(
            f"{label}→v{number}" for label, number in registry.label_versions(version.name).items()
        )
        table.add_row(
            escape(version.name),
            f"v{version.version}",
            escape(", ".join(labels)),
            when(version.created_at),
            escape(version.author or ""),
            escape(version.source.description or ""),
        )
    console.print(table)


@prompts_command.command("show")
@click.argument("reference")
@db_option
def show_command(reference: str, db: str | None) -> None:
    """One version: NAME (the latest), NAME@v3 or NAME@LABEL; its metadata and content."""
    from rich.markup import escape

    registry = open_registry(db)
    version = registry.get(reference)
    console = stdout_console()
    console.print(
        f"[bold]{escape(version.ref)}[/]"
        + (f"  [cyan]{escape(labels_of(version))}[/]" if version.labels else "")
    )
    details = [
        ("created", f"{when(version.created_at)} by {version.author or 'unknown'}"),
        ("origin", version.origin + (f", from v{version.parent}" if version.parent else "")),
        ("message", version.message),
        ("description", version.source.description),
        ("format", version.source.format),
        ("parameters", json.dumps(dict(version.source.params)) if version.source.params else None),
        (
            "defaults",
            json.dumps(dict(version.source.defaults)) if version.source.defaults else None,
        ),
        ("content hash", version.content_hash[:16]),
    ]
    for key, value in details:
        if value:
            console.print(f"  {key + ':':<14}{escape(str(value))}")
    runs = registry.runs_of(version.name, version.version)
    if runs:
        console.print("  runs that used it (oldest first):")
        for use in runs:
            rate = f"{use.passed / use.done:.0%}" if use.done else "—"
            console.print(
                f"    {when(use.started_at)}  run {use.run_id}  × {escape(use.provider)}: "
                f"{rate} ({use.passed}/{use.done})"
            )
    console.rule(style="dim")
    console.print(version.source.template, markup=False, highlight=False)


@prompts_command.command("history")
@click.argument("name")
@db_option
def history_command(name: str, db: str | None) -> None:
    """NAME's versions, its label moves, and the runs that used it, with pass rates."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    registry = open_registry(db)
    versions = registry.versions(name)
    console = stdout_console()
    table = Table(
        title=f"{name}: {len(versions)} versions",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    for column in ("version", "created", "author", "origin", "parent", "labels", "message"):
        table.add_column(column, overflow="fold")
    for version in versions:
        table.add_row(
            f"v{version.version}",
            when(version.created_at),
            escape(version.author or ""),
            version.origin,
            f"v{version.parent}" if version.parent else "",
            escape(labels_of(version)),
            escape(version.message or ""),
        )
    console.print(table)
    moves = registry.moves(name)
    if moves:
        console.print("[bold]label moves[/]")
        for move in moves:
            before = f"v{move.previous} → " if move.previous is not None else ""
            after = f"v{move.version}" if move.version is not None else "removed"
            console.print(
                f"  {when(move.moved_at)}  {escape(move.label)}: {before}{after}"
                f"  [dim]{escape(move.author or '')}[/]"
            )
    usage = registry.store.prompt_usage(name)
    if usage:
        console.print("[bold]runs[/] (oldest first)")
        for use in usage:
            rate = f"{use.passed / use.done:.0%}" if use.done else "—"
            console.print(
                f"  {when(use.started_at)}  run {use.run_id}  v{use.version} × "
                f"{escape(use.provider)}: {rate} ({use.passed}/{use.done})"
            )


@prompts_command.command("tag")
@click.argument("reference")
@click.argument("label")
@author_option
@db_option
def tag_command(reference: str, label: str, author: str | None, db: str | None) -> None:
    """Point LABEL (production, staging, any name) at the version REFERENCE names; the
    move is kept in the prompt's history."""
    registry = open_registry(db)
    name = reference.partition("@")[0]
    before = registry.label_versions(name).get(label)
    version = registry.tag(reference, label, author=author or default_author())
    moved = f"v{before} → " if before is not None and before != version.version else ""
    click.echo(f"{version.name}@{label}: {moved}v{version.version}")


@prompts_command.command("untag")
@click.argument("name")
@click.argument("label")
@author_option
@db_option
def untag_command(name: str, label: str, author: str | None, db: str | None) -> None:
    """Remove LABEL from the prompt NAME; the removal is kept in the prompt's history."""
    version = open_registry(db).untag(name, label, author=author or default_author())
    click.echo(f"{name}@{label}: removed (it pointed at v{version})")


@prompts_command.command("diff")
@click.argument("first")
@click.argument("second", required=False)
@db_option
def diff_command(first: str, second: str | None, db: str | None) -> None:
    """A word diff of two versions: `diff NAME@v1 NAME@v2`, `diff NAME@v1 v2`, or
    `diff NAME@production` (against the latest). Removed words are red, added green (when
    not on a terminal, [-removed-] and {+added+})."""
    registry = open_registry(db)
    a = registry.get(first)
    if second is None:
        b = registry.get(a.name)
    else:
        b = registry.get(second if "@" in second or second == a.name else f"{a.name}@{second}")
    console = stdout_console()
    console.print(f"[bold]--- {a.ref}[/]\n[bold]+++ {b.ref}[/]")
    if a.content_hash == b.content_hash:
        console.print("no difference")
        return
    plain = not console.is_terminal
    for what, old, new in (
        ("parameters", a.source.params, b.source.params),
        ("defaults", a.source.defaults, b.source.defaults),
    ):
        if dict(old) != dict(new):
            console.print(f"{what}:", end=" ")
            console.print(word_diff(json.dumps(dict(old)), json.dumps(dict(new)), plain=plain))
    if a.source.format != b.source.format:
        console.print(f"format: {a.source.format} → {b.source.format}")
    console.print(word_diff(a.source.template, b.source.template, plain=plain))


_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str, *, plain: bool = False) -> Text:
    """``new`` against ``old`` word by word: removed words struck through in red, added
    ones in green; with ``plain``, git's markers instead ([-removed-], {+added+})."""
    from rich.text import Text

    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    text = Text()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            text.append("".join(a[i1:i2]))
            continue
        if op in ("delete", "replace"):
            removed = "".join(a[i1:i2])
            text.append(f"[-{removed}-]" if plain else removed, style="bold red strike")
        if op in ("insert", "replace"):
            added = "".join(b[j1:j2])
            text.append(f"{{+{added}+}}" if plain else added, style="bold green")
    return text
