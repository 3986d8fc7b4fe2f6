"""The results store: runs, their cells, and the completion cache, in SQLite or PostgreSQL."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from . import _schema as t
from ._cells import CellReader
from ._engine import make_engine, store_url
from ._errors import StoreError, open_error
from ._grid import GridReader
from ._liveness import is_live
from ._migrations import migrate
from ._records import CellOutcome, RunInfo, case_label
from ._reviews import ReviewStore
from ._rows import KEYS_PER_QUERY, insert_rows, result_row
from ._writing import RunWriter

__all__ = ["CellOutcome", "RunInfo", "Store", "StoreError", "case_label", "result_row"]

_insert = insert_rows  # the completion cache writes through it


class Store(RunWriter, CellReader, GridReader, ReviewStore):
    """A results store at a database URL (SQLite path or PostgreSQL); migrated on open.
    A store that cannot be opened raises StoreError, saying why in one line."""

    def __init__(self, url: str | None = None) -> None:
        self.url = store_url(url)
        password = make_url(self.url).password if "://" in self.url else None
        try:
            self.engine: Engine = make_engine(self.url)
            with self.engine.begin() as conn:
                migrate(conn)
        except (DBAPIError, OSError) as exc:
            engine = getattr(self, "engine", None)
            if engine is not None:
                engine.dispose()
            raise open_error(self.display_url, exc, str(password) if password else None) from None
        # A store dropped without close() still closes its connections (PostgreSQL's warn
        # when they are only garbage-collected).
        weakref.finalize(self, self.engine.dispose)

    def close(self) -> None:
        self.engine.dispose()
        reads = self.__dict__.get("_read_engine")
        if reads is not None and reads is not self.engine:
            reads.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading --------------------------------------------------------------------------------

    @staticmethod
    def _status(row: Any) -> str:
        """The run's status, where "running" means a live process is writing it."""
        if row.status == "running" and not is_live(row.id, row.heartbeat_at, row.pid, row.host):
            return "interrupted"
        return str(row.status)

    def _run_info(self, conn: Connection, row: Any) -> RunInfo:
        prompts = conn.execute(
            select(
                t.run_prompts.c.name,
                t.run_prompts.c.label,
                t.run_prompts.c.registry_name,
                t.run_prompts.c.registry_version,
                t.run_prompts.c.prompt_id,
            )
            .where(t.run_prompts.c.run_id == row.id)
            .order_by(t.run_prompts.c.position)
        ).all()
        providers = (
            conn.execute(
                select(t.run_providers.c.label)
                .where(t.run_providers.c.run_id == row.id)
                .order_by(t.run_providers.c.position)
            )
            .scalars()
            .all()
        )
        human, gain = self._human_counts(conn, row.id)
        return RunInfo(
            id=row.id,
            suite_name=row.suite_name,
            suite_path=row.suite_path,
            description=row.description,
            status=self._status(row),
            fingerprint=row.fingerprint,
            options=row.options or {},
            tool_version=row.tool_version,
            git_commit=row.git_commit,
            started_at=row.started_at,
            finished_at=row.finished_at,
            total_cells=row.total_cells,
            done=row.done,
            passed=row.passed,
            failed=row.failed,
            errors=row.errors,
            duration_s=row.duration_s,
            author=row.author,
            prompts=[(p.name, p.label) for p in prompts],
            providers=[(p, p) for p in providers],
            registered=[
                (p.registry_name, p.registry_version) if p.registry_name is not None else None
                for p in prompts
            ],
            prompt_hashes=[p.prompt_id for p in prompts],
            heartbeat_at=row.heartbeat_at,
            pid=row.pid,
            host=row.host,
            human=human,
            human_gain=gain,
        )

    def _human_counts(self, conn: Connection, run_id: str) -> tuple[int, int]:
        """How many of the run's cells carry a person's verdict, and how many passes those
        verdicts add to the automatic grades (negative when they fail passing cells)."""
        verdicts = self._verdicts(conn, run_id)
        if not verdicts:
            return 0, 0
        keys = list(verdicts)
        human = gain = 0
        for start in range(0, len(keys), KEYS_PER_QUERY):
            rows = conn.execute(
                select(t.results.c.cell_key, t.results.c.status).where(
                    (t.results.c.run_id == run_id)
                    & t.results.c.cell_key.in_(keys[start : start + KEYS_PER_QUERY])
                )
            )
            for key, status in rows:
                human += 1
                gain += int(verdicts[key].passed) - int(status == "pass")
        return human, gain

    def run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or ``latest``."""
        query: Select[Any] = select(t.runs)
        if ref == "latest":
            query = query.order_by(t.runs.c.started_at.desc()).limit(1)
        else:
            query = query.where(t.runs.c.id.startswith(ref, autoescape=True)).limit(50)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            exact = [row for row in rows if row.id == ref]
            if exact:
                rows = exact
            if not rows:
                raise StoreError(f"no run '{ref}' in the store ({self.display_url})")
            if len(rows) > 1:
                raise StoreError(f"'{ref}' matches several runs; give more of the id")
            return self._run_info(conn, rows[0])

    def find_run(self, run_id: str) -> RunInfo | None:
        """The run with exactly this id, if the store has it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
            return self._run_info(conn, row) if row is not None else None

    def runs(
        self,
        *,
        suite: str | None = None,
        limit: int | None = 20,
        statuses: Iterable[str] | None = None,
        prompt: str | None = None,
        provider: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RunInfo]:
        """Runs, newest first; ``suite`` matches the suite's name or file path, ``prompt``
        and ``provider`` a part of a prompt's or provider's label, ``since`` and ``until``
        the time it started (inclusive). ``statuses`` are as RunInfo reports them:
        ``interrupted`` includes runs whose process died."""
        runs = t.runs.c
        query: Select[Any] = select(t.runs).order_by(runs.started_at.desc(), runs.id)
        if suite is not None:
            query = query.where((runs.suite_name == suite) | (runs.suite_path == suite))
        if prompt:
            labels = t.run_prompts.c
            query = query.where(
                select(labels.run_id)
                .where(
                    (labels.run_id == runs.id)
                    & func.lower(labels.label).contains(prompt.lower(), autoescape=True)
                )
                .exists()
            )
        if provider:
            labels = t.run_providers.c
            query = query.where(
                select(labels.run_id)
                .where(
                    (labels.run_id == runs.id)
                    & func.lower(labels.label).contains(provider.lower(), autoescape=True)
                )
                .exists()
            )
        if since is not None:
            query = query.where(runs.started_at >= since)
        if until is not None:
            query = query.where(runs.started_at <= until)
        wanted = set(statuses) if statuses is not None else None
        if wanted is not None:
            stored = wanted | ({"running"} if "interrupted" in wanted else set())
            query = query.where(t.runs.c.status.in_(sorted(stored)))
        elif limit is not None:
            query = query.limit(limit)
        found: list[RunInfo] = []
        with self.engine.connect() as conn:
            for row in conn.execute(query).all():
                if wanted is not None and self._status(row) not in wanted:
                    continue
                found.append(self._run_info(conn, row))
                if limit is not None and len(found) >= limit:
                    break
        return found

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # not a URL SQLAlchemy can parse: nothing to hide
            return self.url
