"""The prompt registry: named prompts with immutable, numbered versions, movable labels
(``production``, ``staging``...) with their history, and lineage (each version's parent,
and how it was made: by hand, imported, or by the optimizer). It lives in the results
store, so a team shares it the way it shares runs.

A version's content is its template (text with optional role-marker lines, or a JSON list
of messages), generation parameters and input defaults; registering the same content again
adds no version.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._registry_records import (
    ORIGINS,
    REMOVED,
    VERSION_REF,
    LabelMove,
    PromptVersion,
    RegistryError,
    VersionRun,
    check_label,
    check_name,
    split_reference,
)
from ._registry_source import Place, PromptSource, check_source, read_prompt_source

if TYPE_CHECKING:
    from ._store import Store

__all__ = [
    "LabelMove",
    "PromptRegistry",
    "PromptSource",
    "PromptVersion",
    "RegistryError",
    "VersionRun",
    "check_label",
    "check_name",
    "read_prompt_source",
    "split_reference",
]


class PromptRegistry:
    """Prompts, versions and labels in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str | None = None) -> PromptRegistry:
        """The registry of the store at ``url`` (else ``PROMPTEUR_DB``, else the project's)."""
        from ._store import Store

        return cls(Store(url))

    def _row_version(self, row: Any, labels: Sequence[str] = ()) -> PromptVersion:
        source = PromptSource(
            row.template, row.format, row.params or {}, row.defaults or {}, row.description
        )
        return PromptVersion(
            row.name,
            row.version,
            source,
            row.content_hash,
            row.author,
            row.message,
            row.parent,
            row.origin,
            row.created_at,
            tuple(labels),
        )

    def add(
        self,
        name: str,
        source: PromptSource,
        *,
        author: str | None = None,
        message: str | None = None,
        origin: str = "manual",
        parent: int | None = None,
        labels: Sequence[str] = (),
    ) -> tuple[PromptVersion, bool]:
        """Register ``source`` under ``name``: a new version unless the latest one has the
        same content and description. Its parent is ``parent``, else the latest version.
        Returns the version and whether it is new. ``labels`` then point at it."""
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from . import _schema as t

        check_name(name)
        if origin not in ORIGINS:
            raise RegistryError(f"origin must be one of {', '.join(ORIGINS)}")
        for label in labels:
            check_label(label)
        source = source.normalized()
        check_source(source, Place(name))
        digest = source.content_hash
        for _attempt in range(3):  # two writers may race for the next number
            try:
                with self.store.engine.begin() as conn:
                    latest = conn.execute(
                        select(t.prompt_versions)
                        .where(t.prompt_versions.c.name == name)
                        .order_by(t.prompt_versions.c.version.desc())
                        .limit(1)
                    ).first()
                    # a description given anew is a change too; a file that cannot hold
                    # one (.txt) leaves the latest version's standing
                    if (
                        latest is not None
                        and latest.content_hash == digest
                        and source.description in (None, latest.description)
                    ):
                        created, number = False, latest.version
                    else:
                        number = (latest.version if latest is not None else 0) + 1
                        conn.execute(
                            t.prompt_versions.insert().values(
                                name=name,
                                version=number,
                                content_hash=digest,
                                format=source.format,
                                template=source.template,
                                params=dict(source.params),
                                defaults=dict(source.defaults),
                                description=source.description,
                                author=author,
                                message=message,
                                parent=parent
                                if parent is not None
                                else (latest.version if latest is not None else None),
                                origin=origin,
                                created_at=time.time(),
                            )
                        )
                        created = True
                    for label in labels:
                        self.move_label(conn, name, label, number, author)
                break
            except IntegrityError:
                continue
        else:  # pragma: no cover - three lost races in a row
            raise RegistryError(f"could not register {name}: too many concurrent writers")
        return self.get(f"{name}@v{number}"), created

    def move_label(
        self, conn: Any, name: str, label: str, version: int | None, author: str | None
    ) -> None:
        """Point ``label`` at ``version`` (None: remove it), keeping the move in history."""
        from sqlalchemy import delete, select, update

        from . import _schema as t

        now = time.time()
        current = conn.execute(
            select(t.prompt_labels.c.version).where(
                (t.prompt_labels.c.name == name) & (t.prompt_labels.c.label == label)
            )
        ).scalar()
        if current == version:
            return
        if version is None:
            conn.execute(
                delete(t.prompt_labels).where(
                    (t.prompt_labels.c.name == name) & (t.prompt_labels.c.label == label)
                )
            )
        elif current is None:
            conn.execute(
                t.prompt_labels.insert().values(
                    name=name, label=label, version=version, updated_at=now
                )
            )
        else:
            conn.execute(
                update(t.prompt_labels)
                .where((t.prompt_labels.c.name == name) & (t.prompt_labels.c.label == label))
                .values(version=version, updated_at=now)
            )
        conn.execute(
            t.prompt_label_moves.insert().values(
                name=name,
                label=label,
                version=REMOVED if version is None else version,
                previous=current,
                author=author,
                moved_at=now,
            )
        )

    def tag(self, reference: str, label: str, *, author: str | None = None) -> PromptVersion:
        """Point ``label`` at the version ``reference`` names; the move is kept in history."""
        check_label(label)
        version = self.get(reference)
        with self.store.engine.begin() as conn:
            self.move_label(conn, version.name, label, version.version, author)
        return self.get(f"{version.name}@v{version.version}")

    def untag(self, name: str, label: str, *, author: str | None = None) -> int:
        """Remove ``label`` from ``name``; returns the version it pointed at. The removal
        is kept in the label's history."""
        from sqlalchemy import select

        from . import _schema as t

        with self.store.engine.begin() as conn:
            current = conn.execute(
                select(t.prompt_labels.c.version).where(
                    (t.prompt_labels.c.name == name) & (t.prompt_labels.c.label == label)
                )
            ).scalar()
            if current is None:
                raise RegistryError(self._missing(conn, name, f"label '{label}'"))
            self.move_label(conn, name, label, None, author)
        return int(current)

    def get(self, reference: str) -> PromptVersion:
        """``name`` (the latest version), ``name@v3`` / ``name@3``, or ``name@label``."""
        from sqlalchemy import select

        from . import _schema as t

        name, ref = split_reference(reference)
        versions = t.prompt_versions
        with self.store.engine.connect() as conn:
            query = select(versions).where(versions.c.name == name)
            match = VERSION_REF.match(ref) if ref else None
            if ref is None or ref == "latest":
                query = query.order_by(versions.c.version.desc()).limit(1)
            elif match:
                query = query.where(versions.c.version == int(match.group(1)))
            else:
                number = conn.execute(
                    select(t.prompt_labels.c.version).where(
                        (t.prompt_labels.c.name == name) & (t.prompt_labels.c.label == ref)
                    )
                ).scalar()
                if number is None:
                    raise RegistryError(self._missing(conn, name, f"label '{ref}'"))
                query = query.where(versions.c.version == number)
            row = conn.execute(query).first()
            if row is None:
                raise RegistryError(self._missing(conn, name, f"version {ref}" if ref else ""))
            labels = (
                conn.execute(
                    select(t.prompt_labels.c.label)
                    .where(
                        (t.prompt_labels.c.name == name)
                        & (t.prompt_labels.c.version == row.version)
                    )
                    .order_by(t.prompt_labels.c.label)
                )
                .scalars()
                .all()
            )
        return self._row_version(row, labels)

    def _missing(self, conn: Any, name: str, what: str) -> str:
        from sqlalchemy import select

        from ..core._errors import did_you_mean
        from . import _schema as t

        known = conn.execute(select(t.prompt_versions.c.name).distinct()).scalars().all()
        if name not in known:
            return f"no registered prompt '{name}'{did_you_mean(name, known)}"
        labels = (
            conn.execute(select(t.prompt_labels.c.label).where(t.prompt_labels.c.name == name))
            .scalars()
            .all()
        )
        hint = f" (its labels: {', '.join(sorted(labels))})" if labels else ""
        return f"prompt '{name}' has no {what}{hint}"

    def versions(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, oldest first, with the labels on each."""
        from sqlalchemy import select

        from . import _schema as t

        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(t.prompt_versions)
                .where(t.prompt_versions.c.name == name)
                .order_by(t.prompt_versions.c.version)
            ).all()
            labels: dict[int, list[str]] = {}
            for label, version in conn.execute(
                select(t.prompt_labels.c.label, t.prompt_labels.c.version)
                .where(t.prompt_labels.c.name == name)
                .order_by(t.prompt_labels.c.label)
            ).all():
                labels.setdefault(version, []).append(label)
            if not rows:
                raise RegistryError(self._missing(conn, name, ""))
        return [self._row_version(row, labels.get(row.version, ())) for row in rows]

    def label_versions(self, name: str) -> dict[str, int]:
        """``name``'s labels and the version each points at."""
        from sqlalchemy import select

        from . import _schema as t

        labels = t.prompt_labels
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(labels.c.label, labels.c.version).where(labels.c.name == name)
            ).all()
        return {str(label): int(version) for label, version in rows}

    def moves(self, name: str) -> list[LabelMove]:
        """The history of ``name``'s labels, oldest first."""
        from sqlalchemy import select

        from . import _schema as t

        moves = t.prompt_label_moves
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(moves).where(moves.c.name == name).order_by(moves.c.moved_at, moves.c.id)
            ).all()
        return [
            LabelMove(r.label, r.version or None, r.previous, r.author, r.moved_at) for r in rows
        ]

    def runs_of(self, name: str, version: int, *, limit: int = 10) -> list[VersionRun]:
        """The latest runs that used ``name`` at ``version`` (oldest first), with the
        pass rate on each provider."""
        from ._registry_records import version_runs

        return version_runs(self.store, name, version, limit=limit)

    def names(self) -> list[PromptVersion]:
        """The latest version of every registered prompt, by name."""
        from sqlalchemy import func, select

        from . import _schema as t

        versions = t.prompt_versions
        with self.store.engine.connect() as conn:
            latest = (
                select(versions.c.name, func.max(versions.c.version).label("version"))
                .group_by(versions.c.name)
                .subquery()
            )
            rows = conn.execute(
                select(versions)
                .join(
                    latest,
                    (versions.c.name == latest.c.name) & (versions.c.version == latest.c.version),
                )
                .order_by(versions.c.name)
            ).all()
        return [self.get(row.name) for row in rows]
