"""``prompteur prompts``: the prompt registry. Named prompts with immutable versions,
movable labels (production, staging...) and their history, word diffs between versions,
and export to files that import back without loss."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import db_option, default_author

if TYPE_CHECKING:
    from ..store._registry import PromptRegistry, PromptSource, PromptVersion
    from ..store._registry_source import PromptFile


def open_registry(db: str | None) -> PromptRegistry:
    from sqlalchemy.exc import SQLAlchemyError

    from ..core._errors import PrompteurError
    from ..store import store_url
    from ..store._registry import PromptRegistry

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


def when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def labels_of(version: PromptVersion) -> str:
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
    registry = open_registry(db)
    based_on = None
    if parent is not None:
        # the version this one was made from, when it is not the latest (an older
        # version exported, edited and registered again)
        based_on = registry.get(f"{name}@{parent.removeprefix(f'{name}@')}").version
    elif exported_from is not None:
        # a .prompty file written by `prompts export` says which version it holds
        from ..store._registry import RegistryError

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


author_option = click.option(
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
@author_option
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
    from ..store._registry_source import read_prompt_file

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
@author_option
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
    from ..store._registry_history import read_history
    from ..store._registry_source import read_prompt_file
    from ..store._registry_transfer import import_history

    history = read_history(file)
    if history is not None:
        if message or labels or parent:
            raise click.UsageError(
                "a history file brings its own messages, labels and parents: drop -m, -l "
                "and --parent"
            )
        report = import_history(
            open_registry(db), history, name=name, author=author or default_author()
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
    from ..store._registry_export import EXPORT_KINDS, export_text

    registry = open_registry(db)
    if whole:
        from ..store._registry_transfer import history_document

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
    from ..report._files import check_writable, write_atomically

    check_writable(output)  # a file where a folder should be, named as such
    write_atomically(output, text)
    click.echo(f"wrote {output} ({what})", err=True)


# the commands that read and move what is registered
from . import _prompts_view  # noqa: E402, F401
