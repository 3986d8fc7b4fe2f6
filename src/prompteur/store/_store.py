"""The results store: runs, their cells, and the completion cache, in SQLite or PostgreSQL."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Select, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..eval._results import CellResult, HumanVerdict
from ..eval._summary import RunSummary, SummaryBuilder
from . import _schema as t
from ._engine import make_engine, store_url
from ._errors import StoreError, open_error
from ._liveness import is_live
from ._migrations import migrate
from ._records import CellOutcome, PromptUsage, RunInfo, case_label
from ._rows import assertion_from_json, insert_rows, result_row
from ._writing import RunWriter

__all__ = ["CellOutcome", "RunInfo", "Store", "StoreError", "case_label", "result_row"]

_insert = insert_rows  # the completion cache writes through it


class Store(RunWriter):
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
            prompts=[(p.name, p.label) for p in prompts],
            providers=[(p, p) for p in providers],
            registered=[
                (p.registry_name, p.registry_version) if p.registry_name is not None else None
                for p in prompts
            ],
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
        for start in range(0, len(keys), 500):
            rows = conn.execute(
                select(t.results.c.cell_key, t.results.c.status).where(
                    (t.results.c.run_id == run_id)
                    & t.results.c.cell_key.in_(keys[start : start + 500])
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
    ) -> list[RunInfo]:
        """Runs, newest first; ``suite`` matches the suite's name or file path. ``statuses``
        are as RunInfo reports them: ``interrupted`` includes runs whose process died."""
        query: Select[Any] = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.id)
        if suite is not None:
            query = query.where((t.runs.c.suite_name == suite) | (t.runs.c.suite_path == suite))
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

    def cell_keys(self, run_id: str, *, status: str | None = None) -> set[str]:
        query = select(t.results.c.cell_key).where(t.results.c.run_id == run_id)
        if status is not None:
            query = query.where(t.results.c.status == status)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def results(
        self, run_id: str, *, batch: int = 1000, human: bool = True
    ) -> Iterator[CellResult]:
        """The run's cells in plan order (test, prompt, provider, repeat), read in pages,
        with the human verdicts given on them (unless ``human`` is False)."""
        info = self.run(run_id)
        cases = t.cases
        query = (
            select(t.results, cases.c.description, cases.c.vars, cases.c.metadata)
            .join(cases, cases.c.key == t.results.c.test_key)
            .where(t.results.c.run_id == run_id)
            .order_by(
                t.results.c.test_pos,
                t.results.c.prompt_pos,
                t.results.c.provider_pos,
                t.results.c.repeat,
            )
        )
        # the result is closed however far the caller reads (PostgreSQL streams it through
        # a server-side cursor)
        with self.engine.connect() as conn:
            verdicts = self._verdicts(conn, run_id) if human else {}
            rows = conn.execution_options(yield_per=batch).execute(query)
            with rows:
                for row in rows:
                    yield CellResult(
                        prompt_index=row.prompt_pos,
                        provider_index=row.provider_pos,
                        test_index=row.test_pos,
                        repeat=row.repeat,
                        prompt_id=info.prompts[row.prompt_pos][0],
                        provider_id=info.providers[row.provider_pos][0],
                        test_description=row.description,
                        vars=row.vars or {},
                        prompt=row.rendered_prompt,
                        output=row.output,
                        error=row.error,
                        passed=row.status == "pass",
                        score=row.score,
                        assertions=tuple(assertion_from_json(a) for a in row.assertions or ()),
                        latency_ms=row.latency_ms,
                        prompt_tokens=row.prompt_tokens,
                        completion_tokens=row.completion_tokens,
                        cost=row.cost,
                        finish_reason=row.finish_reason,
                        cached=row.cached,
                        attempts=row.attempts,
                        metadata=row.metadata or {},
                        model=row.model,
                        grader_prompt_tokens=row.grader_prompt_tokens,
                        grader_completion_tokens=row.grader_completion_tokens,
                        grader_cost=row.grader_cost,
                        human=verdicts.get(row.cell_key),
                    )

    def outcomes(
        self, run_id: str, *, prompt_positions: set[int] | None = None
    ) -> Iterator[CellOutcome]:
        """The run's cells, lightly: enough to pair and compare them with another run."""
        info = self.run(run_id)
        cases = t.cases
        query = (
            select(
                t.results.c.prompt_pos,
                t.results.c.provider_pos,
                t.results.c.test_key,
                t.results.c.repeat,
                t.results.c.cell_key,
                t.results.c.status,
                t.results.c.output,
                t.results.c.model,
                cases.c.description,
                cases.c.vars,
            )
            .join(cases, cases.c.key == t.results.c.test_key)
            .where(t.results.c.run_id == run_id)
            .order_by(
                t.results.c.test_pos,
                t.results.c.prompt_pos,
                t.results.c.provider_pos,
                t.results.c.repeat,
            )
        )
        if prompt_positions is not None:
            query = query.where(t.results.c.prompt_pos.in_(sorted(prompt_positions)))
        with self.engine.connect() as conn:
            verdicts = self._verdicts(conn, run_id)
            rows = conn.execution_options(yield_per=2000).execute(query)
            with rows:
                for row in rows:
                    verdict = verdicts.get(row.cell_key)
                    status = row.status
                    if verdict is not None:
                        status = "pass" if verdict.passed else "fail"
                    yield CellOutcome(
                        row.prompt_pos,
                        info.prompts[row.prompt_pos][0],
                        info.prompts[row.prompt_pos][1],
                        info.providers[row.provider_pos][0],
                        row.test_key,
                        row.repeat,
                        status,
                        row.output,
                        row.model,
                        case_label(row.description, row.vars or {}),
                        verdict is not None,
                        row.provider_pos,
                    )

    def prompt_usage(self, name: str, *, limit: int = 20) -> list[PromptUsage]:
        """The latest runs that used the registered prompt ``name``: which version, on
        which provider, with what pass rate (human verdicts first, as everywhere)."""
        rp = t.run_prompts
        runs = (
            select(rp.c.run_id, t.runs.c.started_at)
            .join(t.runs, t.runs.c.id == rp.c.run_id)
            .where(rp.c.registry_name == name)
            .distinct()
            .order_by(t.runs.c.started_at.desc())
            .limit(limit)
        )
        usage: list[PromptUsage] = []
        with self.engine.connect() as conn:
            run_ids = [row.run_id for row in conn.execute(runs)]
        for run_id in reversed(run_ids):
            info = self.run(run_id)
            positions = {
                i: ref[1] for i, ref in enumerate(info.registered) if ref and ref[0] == name
            }
            counts: dict[tuple[int, str], list[int]] = {}
            for cell in self.outcomes(run_id, prompt_positions=set(positions)):
                key = (positions[cell.prompt_pos], cell.provider)
                done_passed = counts.setdefault(key, [0, 0])
                done_passed[0] += 1
                done_passed[1] += cell.status == "pass"
            for (version, provider), (done, passed) in counts.items():
                usage.append(PromptUsage(info.id, info.started_at, version, provider, done, passed))
        return usage

    # --- human verdicts ------------------------------------------------------------------------

    def rate(
        self,
        run_id: str,
        cell_key: str,
        *,
        passed: bool,
        author: str,
        score: float | None = None,
        comment: str | None = None,
    ) -> HumanVerdict:
        """Record a person's verdict on a cell; the latest one counts, earlier ones stay."""
        if score is not None and not 0 <= score <= 1:
            raise StoreError(f"a score lies between 0 and 1, not {score:g}")
        info = self.run(run_id)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.results.c.status, t.results.c.output, t.results.c.error).where(
                    (t.results.c.run_id == info.id) & (t.results.c.cell_key == cell_key)
                )
            ).first()
            if row is None:
                raise StoreError(
                    f"run {info.id} has no cell '{cell_key}' (cells are named "
                    "prompt:provider:test:repeat, as 'prompteur show' lists them)"
                )
            if row.output is None:
                raise StoreError(
                    f"cell {cell_key} has no output to judge (its call failed: {row.error})"
                )
            verdict = HumanVerdict(passed, score, comment, author, time.time())
            conn.execute(
                t.ratings.insert().values(
                    run_id=info.id,
                    cell_key=cell_key,
                    passed=passed,
                    score=score,
                    comment=comment,
                    author=author,
                    created_at=verdict.created_at,
                )
            )
        return verdict

    def verdicts(self, run_id: str) -> dict[str, HumanVerdict]:
        """The latest human verdict on each rated cell of a run."""
        with self.engine.connect() as conn:
            return self._verdicts(conn, run_id)

    @staticmethod
    def _verdicts(conn: Connection, run_id: str) -> dict[str, HumanVerdict]:
        rows = conn.execute(
            select(t.ratings)
            .where(t.ratings.c.run_id == run_id)
            .order_by(t.ratings.c.created_at, t.ratings.c.id)
        )
        return {
            row.cell_key: HumanVerdict(
                row.passed, row.score, row.comment, row.author, row.created_at
            )
            for row in rows
        }

    def summary(self, run_id: str, *, max_failures: int = 50) -> RunSummary:
        """The run's summary, rebuilt from its stored cells (memory stays flat)."""
        info = self.run(run_id)
        planned_per_group = info.total_cells // max(1, len(info.prompts) * len(info.providers))
        builder = SummaryBuilder(
            info.description, info.prompts, info.providers, planned_per_group, max_failures
        )
        for result in self.results(run_id):
            builder.add(result)
        summary = builder.summary
        summary.duration_s = info.duration_s or 0.0
        summary.interrupted = info.status != "finished"
        return summary

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # not a URL SQLAlchemy can parse: nothing to hide
            return self.url
