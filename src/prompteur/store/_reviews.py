"""Review queues: cells of a run an editor picks (a random sample, the failures, or the
cells where a judge and the other assertions disagree) and hands to reviewers."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from . import _schema as t
from ._errors import StoreError
from ._rows import storable_row
from ._verdicts import GIVEN

__all__ = ["JUDGE_TYPES", "PICKS", "Comment", "QueueItem", "ReviewQueue", "ReviewStore"]

PICKS = ("sample", "failures", "disagreements")
# assertions graded by a model: the "judge" whose verdict reviewers are compared with
JUDGE_TYPES = frozenset(
    {
        "llm-rubric",
        "model-graded-closedqa",
        "factuality",
        "g-eval",
        "answer-relevance",
        "context-faithfulness",
        "context-relevance",
        "context-recall",
        "select-best",
    }
)


@dataclass(frozen=True)
class ReviewQueue:
    id: str
    run_id: str
    name: str
    method: str
    created_by: str
    created_at: float
    reviewers: tuple[str, ...]
    cells: int  # distinct cells in the queue


@dataclass(frozen=True, slots=True)
class Comment:
    author: str
    text: str
    created_at: float


@dataclass(frozen=True, slots=True)
class QueueItem:
    cell_key: str
    reviewer: str
    position: int


def judge_verdict(assertions: Sequence[dict[str, Any]]) -> bool | None:
    """The judges' verdict on a cell: all model-graded assertions passed (None: no judge)."""
    judged = [a for a in assertions if str(a.get("type", "")).split(":")[0] in JUDGE_TYPES]
    if not judged:
        return None
    return all(bool(a.get("passed")) for a in judged)


class ReviewStore:
    """The review-queue half of a Store."""

    engine: Engine

    def pick_cells(
        self, run_id: str, method: str, size: int, *, seed: int | None = None
    ) -> list[str]:
        """Up to ``size`` cell keys of the run, picked by ``method`` (one of PICKS)."""
        if method not in PICKS:
            raise StoreError(f"unknown way to pick cells '{method}' (one of {', '.join(PICKS)})")
        r = t.results.c
        query = select(r.cell_key, r.status, r.assertions).where(
            (r.run_id == run_id) & r.output.is_not(None)
        )
        if method == "failures":
            query = query.where(r.status == "fail")
        keys: list[str] = []
        with self.engine.connect() as conn:
            for key, _status, assertions in conn.execute(query.order_by(r.test_pos, r.cell_key)):
                if method == "disagreements":
                    others = [
                        a
                        for a in assertions or ()
                        if str(a.get("type", "")).split(":")[0] not in JUDGE_TYPES
                    ]
                    judge = judge_verdict(assertions or ())
                    if judge is None or not others:
                        continue
                    if judge == all(bool(a.get("passed")) for a in others):
                        continue
                keys.append(key)
        if method == "sample":
            return sorted(random.Random(seed).sample(keys, min(size, len(keys))))
        return keys[:size]

    def create_queue(
        self,
        run_id: str,
        name: str,
        method: str,
        cells: Sequence[str],
        reviewers: Sequence[str],
        *,
        author: str,
    ) -> ReviewQueue:
        """A queue of ``cells`` for each of ``reviewers`` (each reviews every cell)."""
        if not reviewers:
            raise StoreError("a review queue needs at least one reviewer")
        if not cells:
            raise StoreError("no cells to review: the run has none that fit")
        queue_id = secrets.token_hex(4)
        now = time.time()
        with self.engine.begin() as conn:
            queue = {
                "id": queue_id,
                "run_id": run_id,
                "name": name,
                "method": method,
                "created_by": author,
                "created_at": now,
            }
            conn.execute(
                t.review_queues.insert().values(**storable_row(conn, t.review_queues, queue))
            )
            conn.execute(
                t.review_items.insert(),
                [
                    storable_row(
                        conn,
                        t.review_items,
                        {"queue_id": queue_id, "reviewer": who, "cell_key": key, "position": i},
                    )
                    for who in dict.fromkeys(reviewers)
                    for i, key in enumerate(dict.fromkeys(cells))
                ],
            )
        return self.queue(queue_id)

    def queue(self, queue_id: str) -> ReviewQueue:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.review_queues).where(t.review_queues.c.id == queue_id)
            ).first()
            if row is None:
                raise StoreError(f"no review queue '{queue_id}'")
            return self._queue(conn, row)

    @staticmethod
    def _queue(conn: Any, row: Any) -> ReviewQueue:
        items = conn.execute(
            select(t.review_items.c.reviewer, t.review_items.c.cell_key).where(
                t.review_items.c.queue_id == row.id
            )
        ).all()
        return ReviewQueue(
            row.id,
            row.run_id,
            row.name,
            row.method,
            row.created_by,
            row.created_at,
            tuple(sorted({i.reviewer for i in items})),
            len({i.cell_key for i in items}),
        )

    def queues(self, *, reviewer: str | None = None) -> list[ReviewQueue]:
        """Every queue, newest first; with ``reviewer``, only the queues that include them."""
        query = select(t.review_queues).order_by(t.review_queues.c.created_at.desc())
        if reviewer is not None:
            mine = select(t.review_items.c.queue_id).where(t.review_items.c.reviewer == reviewer)
            query = query.where(t.review_queues.c.id.in_(mine))
        with self.engine.connect() as conn:
            return [self._queue(conn, row) for row in conn.execute(query).all()]

    def queue_items(self, queue_id: str, reviewer: str | None = None) -> list[QueueItem]:
        query = select(t.review_items).where(t.review_items.c.queue_id == queue_id)
        if reviewer is not None:
            query = query.where(t.review_items.c.reviewer == reviewer)
        with self.engine.connect() as conn:
            return [
                QueueItem(row.cell_key, row.reviewer, row.position)
                for row in conn.execute(
                    query.order_by(t.review_items.c.position, t.review_items.c.reviewer)
                )
            ]

    def reviewer_verdicts(
        self, run_id: str, keys: Sequence[str], *, since: float = 0.0
    ) -> dict[tuple[str, str], bool]:
        """Each (author, cell) pair's latest verdict on the given cells of a run, among
        those given at ``since`` or later."""
        found: dict[tuple[str, str], bool] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                for row in conn.execute(
                    select(t.ratings.c.author, t.ratings.c.cell_key, t.ratings.c.passed)
                    .where(
                        (t.ratings.c.run_id == run_id)
                        & t.ratings.c.cell_key.in_(chunk)
                        & (t.ratings.c.created_at >= since)
                    )
                    .order_by(*GIVEN)
                ):
                    found[(row.author, row.cell_key)] = bool(row.passed)
        return found

    def cell_grades(self, run_id: str, keys: Sequence[str]) -> dict[str, tuple[str, bool | None]]:
        """Each cell's automatic status and its judges' verdict (None: no judge)."""
        found: dict[str, tuple[str, bool | None]] = {}
        r = t.results.c
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                for row in conn.execute(
                    select(r.cell_key, r.status, r.assertions).where(
                        (r.run_id == run_id) & r.cell_key.in_(chunk)
                    )
                ):
                    found[row.cell_key] = (row.status, judge_verdict(row.assertions or ()))
        return found

    # --- comments --------------------------------------------------------------------------

    def add_comment(self, run_id: str, cell_key: str, text: str, *, author: str) -> Comment:
        text = text.strip()
        if not text:
            raise StoreError("a comment needs some text")
        r = t.results.c
        comment = Comment(author, text, time.time())
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(r.cell_key).where((r.run_id == run_id) & (r.cell_key == cell_key))
            ).first()
            if exists is None:
                raise StoreError(f"run {run_id} has no cell '{cell_key}'")
            row = {
                "run_id": run_id,
                "cell_key": cell_key,
                "author": author,
                "text": text,
                "created_at": comment.created_at,
            }
            # text as every store keeps it (PostgreSQL refuses NUL and lone surrogates)
            conn.execute(t.comments.insert().values(**storable_row(conn, t.comments, row)))
        return comment

    def comments(self, run_id: str, cell_key: str) -> list[Comment]:
        c = t.comments.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.author, c.text, c.created_at)
                .where((c.run_id == run_id) & (c.cell_key == cell_key))
                .order_by(c.created_at, c.id)
            )
            return [Comment(row.author, row.text, row.created_at) for row in rows]
