"""Writing runs: their record, their cells in batches with the run's counters, heartbeats."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from .._version import __version__
from ..core._author import default_author
from ..core._json import stable_hash
from ..core._secrets import known_secrets, redact, secret_values
from ..providers._base import provider_identity
from . import _schema as t
from ._errors import StoreError
from ._liveness import Beat, is_live
from ._planned import PlannedRun
from ._rows import insert_rows, select_in, storable_row, suite_row

__all__ = ["RunWriter"]

_COUNTERS = {"pass": "passed", "fail": "failed", "error": "errors"}


def recount(conn: Connection, run_id: str) -> None:
    """Set a run's counters from its stored cells."""
    counts: dict[str, int] = dict(
        conn.execute(
            select(t.results.c.status, func.count())
            .where(t.results.c.run_id == run_id)
            .group_by(t.results.c.status)
        ).all()
    )
    conn.execute(
        update(t.runs)
        .where(t.runs.c.id == run_id)
        .values(
            done=sum(counts.values()),
            **{column: counts.get(status, 0) for status, column in _COUNTERS.items()},
        )
    )


def _beat_values(beat: Beat) -> dict[str, Any]:
    return {
        "heartbeat_at": beat.at,
        "pid": beat.pid,
        "host": beat.host,
        "duration_s": beat.duration_s,
    }


def _known_keys(conn: Connection, keys: list[str]) -> set[str]:
    """The cases among ``keys`` that the store holds, read in the transaction of ``conn``:
    a re-run of a large suite asks for every one of its cases."""
    cursor = conn.connection.cursor()
    try:
        query = "SELECT key FROM cases WHERE key IN"
        return {key for (key,) in select_in(cursor, conn.dialect.paramstyle, query, keys)}
    finally:
        cursor.close()


class RunWriter:
    """The writing half of a Store."""

    engine: Engine

    def start_run(
        self,
        run_id: str,
        plan: PlannedRun,
        *,
        suite_name: str | None,
        suite_path: str | None,
        options: Mapping[str, Any],
        git_commit: str | None,
        started_at: float | None = None,
        author: str | None = None,
    ) -> None:
        """Record a run and what it is made of: prompts, providers, test cases. Provider
        identities, options and the suite are stored without their secrets. ``author``:
        who ran it (a team server's signed-in user), else the local user's login name."""
        now = time.time()
        prompt_rows = [
            {
                "id": stable_hash([p.raw, p.chat])[:32],
                "label": redact(p.label),
                "raw": redact(p.raw),
                "chat": p.chat,
                "created_at": now,
            }
            for p in plan.prompts
        ]
        identities = [redact(dict(provider_identity(p))) for p in plan.providers]
        provider_rows = [
            {"id": stable_hash(i)[:32], "provider_id": p.id, "identity": i, "created_at": now}
            for p, i in zip(plan.providers, identities, strict=True)
        ]
        suite = suite_row(plan, suite_path, now)
        with self.engine.begin() as conn:
            if suite is not None:
                insert_rows(conn, t.suites, [suite], keys=["id"])
            insert_rows(conn, t.prompts, prompt_rows, keys=["id"])
            insert_rows(conn, t.providers, provider_rows, keys=["id"])
            run = dict(
                id=run_id,
                suite_id=suite["id"] if suite is not None else None,
                suite_name=redact(suite_name),
                suite_path=suite_path,
                description=redact(plan.description),
                status="running",
                fingerprint=plan.fingerprint(),
                options=redact(dict(options)),
                tool_version=__version__,
                git_commit=git_commit,
                author=author if author is not None else default_author(),
                started_at=started_at or now,
                total_cells=plan.total_cells,
                done=0,
                passed=0,
                failed=0,
                errors=0,
                **_beat_values(Beat.now(0.0)),
            )
            conn.execute(t.runs.insert().values(**storable_row(conn, t.runs, run)))
            conn.execute(
                t.run_prompts.insert(),
                [
                    storable_row(
                        conn,
                        t.run_prompts,
                        {
                            "run_id": run_id,
                            "position": i,
                            "prompt_id": row["id"],
                            "name": redact(p.id),
                            "label": redact(p.label),
                            "registry_name": p.registry[0] if p.registry else None,
                            "registry_version": p.registry[1] if p.registry else None,
                        },
                    )
                    for i, (p, row) in enumerate(zip(plan.prompts, prompt_rows, strict=True))
                ],
            )
            conn.execute(
                t.run_providers.insert(),
                [
                    storable_row(
                        conn,
                        t.run_providers,
                        {
                            "run_id": run_id,
                            "position": i,
                            "provider_key": row["id"],
                            "label": redact(label),
                        },
                    )
                    for i, (label, row) in enumerate(
                        zip(plan.provider_labels, provider_rows, strict=True)
                    )
                ],
            )
            self._add_cases(conn, plan, now)

    @staticmethod
    def _add_cases(conn: Connection, plan: PlannedRun, now: float) -> None:
        """Store the plan's cases that the store does not hold yet (a re-run adds none),
        without their secrets (the case's key is made from its vars as given)."""
        keys = list({test.key for test in plan.tests})
        rows, seen = [], _known_keys(conn, keys)
        for test in plan.tests:
            if test.key not in seen:
                seen.add(test.key)
                known = known_secrets(secret_values(test.vars) | secret_values(test.metadata))
                rows.append(
                    {
                        "key": test.key,
                        "description": redact(test.description, known),
                        "vars": redact(test.vars, known),
                        "metadata": redact(test.metadata, known),
                        "created_at": now,
                    }
                )
        insert_rows(conn, t.cases, rows, keys=["key"])

    def write_results(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        replace: bool = False,
        beat: Beat | None = None,
        cache_entries: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Store result rows (see ``result_row``) and, in the same transaction, the counters
        of their runs, the writer's heartbeat, and new completion-cache entries (see
        ``StoreCache.unwritten``): a run killed at any moment has counters that match its
        stored cells, and a stored cell's answers are in the cache for the next run. A cell
        already stored is kept, unless ``replace`` (re-running errored cells)."""
        runs: dict[str, dict[str, int]] = {}
        for row in rows:
            counts = runs.get(row["run_id"])
            if counts is None:
                counts = runs[row["run_id"]] = {"passed": 0, "failed": 0, "errors": 0}
            counts[_COUNTERS[row["status"]]] += 1
        with self.engine.begin() as conn:
            insert_rows(conn, t.cache, cache_entries, keys=["key"])
            written = insert_rows(
                conn, t.results, rows, keys=["run_id", "cell_key"], replace=replace
            )
            c = t.runs.c
            alive = _beat_values(beat) if beat is not None else {}
            for run_id, counts in runs.items():
                if replace or written != len(rows):
                    recount(conn, run_id)  # replaced cells, or cells that were stored already
                    if alive:
                        conn.execute(update(t.runs).where(c.id == run_id).values(**alive))
                    continue
                conn.execute(
                    update(t.runs)
                    .where(c.id == run_id)
                    .values(
                        done=c.done + sum(counts.values()),
                        passed=c.passed + counts["passed"],
                        failed=c.failed + counts["failed"],
                        errors=c.errors + counts["errors"],
                        **alive,
                    )
                )

    def heartbeat(self, run_id: str, beat: Beat) -> bool:
        """Record that the run's process is alive, and the run's duration so far; False when
        the run is no longer recorded as running (finished, or deleted)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t.runs)
                .where((t.runs.c.id == run_id) & (t.runs.c.status == "running"))
                .values(**_beat_values(beat))
            )
            return bool(done.rowcount)

    def finish_run(self, run_id: str, *, interrupted: bool, duration_s: float) -> None:
        """Close a run: its status, its total duration (over all its segments), and its
        counters recounted from its stored cells."""
        with self.engine.begin() as conn:
            recount(conn, run_id)
            done, total = conn.execute(
                select(t.runs.c.done, t.runs.c.total_cells).where(t.runs.c.id == run_id)
            ).one()
            status = "interrupted" if interrupted or done < total else "finished"
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=time.time(),
                    duration_s=duration_s,
                )
            )

    def reopen_run(self, run_id: str, beat: Beat | None = None) -> float:
        """Mark a run as running again, in this process; returns the time it has taken so
        far. A run that another live process is writing is refused."""
        beat = beat or Beat.now(0.0)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.runs).where(t.runs.c.id == run_id).with_for_update()
            ).first()
            if row is None:
                raise StoreError(f"no run '{run_id}' in the store")
            if row.status == "running" and is_live(row.id, row.heartbeat_at, row.pid, row.host):
                raise StoreError(
                    f"run {run_id} is still running (process {row.pid} on {row.host}); "
                    "let it finish, or stop it before resuming"
                )
            previous = float(row.duration_s or 0.0)
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(
                    status="running",
                    finished_at=None,
                    **_beat_values(Beat(beat.at, beat.pid, beat.host, previous)),
                )
            )
        return previous

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its cells, human verdicts, comments and review queues; cases,
        prompts, providers, suites and the completion cache, which other runs may share,
        stay."""
        with self.engine.begin() as conn:
            queues = select(t.review_queues.c.id).where(t.review_queues.c.run_id == run_id)
            conn.execute(delete(t.review_items).where(t.review_items.c.queue_id.in_(queues)))
            for table in (
                t.review_queues,
                t.comments,
                t.ratings,
                t.results,
                t.run_prompts,
                t.run_providers,
            ):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(t.runs).where(t.runs.c.id == run_id))
