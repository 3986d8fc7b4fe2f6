"""A prompt's whole history as one JSON file, from one store to another: every version
(content, author, message, time, parent, origin), its labels and every label move.

Importing reproduces the history in a store that does not have the prompt. In one that
does, versions it already holds (the same content) add nothing, the others are added after
its own, in their order, with their lineage; labels the store already has stay where they
are, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._registry import PromptRegistry
from ._registry_history import HISTORY_FORMAT, HISTORY_KIND, HistoryFile, record_source
from ._registry_records import REMOVED, RegistryError, check_name

__all__ = ["ImportReport", "history_document", "import_history"]


def history_document(registry: PromptRegistry, name: str) -> dict[str, Any]:
    """Everything the registry keeps about ``name``, as JSON data."""
    versions = registry.versions(name)
    return {
        "kind": HISTORY_KIND,
        "format": HISTORY_FORMAT,
        "name": name,
        "versions": [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "format": v.source.format,
                "template": v.source.template,
                "params": dict(v.source.params),
                "defaults": dict(v.source.defaults),
                "description": v.source.description,
                "author": v.author,
                "message": v.message,
                "parent": v.parent,
                "origin": v.origin,
                "created_at": v.created_at,
            }
            for v in versions
        ],
        "labels": dict(sorted(registry.label_versions(name).items())),
        "label_moves": [
            {
                "label": m.label,
                "version": m.version,
                "previous": m.previous,
                "author": m.author,
                "moved_at": m.moved_at,
            }
            for m in registry.moves(name)
        ],
    }


@dataclass
class ImportReport:
    """What an import did. ``numbers`` maps the file's versions to the store's."""

    name: str
    had: int = 0  # versions the store held before
    numbers: dict[int, int] = field(default_factory=dict)
    added: list[int] = field(default_factory=list)  # the file's versions that were added
    labels_set: dict[str, int] = field(default_factory=dict)  # label: version here
    labels_kept: list[tuple[str, int, int]] = field(default_factory=list)  # here, in file
    moves_copied: int = 0

    def lines(self) -> list[str]:
        """What was done, for people: one line per kind of change."""
        numbers, said = self.numbers, []
        if self.added and not self.had:
            said.append(f"imported {len(self.added)} versions (v1–v{len(self.added)})")
        elif self.added:
            moved = ", ".join(f"v{v} as v{numbers[v]}" for v in self.added)
            said.append(
                f"added {len(self.added)} versions after the store's own {self.had}: {moved}"
            )
        same = [v for v in numbers if v not in self.added]
        if same:
            said.append(
                f"{len(same)} of the file's {len(numbers)} versions already here ("
                + ", ".join(f"v{v} is v{numbers[v]}" for v in same)
                + ")"
            )
        if self.labels_set:
            labels = ", ".join(f"{label} → v{v}" for label, v in self.labels_set.items())
            said.append(f"labels {labels}, with {self.moves_copied} label moves of history")
        for label, here, there in self.labels_kept:
            said.append(
                f"label {label} stays at v{here} (the file puts it at v{there}: "
                f"'prompteur prompts tag {self.name}@v{there} {label}' moves it)"
            )
        if not self.added and not self.labels_set:
            said.insert(0, "nothing new")
        return [f"{self.name}: {line}" for line in said]


def import_history(
    registry: PromptRegistry,
    history: HistoryFile,
    *,
    name: str | None = None,
    author: str | None = None,
) -> ImportReport:
    """Bring ``history`` into ``registry`` (under ``name``, else its own), in one transaction."""
    from sqlalchemy.exc import IntegrityError

    target = name or history.name
    check_name(target)
    for _attempt in range(3):  # a concurrent `prompts add` may take a number first
        try:
            with registry.store.engine.begin() as conn:
                return _import(registry, conn, history, target, author)
        except IntegrityError:
            continue
    raise RegistryError(f"could not import {target}: too many concurrent writers")


def _import(
    registry: PromptRegistry, conn: Any, history: HistoryFile, name: str, author: str | None
) -> ImportReport:
    from sqlalchemy import select

    from . import _schema as t

    rows = conn.execute(
        select(t.prompt_versions)
        .where(t.prompt_versions.c.name == name)
        .order_by(t.prompt_versions.c.version)
    ).all()
    report = ImportReport(name, had=len(rows))
    unmatched: dict[str, list[Any]] = {}
    for row in rows:
        unmatched.setdefault(row.content_hash, []).append(row)
    number: int = rows[-1].version if rows else 0
    for record in history.versions:
        source = record_source(record)
        candidates = unmatched.get(source.content_hash, [])
        same = [r for r in candidates if r.created_at == record["created_at"]]
        if same or candidates:
            match = (same or candidates)[0]
            candidates.remove(match)
            report.numbers[record["version"]] = match.version
            continue
        number += 1
        parent = record["parent"]
        conn.execute(
            t.prompt_versions.insert().values(
                name=name,
                version=number,
                content_hash=source.content_hash,
                format=source.format,
                template=source.template,
                params=dict(source.params),
                defaults=dict(source.defaults),
                description=source.description,
                author=record["author"],
                message=record["message"],
                parent=report.numbers[parent] if parent is not None else None,
                origin=record["origin"],
                created_at=float(record["created_at"]),
            )
        )
        report.numbers[record["version"]] = number
        report.added.append(record["version"])
    _import_labels(registry, conn, history, report, author)
    return report


def _import_labels(
    registry: PromptRegistry,
    conn: Any,
    history: HistoryFile,
    report: ImportReport,
    author: str | None,
) -> None:
    from sqlalchemy import select

    from . import _schema as t

    name, numbers = report.name, report.numbers
    here = dict(
        conn.execute(
            select(t.prompt_labels.c.label, t.prompt_labels.c.version).where(
                t.prompt_labels.c.name == name
            )
        ).all()
    )
    with_history = set(
        conn.execute(
            select(t.prompt_label_moves.c.label).where(t.prompt_label_moves.c.name == name)
        ).scalars()
    )
    moves_by_label: dict[str, list[dict[str, Any]]] = {}
    for move in history.moves:
        moves_by_label.setdefault(move["label"], []).append(move)
    for label in sorted(set(history.labels) | set(moves_by_label)):
        wanted = history.labels.get(label)
        local = numbers[wanted] if wanted is not None else None
        if label in here:
            if local is not None and here[label] != local:
                report.labels_kept.append((label, here[label], local))
            continue
        if label in with_history or label not in moves_by_label:
            if local is not None:  # its history here (or none in the file) comes first
                registry.move_label(conn, name, label, local, author)
                report.labels_set[label] = local
            continue
        for move in moves_by_label[label]:
            conn.execute(
                t.prompt_label_moves.insert().values(
                    name=name,
                    label=label,
                    version=numbers[move["version"]] if move["version"] else REMOVED,
                    previous=numbers[move["previous"]] if move["previous"] else None,
                    author=move.get("author"),
                    moved_at=float(move["moved_at"]),
                )
            )
            report.moves_copied += 1
        if local is not None:
            last = moves_by_label[label][-1]["moved_at"]
            conn.execute(
                t.prompt_labels.insert().values(
                    name=name, label=label, version=local, updated_at=float(last)
                )
            )
            report.labels_set[label] = local
