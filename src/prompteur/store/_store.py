"""The results store: runs, their cells, and the completion cache, in SQLite or PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Select, Table, delete, func, select, update

from .._json import canonical, dumps
from .._version import __version__
from ..errors import PrompteurError
from ..eval._grading import AssertionResult
from ..eval._plan import Plan, provider_identity, stable_hash
from ..eval._results import CellResult, HumanVerdict
from ..eval._summary import RunSummary, SummaryBuilder
from . import _schema as t
from ._engine import make_engine, store_url
from ._migrations import migrate

__all__ = ["CellOutcome", "RunInfo", "Store", "StoreError", "case_label"]


class StoreError(PrompteurError):
    """A run or record asked for is not in the store."""


@dataclass(frozen=True)
class RunInfo:
    """One run as the store knows it."""

    id: str
    suite_name: str | None
    suite_path: str | None
    description: str | None
    status: str
    fingerprint: str
    options: Mapping[str, Any]
    tool_version: str
    git_commit: str | None
    started_at: float
    finished_at: float | None
    total_cells: int
    done: int
    passed: int
    failed: int
    errors: int
    duration_s: float | None
    prompts: list[tuple[str, str]] = field(default_factory=list)  # (name, label) by position
    providers: list[tuple[str, str]] = field(default_factory=list)  # (label, label)
    # By prompt position: the registered prompt's (name, version), None for the others.
    registered: list[tuple[str, int] | None] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.done if self.done else None


def _insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    replace: bool = False,
) -> None:
    """Insert rows; rows whose key exists are skipped, or replaced with ``replace``.

    Rows go straight to the driver's executemany with JSON already encoded: for the tens of
    thousands of cells of a large run, per-row processing in SQLAlchemy would cost more
    than the database's own work. SQLite (3.24+) and PostgreSQL share the upsert syntax."""
    if not rows:
        return
    if conn.dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - see make_engine
        raise PrompteurError(f"unsupported database {conn.dialect.name}")
    columns = [c.name for c in table.columns]
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conflict = ", ".join(keys)
    if replace:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        action = f"DO UPDATE SET {updates}"
    else:
        action = "DO NOTHING"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))}) ON CONFLICT ({conflict}) {action}"
    )
    positions = [i for i, c in enumerate(columns) if c in as_json]
    pick = itemgetter(*columns)
    values = []
    for row in rows:
        record = list(pick(row))
        for i in positions:
            record[i] = dumps(record[i])
        values.append(tuple(record))
    conn.exec_driver_sql(sql, values)


@dataclass(frozen=True, slots=True)
class PromptUsage:
    """A registered prompt's version in one run, on one provider."""

    run_id: str
    started_at: float
    version: int
    provider: str
    done: int
    passed: int


@dataclass(frozen=True, slots=True)
class CellOutcome:
    prompt_pos: int
    prompt: str
    prompt_label: str
    provider: str
    test_key: str
    repeat: int
    status: str
    output: str | None
    model: str | None
    case: str
    human: bool = False  # the status is a person's verdict


def case_label(description: str | None, variables: Mapping[str, Any]) -> str:
    """How reports name a case: its description, else its variables."""
    if description:
        return description
    text = ", ".join(f"{k}={' '.join(str(v).split())}" for k, v in variables.items())
    return text if len(text) <= 80 else text[:79] + "…"


def result_row(run_id: str, result: CellResult, test_key: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "cell_key": result.key,
        "prompt_pos": result.prompt_index,
        "provider_pos": result.provider_index,
        "test_pos": result.test_index,
        "repeat": result.repeat,
        "test_key": test_key,
        "status": result.status,
        "score": result.score,
        "output": result.output,
        "error": result.error,
        "rendered_prompt": result.prompt,
        "assertions": result.assertions,  # orjson writes the dataclasses as objects
        "latency_ms": result.latency_ms,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost": result.cost,
        "finish_reason": result.finish_reason,
        "model": result.model,
        "cached": result.cached,
        "attempts": result.attempts,
        "created_at": time.time(),
        "grader_prompt_tokens": result.grader_prompt_tokens,
        "grader_completion_tokens": result.grader_completion_tokens,
        "grader_cost": result.grader_cost,
    }


_SECRET_WORDS = ("key", "token", "secret", "password", "authorization", "header")


def _redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: "[redacted]" if any(w in name.lower() for w in _SECRET_WORDS) else value
        for name, value in config.items()
    }


def _suite_row(plan: Plan, path: str | None, now: float) -> dict[str, Any] | None:
    """The suite as validated (JSON), provider settings that may hold secrets redacted:
    a file's own text could carry an API key, and the store never keeps one."""
    suite = plan.suite
    if suite is None:
        return None
    data = suite.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["providers"] = [
        {**p, "config": _redacted(p.get("config") or {})} for p in data.get("providers", [])
    ]
    content = canonical(data)
    return {"id": stable_hash(content)[:32], "path": path, "content": content, "created_at": now}


def _assertion(data: Mapping[str, Any]) -> AssertionResult:
    return AssertionResult(
        data["type"],
        data.get("value"),
        bool(data["passed"]),
        float(data["score"]),
        str(data.get("reason", "")),
        float(data.get("weight", 1.0)),
        data.get("metric"),
    )


class Store:
    """A results store at a database URL (SQLite path or PostgreSQL); migrated on open."""

    def __init__(self, url: str | None = None) -> None:
        self.url = store_url(url)
        self.engine: Engine = make_engine(self.url)
        with self.engine.begin() as conn:
            migrate(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing a run ------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        plan: Plan,
        *,
        suite_name: str | None,
        suite_path: str | None,
        options: Mapping[str, Any],
        git_commit: str | None,
        started_at: float | None = None,
    ) -> None:
        """Record a run and what it is made of: prompts, providers, test cases."""
        now = time.time()
        prompt_rows = [
            {
                "id": stable_hash([p.raw, p.chat])[:32],
                "label": p.label,
                "raw": p.raw,
                "chat": p.chat,
                "created_at": now,
            }
            for p in plan.prompts
        ]
        identities = [dict(provider_identity(p)) for p in plan.providers]
        provider_rows = [
            {"id": stable_hash(i)[:32], "provider_id": p.id, "identity": i, "created_at": now}
            for p, i in zip(plan.providers, identities, strict=True)
        ]
        suite_row = _suite_row(plan, suite_path, now)
        with self.engine.begin() as conn:
            if suite_row is not None:
                _insert(conn, t.suites, [suite_row], keys=["id"])
            _insert(conn, t.prompts, prompt_rows, keys=["id"])
            _insert(conn, t.providers, provider_rows, keys=["id"])
            conn.execute(
                t.runs.insert().values(
                    id=run_id,
                    suite_id=suite_row["id"] if suite_row is not None else None,
                    suite_name=suite_name,
                    suite_path=suite_path,
                    description=plan.description,
                    status="running",
                    fingerprint=plan.fingerprint(),
                    options=dict(options),
                    tool_version=__version__,
                    git_commit=git_commit,
                    started_at=started_at or now,
                    total_cells=plan.total_cells,
                )
            )
            conn.execute(
                t.run_prompts.insert(),
                [
                    {
                        "run_id": run_id,
                        "position": i,
                        "prompt_id": row["id"],
                        "name": p.id,
                        "label": p.label,
                        "registry_name": p.registry[0] if p.registry else None,
                        "registry_version": p.registry[1] if p.registry else None,
                    }
                    for i, (p, row) in enumerate(zip(plan.prompts, prompt_rows, strict=True))
                ],
            )
            conn.execute(
                t.run_providers.insert(),
                [
                    {"run_id": run_id, "position": i, "provider_key": row["id"], "label": label}
                    for i, (label, row) in enumerate(
                        zip(plan.provider_labels, provider_rows, strict=True)
                    )
                ],
            )
            self._add_cases(conn, plan, now)

    @staticmethod
    def _add_cases(conn: Connection, plan: Plan, now: float) -> None:
        """Store the plan's cases that the store does not hold yet (a re-run adds none)."""
        keys = list({test.key for test in plan.tests})
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            known.update(
                conn.execute(select(t.cases.c.key).where(t.cases.c.key.in_(chunk))).scalars()
            )
        rows, seen = [], set(known)
        for test in plan.tests:
            if test.key not in seen:
                seen.add(test.key)
                rows.append(
                    {
                        "key": test.key,
                        "description": test.description,
                        "vars": test.vars,
                        "metadata": test.metadata,
                        "created_at": now,
                    }
                )
        _insert(conn, t.cases, rows, keys=["key"])

    def write_results(self, rows: Sequence[Mapping[str, Any]], *, replace: bool = False) -> None:
        """Store result rows (see ``result_row``); a cell already stored is kept, unless
        ``replace`` (re-running errored cells)."""
        with self.engine.begin() as conn:
            _insert(conn, t.results, rows, keys=["run_id", "cell_key"], replace=replace)

    def finish_run(self, run_id: str, *, interrupted: bool, duration_s: float) -> RunInfo:
        """Close a run: its status, and counts taken from its stored cells."""
        with self.engine.begin() as conn:
            counts: dict[str, int] = dict(
                conn.execute(
                    select(t.results.c.status, func.count())
                    .where(t.results.c.run_id == run_id)
                    .group_by(t.results.c.status)
                ).all()
            )
            total = conn.execute(select(t.runs.c.total_cells).where(t.runs.c.id == run_id)).scalar()
            done = sum(counts.values())
            status = "interrupted" if interrupted or done < (total or 0) else "finished"
            previous = conn.execute(
                select(t.runs.c.duration_s).where(t.runs.c.id == run_id)
            ).scalar()
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=time.time(),
                    done=done,
                    passed=counts.get("pass", 0),
                    failed=counts.get("fail", 0),
                    errors=counts.get("error", 0),
                    duration_s=(previous or 0.0) + duration_s,
                )
            )
        return self.run(run_id)

    def reopen_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(status="running"))

    # --- reading --------------------------------------------------------------------------------

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
        return RunInfo(
            id=row.id,
            suite_name=row.suite_name,
            suite_path=row.suite_path,
            description=row.description,
            status=row.status,
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
        )

    def run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or ``latest``."""
        query: Select[Any] = select(t.runs)
        if ref == "latest":
            query = query.order_by(t.runs.c.started_at.desc()).limit(1)
        else:
            query = query.where(t.runs.c.id.startswith(ref, autoescape=True)).limit(2)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            if not rows:
                raise StoreError(f"no run '{ref}' in the store ({self.display_url})")
            if len(rows) > 1:
                raise StoreError(f"'{ref}' matches several runs; give more of the id")
            return self._run_info(conn, rows[0])

    def runs(
        self,
        *,
        suite: str | None = None,
        limit: int | None = 20,
        statuses: Iterable[str] | None = None,
    ) -> list[RunInfo]:
        """Runs, newest first; ``suite`` matches the suite's name or file path."""
        query: Select[Any] = select(t.runs).order_by(t.runs.c.started_at.desc())
        if suite is not None:
            query = query.where((t.runs.c.suite_name == suite) | (t.runs.c.suite_path == suite))
        if statuses is not None:
            query = query.where(t.runs.c.status.in_(list(statuses)))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [self._run_info(conn, row) for row in conn.execute(query).all()]

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
        with self.engine.connect() as conn:
            verdicts = self._verdicts(conn, run_id) if human else {}
            rows = conn.execution_options(yield_per=batch).execute(query)
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
                    assertions=tuple(_assertion(a) for a in row.assertions or ()),
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
        if prompt_positions is not None:
            query = query.where(t.results.c.prompt_pos.in_(sorted(prompt_positions)))
        with self.engine.connect() as conn:
            verdicts = self._verdicts(conn, run_id)
            for row in conn.execution_options(yield_per=2000).execute(query):
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

    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            for table in (t.results, t.run_prompts, t.run_providers):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(t.runs).where(t.runs.c.id == run_id))

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)
