"""Human review: verdicts and comments on cells, and review queues with their progress and
the agreement between reviewers, and between reviewers and the judge."""

from __future__ import annotations

from itertools import combinations
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from ._audit import audit
from ._auth import Role, User, require
from ._errors import REFUSALS
from ._templates import ViewError, render, store_of
from ._views import run_json

router = APIRouter(responses=REFUSALS)

Viewer = Annotated[User, Depends(require(Role.VIEWER))]
Reviewer = Annotated[User, Depends(require(Role.REVIEWER))]
Editor = Annotated[User, Depends(require(Role.EDITOR))]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["pass", "fail"]
    score: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    comment: str | None = Field(default=None, max_length=10_000)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)


class QueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)
    method: Literal["sample", "failures", "disagreements"] = "sample"
    size: int = Field(default=20, ge=1, le=5000)
    reviewers: list[str] = Field(min_length=1, max_length=100)


@router.post("/api/runs/{run}/cells/{cell}/ratings", tags=["review"], status_code=201)
def api_rate(
    request: Request, run: str, cell: str, rating: RatingIn, user: Reviewer
) -> dict[str, Any]:
    """A person's verdict on a cell (``{cell}`` as ``show`` prints it: ``0:1:7:0``)."""
    store = store_of(request)
    info = store.run(run)
    verdict = store.rate(
        info.id,
        cell,
        passed=rating.verdict == "pass",
        score=rating.score,
        comment=rating.comment or None,
        author=user.name,
    )
    audit(store, user, "rate", f"{info.id}/{cell}", verdict=rating.verdict, score=rating.score)
    return {"run": info.id, "cell": cell, **verdict.to_dict()}


@router.post("/api/runs/{run}/cells/{cell}/comments", tags=["review"], status_code=201)
def api_comment(
    request: Request, run: str, cell: str, comment: CommentIn, user: Reviewer
) -> dict[str, Any]:
    """A comment on a cell, kept with its author and time."""
    store = store_of(request)
    info = store.run(run)
    kept = store.add_comment(info.id, cell, comment.text, author=user.name)
    return {
        "run": info.id,
        "cell": cell,
        "author": kept.author,
        "text": kept.text,
        "created_at": kept.created_at,
    }


def _queue_json(queue: Any) -> dict[str, Any]:
    return {
        "id": queue.id,
        "run": queue.run_id,
        "name": queue.name,
        "method": queue.method,
        "created_by": queue.created_by,
        "created_at": queue.created_at,
        "reviewers": list(queue.reviewers),
        "cells": queue.cells,
    }


@router.get("/api/queues", tags=["review"])
def api_queues(request: Request, user: Viewer, mine: bool = False) -> list[dict[str, Any]]:
    """Review queues, newest first (``mine``: those assigned to the current user)."""
    store = store_of(request)
    return [_queue_json(q) for q in store.queues(reviewer=user.name if mine else None)]


@router.post("/api/queues", tags=["review"], status_code=201)
def api_create_queue(request: Request, body: QueueIn, user: Editor) -> dict[str, Any]:
    """Pick cells of a run (a random sample, the failures, or where judge and assertions
    disagree) and assign them to reviewers (editors)."""
    store = store_of(request)
    info = store.run(body.run)
    cells = store.pick_cells(info.id, body.method, body.size)
    reviewers = [r.strip() for r in body.reviewers if r.strip()]
    if not reviewers:
        raise ViewError(400, "name at least one reviewer")
    queue = store.create_queue(info.id, body.name, body.method, cells, reviewers, author=user.name)
    audit(store, user, "create queue", queue.id, run=info.id, cells=len(cells))
    return _queue_json(queue)


def queue_state(request: Request, queue_id: str) -> dict[str, Any]:
    """A queue with each reviewer's progress, and Cohen's κ between reviewers and between
    each reviewer and the judge (the model-graded assertions, else the automatic grade)."""
    from ..analysis._agreement import cohen_kappa

    store = store_of(request)
    queue = store.queue(queue_id)
    items = store.queue_items(queue.id)
    keys = sorted({item.cell_key for item in items})
    # the queue's own work: verdicts given since it was made
    verdicts = store.reviewer_verdicts(queue.run_id, keys, since=queue.created_at)
    grades = store.cell_grades(queue.run_id, keys)
    progress = []
    for reviewer in queue.reviewers:
        mine = [i.cell_key for i in items if i.reviewer == reviewer]
        done = sum(1 for key in mine if (reviewer, key) in verdicts)
        progress.append({"reviewer": reviewer, "done": done, "total": len(mine)})
    agreements = []

    def add(first: str, second: str, pairs: list[tuple[bool, bool]]) -> None:
        found = cohen_kappa(pairs)
        agreements.append(
            {
                "between": [first, second],
                "pairs": found.pairs,
                "observed": found.observed,
                "kappa": found.kappa,
                "interval": None if found.low is None else [found.low, found.high],
            }
        )

    for first, second in combinations(queue.reviewers, 2):
        add(
            first,
            second,
            [
                (verdicts[(first, k)], verdicts[(second, k)])
                for k in keys
                if (first, k) in verdicts and (second, k) in verdicts
            ],
        )
    for reviewer in queue.reviewers:
        pairs = []
        for key in keys:
            if (reviewer, key) not in verdicts or key not in grades:
                continue
            status, judge = grades[key]
            automatic = judge if judge is not None else status == "pass"
            pairs.append((verdicts[(reviewer, key)], automatic))
        add(reviewer, "judge", pairs)
    return {
        **_queue_json(queue),
        "progress": progress,
        "agreement": agreements,
        "items": [
            {
                "cell": i.cell_key,
                "reviewer": i.reviewer,
                "rated": (i.reviewer, i.cell_key) in verdicts,
            }
            for i in items
        ],
    }


@router.get("/api/queues/{queue}", tags=["review"])
def api_queue(request: Request, queue: str, user: Viewer) -> dict[str, Any]:
    """A queue: its cells, each reviewer's progress, and the agreement (Cohen's κ, 95%
    interval) between reviewers and between reviewers and the judge."""
    return queue_state(request, queue)


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def review_page(request: Request, user: Viewer) -> HTMLResponse:
    store = store_of(request)
    queues = [_queue_json(q) for q in store.queues()]
    mine = {q.id for q in store.queues(reviewer=user.name)}
    runs = [run_json(info) for info in store.runs(limit=30)]
    return render(
        request,
        "review.html",
        {
            "user": user,
            "queues": queues,
            "mine": mine,
            "runs": runs,
            "can_edit": user.role >= Role.EDITOR,
        },
    )


@router.get("/review/{queue}", response_class=HTMLResponse, include_in_schema=False)
def queue_page(request: Request, queue: str, user: Viewer) -> HTMLResponse:
    store = store_of(request)
    state = queue_state(request, queue)
    info = store.run(state["run"])
    mine = [i["cell"] for i in state["items"] if i["reviewer"] == user.name]
    cells = []
    for key in mine[:200]:
        detail = store.cell_detail(info.id, key)
        prompt, provider = info.prompts[detail.prompt_pos], info.providers[detail.provider_pos]
        cells.append(
            {
                "key": key,
                "case": detail.case,
                "column": f"{prompt[1]} × {provider[1]}",
                "output": detail.output,
                "automatic": detail.automatic,
                "mine": next((r for r in reversed(detail.ratings) if r.author == user.name), None),
            }
        )
    return render(
        request,
        "queue.html",
        {
            "user": user,
            "queue": state,
            "run": run_json(info),
            "cells": cells,
            "can_rate": user.role >= Role.REVIEWER,
        },
    )
