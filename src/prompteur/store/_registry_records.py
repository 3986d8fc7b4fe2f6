"""The registry's records: versions, label moves, the runs that used a version, and
the rules for names and references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core._errors import Location, PrompteurError
from ..prompts._template import PromptTemplate
from ._registry_source import PromptSource

if TYPE_CHECKING:
    from ._store import Store

__all__ = [
    "ORIGINS",
    "REMOVED",
    "VERSION_REF",
    "LabelMove",
    "PromptVersion",
    "RegistryError",
    "VersionRun",
    "check_label",
    "check_name",
    "split_reference",
    "version_runs",
]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_REF = re.compile(r"^v?(\d+)$")
ORIGINS = ("manual", "import", "optimizer")
# prompt_label_moves.version cannot be NULL: a move to 0 (no version has it) is a removal
REMOVED = 0


class RegistryError(PrompteurError):
    """A registered prompt, version or label that does not exist, or a bad name."""


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
        different versions pair up in comparisons), its label names the version (beside a
        label of the suite's own, so that reports always say which version ran)."""
        if label and self.ref not in label:
            label = f"{label} ({self.ref})"
        return self.source.template_for(
            id=id or self.name,
            label=label or self.ref,
            origin=origin,
            registry=(self.name, self.version),
        )


@dataclass(frozen=True)
class LabelMove:
    """A label pointed at ``version`` (None: the label was removed), from ``previous``."""

    label: str
    version: int | None
    previous: int | None
    author: str | None
    moved_at: float


@dataclass(frozen=True)
class VersionRun:
    """A run that used a version, on one provider, and how its cells fared."""

    run_id: str
    started_at: float
    provider: str
    done: int
    passed: int


def split_reference(reference: str) -> tuple[str, str | None]:
    """``name@ref`` into (name, ref); ref is a version (``v3``, ``3``), a label, or None."""
    name, _, ref = reference.partition("@")
    return name.strip(), (ref.strip() or None)


def check_name(name: str, what: str = "prompt name") -> None:
    if not NAME.match(name):
        raise RegistryError(f"invalid {what} {name!r}: use letters, digits, '.', '_' and '-'")


def check_label(label: str) -> None:
    check_name(label, "label")
    if label == "latest" or VERSION_REF.match(label):
        raise RegistryError(f"'{label}' cannot be a label: it reads as a version")


def version_runs(store: Store, name: str, version: int, *, limit: int = 10) -> list[VersionRun]:
    """The latest runs that used ``name`` at ``version`` (oldest first), with the
    pass rate on each provider."""
    from sqlalchemy import select

    from . import _schema as t

    rp = t.run_prompts
    query = (
        select(rp.c.run_id, t.runs.c.started_at)
        .join(t.runs, t.runs.c.id == rp.c.run_id)
        .where((rp.c.registry_name == name) & (rp.c.registry_version == version))
        .distinct()
        .order_by(t.runs.c.started_at.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        run_ids = [row.run_id for row in conn.execute(query)]
    usage = []
    for run_id in reversed(run_ids):
        info = store.run(run_id)
        positions = {i for i, ref in enumerate(info.registered) if ref == (name, version)}
        counts: dict[str, list[int]] = {}
        for cell in store.outcomes(run_id, prompt_positions=positions):
            done_passed = counts.setdefault(cell.provider, [0, 0])
            done_passed[0] += 1
            done_passed[1] += cell.status == "pass"
        for provider, (done, passed) in counts.items():
            usage.append(VersionRun(info.id, info.started_at, provider, done, passed))
    return usage
