"""A cell's human verdict is its latest rating: the one given last, by time and then by
the order the ratings were stored in. Every reader of verdicts, in Python or in SQL,
finds it through here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, select

from . import _schema as t

__all__ = ["GIVEN", "latest_verdicts", "ratings_as_given"]

_r = t.ratings.c
GIVEN = (_r.created_at, _r.id)  # the order ratings were given in


def ratings_as_given(run_id: Any, *columns: Any) -> Select[Any]:
    """``columns`` of the run's ratings, oldest first: a mapping filled from them by cell
    keeps each cell's verdict."""
    return select(*columns).where(_r.run_id == run_id).order_by(*GIVEN)


def latest_verdicts(run_id: ColumnElement[Any]) -> Subquery:
    """Each rated cell of the run (``cell_key``) with its verdict (``passed``), in SQL."""
    nth = func.row_number().over(
        partition_by=_r.cell_key, order_by=[column.desc() for column in GIVEN]
    )
    ranked = select(_r.cell_key, _r.passed, nth.label("nth")).where(_r.run_id == run_id)
    ranked_sub = ranked.subquery("ranked")
    return (
        select(ranked_sub.c.cell_key, ranked_sub.c.passed)
        .where(ranked_sub.c.nth == 1)
        .subquery("verdicts")
    )
