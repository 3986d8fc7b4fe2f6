"""What ``prompteur --server URL`` calls (``store/_remote.py`` is the other side): reading
runs and their cells, rating cells, resolving registered prompts, and recording runs.
Viewers read, reviewers rate, editors record runs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Annotated, Any, cast

from anyio import to_thread
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ..core._json import dumps
from ..store import Store
from ..store import _schema as t
from ..store._liveness import Beat, writing_here
from ..store._planned import PlannedRun
from ..store._rows import insert_rows
from ..store._team import record_audit
from ..store._wire import cell_to_wire, run_to_wire
from ._auth import AuthError, AuthState, Editor, Reviewer, Viewer

__all__ = ["sync_router"]

_RESULT_COLUMNS = frozenset(c.name for c in t.results.columns)
# what a cell must carry: the columns that have no default and may not be empty
_RESULT_REQUIRED = frozenset(
    c.name
    for c in t.results.columns
    if not c.nullable and c.default is None and c.server_default is None and c.name != "created_at"
)
_STATUSES = frozenset({"pass", "fail", "error"})
_SUITE_COLUMNS = frozenset(c.name for c in t.suites.columns)


def _check_cell(row: Any, run_id: str) -> None:
    """A cell row as the client's sink makes it, or a 422 saying what is wrong."""
    if not isinstance(row, dict) or row.get("run_id") != run_id:
        raise AuthError(422, f"not a cell of run {run_id}")
    unknown = set(row) - _RESULT_COLUMNS
    missing = _RESULT_REQUIRED - set(row)
    if unknown or missing:
        raise AuthError(
            422, f"a cell with unknown {sorted(unknown)} or missing {sorted(missing)} columns"
        )
    if row["status"] not in _STATUSES:
        raise AuthError(422, f"a cell's status is pass, fail or error, not {row['status']!r}")


class RatingIn(BaseModel):
    cell: str = Field(min_length=1, max_length=64)
    passed: bool
    score: float | None = Field(default=None, ge=0, le=1)
    comment: str | None = Field(default=None, max_length=10_000)


class FinishIn(BaseModel):
    interrupted: bool
    duration_s: float = Field(ge=0)


@dataclass(frozen=True)
class _SentPrompt:
    id: str
    label: str
    raw: str
    chat: bool
    registry: tuple[str, int] | None


@dataclass(frozen=True)
class _SentProvider:
    id: str
    sent_identity: Mapping[str, Any]

    def identity(self) -> Mapping[str, Any]:
        return self.sent_identity


@dataclass(frozen=True)
class _SentCase:
    key: str
    description: str | None
    vars: Mapping[str, Any]
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class _SentPlan:
    """A run planned on a team member's machine, as the store records it."""

    description: str | None
    prompts: Sequence[Any]
    providers: Sequence[Any]
    provider_labels: Sequence[str]
    tests: Sequence[_SentCase]
    total_cells: int
    sent_fingerprint: str
    suite: None = None  # its row is stored as sent

    def fingerprint(self) -> str:
        return self.sent_fingerprint


def _plan_of(data: Mapping[str, Any]) -> _SentPlan:
    try:
        return _SentPlan(
            description=data.get("description"),
            prompts=[
                _SentPrompt(
                    str(p["id"]),
                    str(p["label"]),
                    str(p["raw"]),
                    bool(p["chat"]),
                    (str(p["registry"][0]), int(p["registry"][1])) if p.get("registry") else None,
                )
                for p in data["prompts"]
            ],
            providers=[_SentProvider(str(p["id"]), dict(p["identity"])) for p in data["providers"]],
            provider_labels=[str(label) for label in data["provider_labels"]],
            tests=[
                _SentCase(str(c["key"]), c.get("description"), dict(c["vars"]), dict(c["metadata"]))
                for c in data["tests"]
            ],
            total_cells=int(data["total_cells"]),
            sent_fingerprint=str(data["fingerprint"]),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise AuthError(422, f"not a planned run: {exc!r}") from None


def _lines(items: Iterator[Any]) -> StreamingResponse:
    """JSON lines, encoded a few hundred at a time (one write each)."""

    def chunks() -> Iterator[bytes]:
        while batch := list(islice(items, 500)):
            yield b"".join(dumps(item).encode() + b"\n" for item in batch)

    return StreamingResponse(chunks(), media_type="application/x-ndjson")


def _store(request: Request) -> Store:
    state: AuthState = request.app.state.auth
    return state.store


def sync_router() -> APIRouter:
    router = APIRouter(prefix="/api/sync", tags=["sync"])

    @router.get("/runs")
    def list_runs(
        request: Request,
        user: Viewer,
        suite: str | None = None,
        limit: int | None = Query(20, ge=1),
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        statuses = status.split(",") if status else None
        found = _store(request).runs(suite=suite, limit=limit, statuses=statuses)
        return [run_to_wire(info) for info in found]

    @router.get("/runs/{ref}")
    def get_run(request: Request, ref: str, user: Viewer) -> dict[str, Any]:
        return run_to_wire(_store(request).run(ref))

    @router.get("/runs/{run_id}/results")
    def results(
        request: Request, user: Viewer, run_id: str, human: bool = True, cell: str | None = None
    ) -> StreamingResponse:
        """The run's cells in plan order (``cell``: that one only), one JSON object a line,
        streamed from one query: memory stays flat however large the run."""
        store = _store(request)
        store.run(run_id)  # a run that does not exist is a 404, not an empty stream
        cells = store.results(run_id, human=human, cell_key=cell)
        return _lines(cell_to_wire(cell) for cell in cells)

    @router.get("/runs/{run_id}/outcomes")
    def outcomes(
        request: Request, user: Viewer, run_id: str, prompts: str | None = None
    ) -> StreamingResponse:
        """The run's cells lightly (what comparisons and history pair), one a line."""
        store = _store(request)
        store.run(run_id)
        positions = {int(p) for p in prompts.split(",")} if prompts else None
        found = store.outcomes(run_id, prompt_positions=positions)
        return _lines(asdict(cell) for cell in found)

    @router.post("/runs/{run_id}/ratings", status_code=201)
    def rate(
        request: Request,
        user: Reviewer,
        run_id: str,
        body: RatingIn,
    ) -> dict[str, Any]:
        store = _store(request)
        info = store.run(run_id)
        verdict = store.rate(
            info.id,
            body.cell,
            passed=body.passed,
            score=body.score,
            comment=body.comment,
            author=user.name,
        )
        detail = {"verdict": "pass" if body.passed else "fail", "score": body.score}
        record_audit(store, user.name, "rate", f"{info.id}/{body.cell}", detail)
        return asdict(verdict)

    @router.get("/prompts/{ref}")
    def prompt_version(request: Request, ref: str, user: Viewer) -> dict[str, Any]:
        from ..store._registry import PromptRegistry

        return asdict(PromptRegistry(_store(request)).get(ref))

    @router.post("/runs", status_code=201)
    async def start_run(
        request: Request,
        user: Editor,
        body: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        """Record a run planned on a team member's machine (its cells follow in batches)."""
        store = _store(request)
        run_id = str(body.get("run_id", ""))
        if not run_id or len(run_id) > 40:
            raise AuthError(422, "a run needs an id of at most 40 characters")
        plan = _plan_of(body.get("plan") or {})
        options = dict(body.get("options") or {})
        options["recorded_by"] = user.name

        def record() -> None:
            if store.find_run(run_id) is not None:
                raise AuthError(409, f"run {run_id} exists already")
            store.start_run(
                run_id,
                cast(PlannedRun, plan),
                suite_name=body.get("suite_name"),
                suite_path=body.get("suite_path"),
                options=options,
                git_commit=body.get("git_commit"),
                started_at=body.get("started_at"),
                author=user.name,  # the token's user, whatever the client says
            )
            suite = body["plan"].get("suite")
            if suite and (
                not isinstance(suite, dict)
                or set(suite) - _SUITE_COLUMNS
                or {"id", "content", "created_at"} - set(suite)
            ):
                raise AuthError(422, "the plan's suite is not a suite row")
            if suite:
                with store.engine.begin() as conn:
                    insert_rows(conn, t.suites, [dict(suite)], keys=["id"])
                    conn.execute(
                        t.runs.update().where(t.runs.c.id == run_id).values(suite_id=suite["id"])
                    )
            writing_here.add(run_id)  # its writer is the client, alive while it beats

        await to_thread.run_sync(record)
        return {"run": run_id}

    @router.post("/runs/{run_id}/cells")
    async def add_cells(
        request: Request,
        user: Editor,
        run_id: str,
        body: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        """A batch of the run's cells, as ``result_row`` makes them; none is a heartbeat."""
        store = _store(request)
        rows = body.get("rows") or []
        try:
            beat = Beat.now(float(body.get("duration_s") or 0.0))
        except (TypeError, ValueError):
            raise AuthError(422, "duration_s is a number of seconds") from None
        if not isinstance(rows, list):
            raise AuthError(422, "rows is a list of cells")
        for row in rows:
            _check_cell(row, run_id)
            row.setdefault("created_at", time.time())

        def write() -> None:
            info = store.find_run(run_id)
            if info is None or info.status == "finished":  # a finished run stays as it is
                raise AuthError(409, f"run {run_id} is not being recorded")
            if rows:
                store.write_results(rows, beat=beat)
            elif not store.heartbeat(run_id, beat):
                raise AuthError(409, f"run {run_id} is not running")
            # the beat carries this process's id: with several workers, this one too must
            # know the run is written through it, or it would judge the run dead
            writing_here.add(run_id)

        await to_thread.run_sync(write)
        return {"written": len(rows)}

    @router.post("/runs/{run_id}/finish")
    async def finish(
        request: Request,
        user: Editor,
        run_id: str,
        body: FinishIn,
    ) -> dict[str, Any]:
        store = _store(request)

        def close() -> dict[str, Any]:
            if store.find_run(run_id) is None:
                raise AuthError(404, f"no run '{run_id}' on this server")
            try:
                store.finish_run(run_id, interrupted=body.interrupted, duration_s=body.duration_s)
            finally:
                writing_here.discard(run_id)
            return run_to_wire(store.run(run_id))

        return await to_thread.run_sync(close)

    return router
