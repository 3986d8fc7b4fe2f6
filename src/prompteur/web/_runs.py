"""Runs: the list, one run (its summary and its grid, a page at a time), one cell, and
deleting a run."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from ._audit import audit
from ._auth import Role, User, require
from ._errors import REFUSALS
from ._grid_schema import GridCount, GridPageBody
from ._templates import ViewError, render, store_of
from ._views import cell_json, groups_json, page_json, run_json

router = APIRouter(responses=REFUSALS)

Viewer = Annotated[User, Depends(require(Role.VIEWER))]
Editor = Annotated[User, Depends(require(Role.EDITOR))]
FIRST_ROWS = 40
STATUSES = ("finished", "running", "interrupted")


def _day(text: str | None, end: bool = False) -> float | None:
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ViewError(400, f"not a date (YYYY-MM-DD): {text}") from None
    moment = datetime.datetime.combine(day, datetime.time.max if end else datetime.time.min)
    try:
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):  # before 1 AD in local time, or past 9999
        return float("-inf") if day.year < 1970 else float("inf")


def list_runs(
    request: Request,
    suite: str | None,
    prompt: str | None,
    provider: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    store = store_of(request)
    if status is not None and status not in STATUSES:
        raise ViewError(400, f"unknown status '{status}' (one of {', '.join(STATUSES)})")
    start, end = _day(since), _day(until, end=True)
    if start == float("inf") or end == float("-inf"):  # past 9999, or before 1 AD
        return []
    # every filter is the database's: only the runs shown are read
    found = store.runs(
        suite=suite or None,
        limit=limit,
        statuses=[status] if status else None,
        prompt=prompt or None,
        provider=provider or None,
        since=None if start == float("-inf") else start,
        until=None if end == float("inf") else end,
    )
    return [run_json(info, store.run_cost(info.id)) for info in found]


Filters = dict[str, Any]


async def _filters(
    suite: str | None = None,
    prompt: str | None = None,
    provider: str | None = None,
    status: Literal["finished", "running", "interrupted"] | None = None,
    since: Annotated[datetime.date | None, Query(description="started on or after")] = None,
    until: Annotated[datetime.date | None, Query(description="started on or before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Filters:
    return {
        "suite": suite,
        "prompt": prompt,
        "provider": provider,
        "status": status,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "limit": limit,
    }


async def _page_filters(request: Request) -> Filters:
    """The runs page's filters, as its form sends them (empty fields: no filter)."""
    given = {k: v for k, v in request.query_params.items() if v}
    try:
        limit = max(1, min(500, int(given.get("limit", 100))))
    except ValueError:
        limit = 100
    found: Filters = {k: given.get(k) for k in ("suite", "prompt", "provider", "status")}
    return {**found, "since": given.get("since"), "until": given.get("until"), "limit": limit}


@router.get("/api/runs", tags=["runs"])
def api_runs(
    request: Request, user: Viewer, filters: Annotated[Filters, Depends(_filters)]
) -> list[dict[str, Any]]:
    """Runs, newest first, with their pass rate (95% Wilson interval), cost, who, commit."""
    return list_runs(request, **filters)


@router.get("/runs", response_class=HTMLResponse, include_in_schema=False)
def runs_page(
    request: Request, user: Viewer, filters: Annotated[Filters, Depends(_page_filters)]
) -> HTMLResponse:
    runs = list_runs(request, **filters)
    return render(
        request,
        "runs.html",
        {"user": user, "runs": runs, "filters": filters, "statuses": STATUSES},
    )


def _run(request: Request, ref: str) -> Any:
    return store_of(request).run(ref)


@router.get("/api/runs/{run}", tags=["runs"])
def api_run(request: Request, run: str, user: Viewer) -> dict[str, Any]:
    """One run: its figures and each prompt × provider's summary."""
    store = store_of(request)
    info = _run(request, run)
    data = run_json(info, store.run_cost(info.id))
    data["groups"] = groups_json(info, store.group_stats(info.id))
    return data


@router.delete("/api/runs/{run}", tags=["runs"])
def api_delete_run(request: Request, run: str, user: Editor) -> dict[str, Any]:
    """Delete a run with its cells, verdicts and comments (editors)."""
    store = store_of(request)
    info = _run(request, run)
    if info.status == "running":
        raise ViewError(409, f"run {info.id} is still running; stop it before deleting it")
    store.delete_run(info.id)
    audit(store, user, "delete run", info.id, cells=info.done, suite=info.suite_name)
    return {"deleted": info.id}


async def _grid_filter(
    failures: bool = False,
    metric: str | None = None,
    differing: bool = False,
    rated: bool = False,
    q: Annotated[str | None, Query(description="text to find in outputs and cases")] = None,
    sort: Annotated[str, Query(pattern="^(case|score|latency|failures)$")] = "case",
) -> Any:
    from ..store._grid import GridFilter

    return GridFilter(failures, metric or None, differing, rated, q or None, sort)


@router.get("/api/runs/{run}/cells", tags=["runs"], response_model=GridPageBody)
def api_cells(
    request: Request,
    run: str,
    user: Viewer,
    grid: Annotated[Any, Depends(_grid_filter)],
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = FIRST_ROWS,
) -> Response:
    """A page of the run's grid: rows (cases) ``offset`` to ``offset+limit`` that match the
    filters, each with its cells (outputs shortened; a cell itself has all of it). The
    first pages of a new text search (``q`` or ``metric``) come before their count
    (``total`` null, ``more`` says whether rows follow); ``/cells/count`` gives it."""
    import orjson

    store = store_of(request)
    page = store.cell_page(run, offset, limit, grid)
    # straight to bytes: the hot path of a scrolling grid skips FastAPI's encoder
    return Response(orjson.dumps(page_json(page)), media_type="application/json")


@router.get("/api/runs/{run}/cells/count", tags=["runs"])
def api_cells_count(
    request: Request, run: str, user: Viewer, grid: Annotated[Any, Depends(_grid_filter)]
) -> GridCount:
    """How many rows (cases) of the run's grid match the filters. Once counted, the
    filter's pages come with their ``total``."""
    return GridCount(total=store_of(request).grid_count(run, grid))


@router.get("/api/runs/{run}/cells/{cell}", tags=["runs"])
def api_cell(request: Request, run: str, cell: str, user: Viewer) -> dict[str, Any]:
    """One cell whole: rendered prompt, output, assertions with reasons, latency, tokens,
    cost, human verdicts and comments."""
    store = store_of(request)
    info = _run(request, run)
    return cell_json(info, store.cell_detail(info.id, cell), store.comments(info.id, cell))


@router.get("/runs/{run}", response_class=HTMLResponse, include_in_schema=False)
def run_page(
    request: Request,
    run: str,
    user: Viewer,
    grid: Annotated[Any, Depends(_grid_filter)],
) -> HTMLResponse:
    store = store_of(request)
    info = _run(request, run)
    page = store.cell_page(info.id, 0, FIRST_ROWS, grid)
    columns = [
        (p, v, f"{info.prompts[p][1]} × {info.providers[v][1]}")
        for p in range(len(info.prompts))
        for v in range(len(info.providers))
    ]
    context = {
        "user": user,
        "run": run_json(info, store.run_cost(info.id)),
        "groups": groups_json(info, store.group_stats(info.id)),
        "page": page,
        "columns": columns,
        "grid": grid,
        "metrics": store.run_metrics(info.id),
        "page_size": FIRST_ROWS,
    }
    return render(request, "run.html", context)


@router.get("/runs/{run}/cells/{cell}", response_class=HTMLResponse, include_in_schema=False)
def cell_page(request: Request, run: str, cell: str, user: Viewer) -> HTMLResponse:
    store = store_of(request)
    info = _run(request, run)
    detail = cell_json(info, store.cell_detail(info.id, cell), store.comments(info.id, cell))
    return render(request, "cell.html", {"user": user, "run": run_json(info), "cell": detail})
