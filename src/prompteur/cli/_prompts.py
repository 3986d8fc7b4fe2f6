"""``prompteur prompts``: the prompt registry. Named prompts with immutable versions,
movable labels (production, staging...) and their history, word diffs between versions,
and export to files that import back without loss."""

from __future__ import annotations

import datetime
import difflib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._common import db_option, default_author, stdout_console

if TYPE_CHECKING:
    from rich.text import Text

    from ..prompts._registry import PromptRegistry, PromptSource, PromptVersion

EXPORT_FORMATS = {".prompty": "prompty", ".txt": "text", ".md": "text", ".json": "json"}


def _registry(db: str | None) -> PromptRegistry:
    from ..prompts._registry import PromptRegistry

    return PromptRegistry.open(db)


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
) -> None:
    registry = _registry(db)
    version, created = registry.add(
        name,
        source,
        author=author or default_author(),
        message=message,
        origin=origin,
        labels=labels,
    )
    tagged = f" ({', '.join(labels)} → v{version.version})" if labels else ""
    if created:
        click.echo(f"registered {version.ref}{tagged}")
    else:
        click.echo(f"{name}: unchanged, v{version.version} has this content{tagged}")


_author_option = click.option(
    "--author", help="Who made it [default: $PROMPTEUR_AUTHOR, git's user.name, or $USER]."
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
@db_option
def add_command(
    name: str,
    file: Path,
    message: str | None,
    author: str | None,
    labels: tuple[str, ...],
    db: str | None,
) -> None:
    """Register FILE (.txt, .md, .prompty, or a .json/.yaml message list) as the next
    version of NAME. The same content as the latest version adds no version."""
    from ..prompts._registry import read_prompt_source

    _register(
        db,
        name,
        read_prompt_source(file),
        author=author,
        message=message,
        labels=labels,
        origin="manual",
    )


@prompts_command.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="The prompt's name [default: the .prompty name, else the file's].")
@click.option("-m", "--message", help="A note on the version.")
@_author_option
@_label_option
@db_option
def import_command(
    file: Path,
    name: str | None,
    message: str | None,
    author: str | None,
    labels: tuple[str, ...],
    db: str | None,
) -> None:
    """Register an exported (or any) prompt file, recorded as imported. Importing what
    `prompts export` wrote adds no version: the content is the same."""
    from ..prompts._registry import read_prompt_source

    source = read_prompt_source(file)
    _register(
        db,
        name or source.name or file.stem,
        source,
        author=author,
        message=message,
        labels=labels,
        origin="import",
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

    version = _registry(db).get(reference)
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
            console.print(
                f"  {_when(move.moved_at)}  {escape(move.label)}: {before}v{move.version}"
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


@prompts_command.command("diff")
@click.argument("first")
@click.argument("second", required=False)
@db_option
def diff_command(first: str, second: str | None, db: str | None) -> None:
    """A word diff of two versions: `diff NAME@v1 NAME@v2`, `diff NAME@v1 v2`, or
    `diff NAME@production` (against the latest). Removed words are red, added green (when
    not on a terminal, [-removed-] and {+added+})."""
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


@prompts_command.command("export")
@click.argument("reference")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The file to write: .prompty, .txt, .md or .json [default: standard output, as .prompty].",
)
@db_option
def export_command(reference: str, output: Path | None, db: str | None) -> None:
    """Write a version to a file that `prompts import` (or a suite) reads back unchanged."""
    version = _registry(db).get(reference)
    kind = EXPORT_FORMATS.get(output.suffix.lower()) if output is not None else "prompty"
    if kind is None:
        raise click.UsageError(f"cannot export to {output}: use .prompty, .txt, .md or .json")
    text = export_text(version, kind)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output} ({version.ref})", err=True)


def export_text(version: PromptVersion, kind: str) -> str:
    """The file content of ``version`` as ``kind`` (prompty, text or json). Refuses, rather
    than drop them silently, parts the format cannot hold."""
    from ..errors import PrompteurError

    source = version.source
    if kind == "json":
        if source.format != "messages" or source.params or source.defaults:
            raise PrompteurError(
                f"{version.ref} is not a plain list of messages; export it to .prompty"
            )
        return source.template.rstrip("\n") + "\n"
    if source.format == "messages":
        raise PrompteurError(f"{version.ref} is a list of chat messages; export it to .json")
    if kind == "text":
        if source.params or source.defaults:
            raise PrompteurError(
                f"{version.ref} has parameters or input defaults that a plain file cannot "
                "hold; export it to .prompty"
            )
        return source.template + "\n"
    return _prompty(version)


def _prompty(version: PromptVersion) -> str:
    import yaml

    source = version.source
    meta: dict[str, Any] = {"name": version.name}
    if source.description:
        meta["description"] = source.description
    meta["version"] = f"v{version.version}"
    if source.params:
        meta["model"] = {"parameters": dict(source.params)}
    if source.defaults:
        meta["inputs"] = [{"name": k, "default": v} for k, v in source.defaults.items()]
    frontmatter = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{frontmatter}---\n{source.template}\n"
