"""Which runs used a registered version, and how they fared."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._registry_records import VersionRun

if TYPE_CHECKING:
    from . import Store

__all__ = ["version_runs"]


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
