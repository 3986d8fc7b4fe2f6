"""The prompt registry: named prompts with immutable, numbered versions, movable labels
(``production``, ``staging``...) with their history, and lineage (each version's parent,
and how it was made: by hand, imported, or by the optimizer). It lives in the results
store, so a team shares it the way it shares runs.

A version's content is its template (text with optional role-marker lines, or a JSON list
of messages), generation parameters and input defaults; registering the same content again
adds no version.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._json import canonical
from ..config._source import display_path, read_structured, read_text
from ..errors import Location, PrompteurError, SuiteError
from ._prompty import parse_prompty
from ._template import PromptTemplate

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["PromptRegistry", "PromptSource", "PromptVersion", "RegistryError", "read_prompt_source"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_REF = re.compile(r"^v?(\d+)$")
ORIGINS = ("manual", "import", "optimizer")


class RegistryError(PrompteurError):
    """A registered prompt, version or label that does not exist, or a bad name."""


@dataclass(frozen=True)
class PromptSource:
    """What a prompt version is made of."""

    template: str
    format: str = "text"  # "text" (role-marker lines allowed) or "messages" (a JSON list)
    params: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    name: str | None = None  # as a .prompty file names it

    @property
    def content_hash(self) -> str:
        """The identity of the content; the description and name are not part of it."""
        import hashlib

        payload = {
            "format": self.format,
            "template": self.template,
            "params": dict(self.params),
            "defaults": dict(self.defaults),
        }
        return hashlib.sha256(canonical(payload).encode()).hexdigest()

    def template_for(
        self,
        *,
        id: str,
        label: str,
        origin: Location | None = None,
        registry: tuple[str, int] | None = None,
    ) -> PromptTemplate:
        if self.format == "messages":
            messages = json.loads(self.template)
            built = PromptTemplate.from_messages(messages, id=id, label=label, origin=origin)
            return dataclasses.replace(
                built, defaults=dict(self.defaults), params=dict(self.params), registry=registry
            )
        built = PromptTemplate.from_text(
            self.template,
            id=id,
            label=label,
            origin=origin,
            defaults=self.defaults,
            params=self.params,
        )
        return dataclasses.replace(built, registry=registry)


def read_prompt_source(path: Path) -> PromptSource:
    """A prompt file as registry content: .txt/.md (one prompt), .json/.yaml message
    lists, or .prompty (its parameters, input defaults, name and description too)."""
    suffix = path.suffix.lower()
    if suffix == ".prompty":
        text = read_text(path, None)
        prompty = parse_prompty(text, Location(display_path(path), 1, 1))
        return PromptSource(
            prompty.template,
            "text",
            dict(prompty.parameters),
            dict(prompty.defaults),
            prompty.description,
            prompty.name,
        )
    if suffix in (".json", ".yaml", ".yml"):
        data = read_structured(path, None)
        if not isinstance(data, list) or not all(
            isinstance(m, dict) and "role" in m and isinstance(m.get("content"), str) for m in data
        ):
            raise SuiteError(
                "a chat prompt file must hold a list of {role, content} messages",
                Location(display_path(path), 1, 1),
            )
        messages = [{"role": m["role"], "content": m["content"]} for m in data]
        return PromptSource(json.dumps(messages, ensure_ascii=False, indent=2), "messages")
    text = read_text(path, None)
    if re.search(r"^---[ \t]*$", text, re.MULTILINE):
        raise SuiteError(
            f"{display_path(path)} holds several prompts (lines of '---'); "
            "register one prompt per file"
        )
    return PromptSource(text.strip("\n"), "text")


@dataclass(frozen=True)
class PromptVersion:
    name: str
    version: int
    source: PromptSource
    content_hash: str
    author: str | None
    message: str | None
    parent: int | None
    origin: str
    created_at: float
    labels: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    def template(
        self, *, id: str | None = None, label: str | None = None, origin: Location | None = None
    ) -> PromptTemplate:
        """The version as a prompt of a suite: its id is the name by default (so runs of
        different versions pair up in comparisons), its label names the version."""
        return self.source.template_for(
            id=id or self.name,
            label=label or self.ref,
            origin=origin,
            registry=(self.name, self.version),
        )


@dataclass(frozen=True)
class LabelMove:
    label: str
    version: int
    previous: int | None
    author: str | None
    moved_at: float


def split_reference(reference: str) -> tuple[str, str | None]:
    """``name@ref`` into (name, ref); ref is a version (``v3``, ``3``), a label, or None."""
    name, _, ref = reference.partition("@")
    return name.strip(), (ref.strip() or None)


def _check_name(name: str, what: str = "prompt name") -> None:
    if not NAME.match(name):
        raise RegistryError(f"invalid {what} {name!r}: use letters, digits, '.', '_' and '-'")


class PromptRegistry:
    """Prompts, versions and labels in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str | None = None) -> PromptRegistry:
        """The registry of the store at ``url`` (else ``PROMPTEUR_DB``, else the project's)."""
        from ..store import Store

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
        same content. Returns the version and whether it is new. ``labels`` then point at it."""
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from ..store import _schema as t

        _check_name(name)
        if origin not in ORIGINS:
            raise RegistryError(f"origin must be one of {', '.join(ORIGINS)}")
        for label in labels:
            _check_label(label)
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
                    if latest is not None and latest.content_hash == digest:
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
                        self._move(conn, name, label, number, author)
                break
            except IntegrityError:
                continue
        else:  # pragma: no cover - three lost races in a row
            raise RegistryError(f"could not register {name}: too many concurrent writers")
        return self.get(f"{name}@v{number}"), created

    def _move(self, conn: Any, name: str, label: str, version: int, author: str | None) -> None:
        from sqlalchemy import select, update

        from ..store import _schema as t

        now = time.time()
        current = conn.execute(
            select(t.prompt_labels.c.version).where(
                (t.prompt_labels.c.name == name) & (t.prompt_labels.c.label == label)
            )
        ).scalar()
        if current == version:
            return
        if current is None:
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
                version=version,
                previous=current,
                author=author,
                moved_at=now,
            )
        )

    def tag(self, reference: str, label: str, *, author: str | None = None) -> PromptVersion:
        """Point ``label`` at the version ``reference`` names; the move is kept in history."""
        _check_label(label)
        version = self.get(reference)
        with self.store.engine.begin() as conn:
            self._move(conn, version.name, label, version.version, author)
        return self.get(f"{version.name}@v{version.version}")

    def get(self, reference: str) -> PromptVersion:
        """``name`` (the latest version), ``name@v3`` / ``name@3``, or ``name@label``."""
        from sqlalchemy import select

        from ..store import _schema as t

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

        from ..errors import did_you_mean
        from ..store import _schema as t

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

        from ..store import _schema as t

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

        from ..store import _schema as t

        labels = t.prompt_labels
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(labels.c.label, labels.c.version).where(labels.c.name == name)
            ).all()
        return {str(label): int(version) for label, version in rows}

    def moves(self, name: str) -> list[LabelMove]:
        """The history of ``name``'s labels, oldest first."""
        from sqlalchemy import select

        from ..store import _schema as t

        moves = t.prompt_label_moves
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(moves).where(moves.c.name == name).order_by(moves.c.moved_at, moves.c.id)
            ).all()
        return [LabelMove(r.label, r.version, r.previous, r.author, r.moved_at) for r in rows]

    def names(self) -> list[PromptVersion]:
        """The latest version of every registered prompt, by name."""
        from sqlalchemy import func, select

        from ..store import _schema as t

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


def _check_label(label: str) -> None:
    _check_name(label, "label")
    if label == "latest" or VERSION_REF.match(label):
        raise RegistryError(f"'{label}' cannot be a label: it reads as a version")
