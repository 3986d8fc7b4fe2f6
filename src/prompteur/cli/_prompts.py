"""``prompteur prompts``: the prompt registry. Named prompts with immutable versions,
movable labels (production, staging...) and their history, word diffs between versions,
and export to files that import back without loss."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import db_option, default_author, stdout_console

if TYPE_CHECKING:
    from ..prompts._registry import PromptRegistry, PromptSource, PromptVersion
    from ..prompts._registry_source import PromptFile


def _registry(db: str | None) -> PromptRegistry:
    from sqlalchemy.exc import SQLAlchemyError

    from ..errors import PrompteurError
    from ..prompts._registry import PromptRegistry
    from ..store import store_url

    try:
        return PromptRegistry.open(db)
    except OSError as exc:
        problem = exc.strerror or str(exc)
    except SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    raise PrompteurError(f"cannot open the store {store_url(db)}: {problem}")


def _warn_unkept(file: Path, prompt: PromptFile) -> None:
    if prompt.unkept:
        click.echo(
            f"warning: {file}: the registry does not keep {', '.join(prompt.unkept)} (it keeps "
            "the template, model parameters, input defaults and description)",
            err=True,
        )


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _labels(version: PromptVersion) -> str:
    return ", ".join(version.labels)


@click.group("prompts")
def prompts_command() -> None:
    """The prompt registry: versions, labels, diffs, export and import.

    Suites use registered prompts as `prompt: NAME@LABEL` (or `NAME@v3`, or `NAME` for the
    latest version); every run records the versions it used."""


def _register(
    db: str | None,
    name: str,
    source: PromptSource,
    *,
    author: str | None,
    message: str | None,
    labels: tuple[str, ...],
    origin: str,
    parent: str | None = None,
    exported_from: str | None = None,
) -> None:
    registry = _registry(db)
    based_on = None
    if parent is not None:
        # the version this one was made from, when it is not the latest (an older
        # version exported, edited and registered again)
        based_on = registry.get(f"{name}@{parent.removeprefix(f'{name}@')}").version
    elif exported_from is not None:
        # a .prompty file written by `prompts export` says which version it holds
        from ..prompts._registry import RegistryError

        try:
            based_on = registry.get(f"{name}@{exported_from}").version
        except RegistryError:
            based_on = None  # exported from another store, or edited by hand: the latest
    version, created = registry.add(
        name,
        source,
        author=author or default_author(),
        message=message,
        origin=origin,
        labels=labels,
        parent=based_on,
    )
    tagged = f" ({', '.join(labels)} → v{version.version})" if labels else ""
    if created:
        click.echo(f"registered {version.ref}{tagged}")
    else:
        click.echo(f"{name}: unchanged, v{version.version} has this content{tagged}")


_author_option = click.option(
    "--author", help="Who made it [default: $PROMPTEUR_AUTHOR, git's user.name, or $USER]."
)
_parent_option = click.option(
    "--parent",
    metavar="VERSION",
    help="The version this one was made from (v2, or a label) [default: the latest].",
)
_label_option = click.option(
    "-l",
    "--label",
    "labels",
    multiple=True,
    help="Point this label at the version (repeatable), e.g. -l staging.",
)


@prompts_command.command("add")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-m", "--message", help="What changed, like a commit message.")
@_author_option
@_label_option
@_parent_option
@db_option
def add_command(
    name: str,
    file: Path,
    message: str | None,
    author: str | None,
    labels: tuple[str, ...],
    parent: str | None,
    db: str | None,
) -> None:
    """Register FILE (.txt, .md, .prompty, or a .json/.yaml message list) as the next
    version of NAME. The same content as the latest version adds no version."""
    from ..prompts._registry_source import read_prompt_file

    prompt = read_prompt_file(file)
    _warn_unkept(file, prompt)
    _register(
        db,
        name,
        prompt.source,
        author=author,
        message=message,
        labels=labels,
        origin="manual",
        parent=parent,
        exported_from=prompt.version if prompt.source.name == name else None,
    )


@prompts_command.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="The prompt's name [default: the .prompty name, else the file's].")
@click.option("-m", "--message", help="A note on the version.")
@_author_option
@_label_option
@_parent_option
@db_option
def import_command(
    file: Path,
    name: str | None,
    message: str | None,
    author: str | None,
    labels: tuple[str, ...],
    parent: str | None,
    db: str | None,
) -> None:
    """Register an exported (or any) prompt file, recorded as imported. Importing what
    `prompts export` wrote adds no version: the content is the same. A history written by
    `prompts export NAME --all` brings every version, label and label move along."""
    from ..prompts._registry_history import read_history
    from ..prompts._registry_source import read_prompt_file
    from ..prompts._registry_transfer import import_history

    history = read_history(file)
    if history is not None:
        if message or labels or parent:
            raise click.UsageError(
                "a history file brings its own messages, labels and parents: drop -m, -l "
                "and --parent"
            )
        report = import_history(
            _registry(db), history, name=name, author=author or default_author()
        )
        for line in report.lines():
            click.echo(line)
        return
    prompt = read_prompt_file(file)
    _warn_unkept(file, prompt)
    source = prompt.source
    target = name or source.name or file.stem
    _register(
        db,
        target,
        source,
        author=author,
        message=message,
        labels=labels,
        origin="import",
        parent=parent,
        exported_from=prompt.version if source.name == target else None,
    )


@prompts_command.command("list")
@db_option
def list_command(db: str | None) -> None:
    """Every registered prompt: its latest version, labels, and description."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    latest = _registry(db).names()
    console = stdout_console()
    if not latest:
        console.print("no registered prompts (add one with 'prompteur prompts add NAME FILE')")
        return
    registry = _registry(db)
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
            _when(version.created_at),
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

    registry = _registry(db)
    version = registry.get(reference)
    console = stdout_console()
    console.print(
        f"[bold]{escape(version.ref)}[/]"
        + (f"  [cyan]{escape(_labels(version))}[/]" if version.labels else "")
    )
    details = [
        ("created", f"{_when(version.created_at)} by {version.author or 'unknown'}"),
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
                f"    {_when(use.started_at)}  run {use.run_id}  × {escape(use.provider)}: "
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

    registry = _registry(db)
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
            _when(version.created_at),
            escape(version.author or ""),
            version.origin,
            f"v{version.parent}" if version.parent else "",
            escape(_labels(version)),
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
                f"  {_when(move.moved_at)}  {escape(move.label)}: {before}{after}"
                f"  [dim]{escape(move.author or '')}[/]"
            )
    usage = registry.store.prompt_usage(name)
    if usage:
        console.print("[bold]runs[/] (oldest first)")
        for use in usage:
            rate = f"{use.passed / use.done:.0%}" if use.done else "—"
            console.print(
                f"  {_when(use.started_at)}  run {use.run_id}  v{use.version} × "
                f"{escape(use.provider)}: {rate} ({use.passed}/{use.done})"
            )


@prompts_command.command("tag")
@click.argument("reference")
@click.argument("label")
@_author_option
@db_option
def tag_command(reference: str, label: str, author: str | None, db: str | None) -> None:
    """Point LABEL (production, staging, any name) at the version REFERENCE names; the
    move is kept in the prompt's history."""
    registry = _registry(db)
    name = reference.partition("@")[0]
    before = registry.label_versions(name).get(label)
    version = registry.tag(reference, label, author=author or default_author())
    moved = f"v{before} → " if before is not None and before != version.version else ""
    click.echo(f"{version.name}@{label}: {moved}v{version.version}")


@prompts_command.command("untag")
@click.argument("name")
@click.argument("label")
@_author_option
@db_option
def untag_command(name: str, label: str, author: str | None, db: str | None) -> None:
    """Remove LABEL from the prompt NAME; the removal is kept in the prompt's history."""
    version = _registry(db).untag(name, label, author=author or default_author())
    click.echo(f"{name}@{label}: removed (it pointed at v{version})")


@prompts_command.command("diff")
@click.argument("first")
@click.argument("second", required=False)
@db_option
def diff_command(first: str, second: str | None, db: str | None) -> None:
    """A word diff of two versions: `diff NAME@v1 NAME@v2`, `diff NAME@v1 v2`, or
    `diff NAME@production` (against the latest). Removed words are red, added green (when
    not on a terminal, [-removed-] and {+added+})."""
    from ..prompts._registry_diff import word_diff

    registry = _registry(db)
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


@prompts_command.command("export")
@click.argument("reference")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The file to write: .prompty, .txt, .md or .json [default: standard output, as .prompty].",
)
@click.option(
    "--all",
    "whole",
    is_flag=True,
    help="Every version of the prompt, its labels and their history, as .json (for "
    "`prompts import` into another store).",
)
@db_option
def export_command(reference: str, output: Path | None, whole: bool, db: str | None) -> None:
    """Write a version to a file that `prompts import` (or a suite) reads back unchanged;
    with --all, the prompt's whole history."""
    from ..prompts._registry_export import EXPORT_KINDS, export_text

    registry = _registry(db)
    if whole:
        from ..prompts._registry_transfer import history_document

        if "@" in reference:
            raise click.UsageError("--all exports every version: name the prompt without '@'")
        if output is not None and output.suffix.lower() != ".json":
            raise click.UsageError(f"cannot write a whole history to {output}: use .json")
        text = json.dumps(history_document(registry, reference), ensure_ascii=False, indent=2)
        what = f"{reference}, every version"
        text += "\n"
    else:
        version = registry.get(reference)
        kind = EXPORT_KINDS.get(output.suffix.lower()) if output is not None else "prompty"
        if kind is None:
            raise click.UsageError(f"cannot export to {output}: use .prompty, .txt, .md or .json")
        text = export_text(version, kind)
        what = version.ref
    if output is None:
        click.echo(text, nl=False)
        return
    write_file(output, text)
    click.echo(f"wrote {output} ({what})", err=True)


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    import contextlib
    import os

    from ..errors import PrompteurError

    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(exc, FileNotFoundError) and not path.parent.is_dir():
            problem = f"no folder {path.parent}"
        else:
            problem = exc.strerror or str(exc)
        raise PrompteurError(f"cannot write {path}: {problem}") from None
