"""A run's grid read a page at a time: one row per case, one column per prompt × provider,
filtered, searched and sorted in the database, so a viewer never loads the whole run."""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ..core._results import HumanVerdict
from . import _schema as t
from ._errors import StoreError
from ._grid_cache import GridCache
from ._grid_records import CellDetail, GridCell, GridFilter, GridPage, GridRow, GroupStats
from ._records import case_label
from ._verdicts import latest_verdicts, ratings_as_given

__all__ = [
    "SORTS",
    "CellDetail",
    "GridCell",
    "GridFilter",
    "GridPage",
    "GridReader",
    "GridRow",
    "GroupStats",
]

SORTS = ("case", "score", "latency", "failures")
EXCERPT_CHARS = 240  # of each output in a grid page; the cell itself has the whole of it


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_r = t.results.c
_found = t.results.alias("found")
# Statements built once: SQLAlchemy then reuses their compiled form, request after request.
_CELLS = (
    select(
        _r.cell_key,
        _r.prompt_pos,
        _r.provider_pos,
        _r.test_pos,
        _r.repeat,
        _r.status,
        _r.score,
        func.substr(_r.output, 1, EXCERPT_CHARS + 1).label("excerpt"),
        func.substr(_r.error, 1, EXCERPT_CHARS).label("error"),
        _r.latency_ms,
        t.cases.c.description,
        # as text: a row's two or more cells share their case, decoded once per row
        cast(t.cases.c.vars, Text).label("vars"),
    )
    .join(t.cases, t.cases.c.key == _r.test_key)
    .where(
        (_r.run_id == bindparam("run_id")) & _r.test_pos.in_(bindparam("positions", expanding=True))
    )
    .order_by(_r.test_pos, _r.prompt_pos, _r.provider_pos, _r.repeat)
)
_EXACT_RUN = select(t.runs.c.id).where(t.runs.c.id == bindparam("run_id"))
_LAST_POSITION = select(func.max(_r.test_pos)).where(_r.run_id == bindparam("run_id"))
FIRST_SPAN = 64  # cases read at least, in the first range a new text search reads
# what changes a run's grid: cells arriving or re-run (a running run's writer beats with
# every batch, so a retried cell whose counters did not move still changes it), the run
# ending, and human verdicts
_runs = t.runs.c
_VERSION = select(
    _runs.status,
    _runs.heartbeat_at,
    _runs.done,
    _runs.passed,
    _runs.failed,
    _runs.errors,
    _runs.finished_at,
    select(func.count()).where(t.ratings.c.run_id == _runs.id).scalar_subquery(),
    select(func.max(t.ratings.c.id)).where(t.ratings.c.run_id == _runs.id).scalar_subquery(),
).where(_runs.id == bindparam("run_id"))
_LATEST_VERDICTS = ratings_as_given(bindparam("run_id"), t.ratings.c.cell_key, t.ratings.c.passed)


@cache
def _positions_query(
    failures: bool,
    differing: bool,
    rated: bool,
    metric: bool,
    search: bool,
    sort: str,
    run_rated: bool = True,
    sqlite: bool = False,
    ranged: bool = False,
) -> Select[Any]:
    """The statement that lists the positions of the rows under a filter of this shape, in
    its order (its values are bound at execution). ``run_rated``: whether any of the run's
    cells has a human verdict (else the graders' verdicts are read alone); ``ranged``:
    only the positions from ``low`` up to ``high`` (excluded)."""
    r = _r
    run_id: BindParameter[str] = bindparam("run_id")

    def of_run(results: Any) -> ColumnElement[bool]:
        within = results.run_id == run_id
        if ranged:
            within &= (results.test_pos >= bindparam("low")) & (
                results.test_pos < bindparam("high")
            )
        return within  # type: ignore[no-any-return]

    rows = select(r.test_pos).where(of_run(r)).group_by(r.test_pos)
    status: ColumnElement[Any] = r.status
    is_rated: ColumnElement[bool] = literal(False)
    if run_rated and (failures or differing or rated or sort == "failures"):
        # the verdict that counts: a person's latest where there is one, as everywhere
        # else; joined once (a subquery for each cell costs a lookup per cell)
        verdicts = latest_verdicts(run_id)
        v = verdicts.c
        rows = rows.select_from(t.results.outerjoin(verdicts, v.cell_key == r.cell_key))
        status = case((v.passed.is_(None), r.status), (v.passed, "pass"), else_="fail")
        is_rated = v.passed.is_not(None)
    having: list[ColumnElement[bool]] = []
    if failures:
        having.append(func.sum(case((status != "pass", 1), else_=0)) > 0)
    if differing:
        having.append(func.count(func.distinct(status)) > 1)
    if rated:
        having.append(func.sum(case((is_rated, 1), else_=0)) > 0)
    # text filters keep the rows any of whose cells match: found first, among the run's
    # cells, rather than tested in each group (which sorts the whole outputs)
    texts: list[Select[Any]] = []
    if metric:
        graded = select(_found.c.test_pos).where(
            of_run(_found.c)
            & cast(_found.c.assertions, Text).like(bindparam("metric"), escape="\\")
        )
        texts.append(graded)
    if search:
        pattern: BindParameter[str] = bindparam("search")

        def found(text: ColumnElement[Any]) -> ColumnElement[bool]:
            # SQLite's LIKE ignores case already (ASCII's, as its lower() does): ILIKE's
            # lower() on each side only costs it time
            if sqlite:
                return text.like(pattern, escape="\\")
            return text.ilike(pattern, escape="\\")

        cases: Any = t.cases
        joined: Any = t.cases.c.key == _found.c.test_key
        if ranged and not sqlite:
            # a few cases, each looked up by its key: PostgreSQL would rather hash every
            # case of the store, of every run, once it has statistics on them (SQLite
            # looks them up by key anyway, and has no LATERAL)
            cases = (
                select(t.cases.c.description, t.cases.c.vars)
                .where(joined)
                .limit(1)
                .lateral("cases")
            )
            joined = true()
        said = (
            select(_found.c.test_pos)
            .join(cases, joined)
            .where(
                of_run(_found.c)
                & or_(
                    found(_found.c.output),
                    found(cases.c.description),
                    found(cast(cases.c.vars, Text)),
                )
            )
        )
        texts.append(said)
    if len(texts) == 1 and not having and sort == "case":
        # the matching cells' rows are the answer: no need to group the run's cells too
        (text,) = texts
        return text.group_by(_found.c.test_pos).order_by(_found.c.test_pos)
    for text in texts:
        rows = rows.where(r.test_pos.in_(text))
    if having:
        rows = rows.having(and_(*having))
    order: dict[str, list[ColumnElement[Any]]] = {
        "case": [r.test_pos],
        "score": [func.min(r.score), r.test_pos],
        "latency": [func.max(r.latency_ms).desc(), r.test_pos],
        "failures": [func.sum(case((status == "pass", 1), else_=0)), r.test_pos],
    }
    return rows.order_by(*order[sort])


def _json_object(text: str | None) -> dict[str, Any]:
    """A stored JSON object read back (by the standard library, as SQLAlchemy reads JSON
    columns: orjson would turn integers past 64 bits into floats)."""
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def _with_verdicts(row: GridRow, verdicts: dict[str, bool]) -> GridRow:
    """The row as shown: a person's verdict, where there is one, is a cell's status."""
    if not verdicts or not any(c.key in verdicts for c in row.cells):
        return row
    cells = [
        c
        if c.key not in verdicts
        else replace(c, status="pass" if verdicts[c.key] else "fail", human=True)
        for c in row.cells
    ]
    return GridRow(row.test_pos, row.case, cells)


class GridReader:
    """The paged-grid half of a Store. It reads through its own engine: a viewer's many
    readers need not queue for SQLite's write lock, which the store's transactions take,
    nor pay PostgreSQL a round trip to begin and one to end each request."""

    engine: Engine
    url: str

    @property
    def read_engine(self) -> Engine:
        engine: Engine | None = self.__dict__.get("_read_engine")
        if engine is None:
            from ._engine import make_engine

            engine = make_engine(self.url, reads=True)
            weakref.finalize(self, engine.dispose)
            self.__dict__["_read_engine"] = engine
        return engine

    def cell_page(self, run: str, offset: int, limit: int, grid: GridFilter) -> GridPage:
        """Rows ``offset`` to ``offset + limit`` of the run's grid under ``grid`` (``run``:
        its id, or what names it). A text search's page comes before its count when the
        search is new (``total`` None; ``grid_count`` has it): its rows are found by
        reading the run's cells in order only as far as the page needs."""
        cache = self._grid_cache
        with self.read_engine.connect() as conn:
            run, state = self._grid_version(conn, run, grid)
            version = tuple(state)
            rated = bool(state[-2])  # the run's human verdicts, counted
            positions: Sequence[int] | None = cache.kept_positions(run, grid, version)
            complete = True
            if positions is None and (grid.search or grid.metric) and grid.sort == "case":
                first = self._first_positions(conn, run, grid, rated, offset + limit + 1)
                positions, complete = first
            if positions is None or complete:
                # the whole ordered list is found once per filter and version of the run:
                # each further page is a slice of it, and its length is the count
                found = positions
                positions = cache.positions(
                    run,
                    grid,
                    version,
                    lambda: self._positions(conn, run, grid, rated) if found is None else found,
                )
            verdicts = cache.verdicts(
                run,
                version[-2:],
                lambda: {
                    key: bool(passed)
                    for key, passed in conn.execute(_LATEST_VERDICTS, {"run_id": run})
                },
            )
            wanted = list(positions[offset : offset + limit])
            cells_version = version[:-2]
            rows = cache.rows(run, cells_version, wanted)
            missing = [p for p in wanted if p not in rows]
            if missing:
                read = self._rows(conn, run, missing)
                if state.status == "finished":  # a running run's rows still grow
                    cache.keep_rows(run, cells_version, read)
                rows.update((row.test_pos, row) for row in read)
        return GridPage(
            len(positions) if complete else None,
            offset,
            [_with_verdicts(rows[p], verdicts) for p in wanted if p in rows],
            more=len(positions) > offset + limit,
        )

    def grid_count(self, run: str, grid: GridFilter) -> int:
        """How many rows of the run's grid match ``grid`` (their list is kept: the pages
        that follow are slices of it)."""
        with self.read_engine.connect() as conn:
            run, state = self._grid_version(conn, run, grid)
            rated = bool(state[-2])
            positions = self._grid_cache.positions(
                run, grid, tuple(state), lambda: self._positions(conn, run, grid, rated)
            )
        return len(positions)

    def _grid_version(self, conn: Any, run: str, grid: GridFilter) -> tuple[str, Any]:
        """The run's id and its version (what a kept list or row holds for)."""
        if grid.sort not in SORTS:
            raise StoreError(f"unknown sort '{grid.sort}' (one of {', '.join(SORTS)})")
        # one cheap query says whether what was kept of the run still holds
        state = conn.execute(_VERSION, {"run_id": run}).first()
        if state is None:  # not an exact id: a prefix, or no run at all
            run = self.run(run).id  # type: ignore[attr-defined]
            state = conn.execute(_VERSION, {"run_id": run}).one()
        return run, state

    @staticmethod
    def _positions(
        conn: Any, run: str, grid: GridFilter, rated: bool, within: tuple[int, int] | None = None
    ) -> list[int]:
        """The positions of the run's rows that match ``grid``, in its order (only those
        from ``within[0]`` up to ``within[1]``, excluded, when given). ``rated``: whether
        any cell of the run has a human verdict."""
        values: dict[str, Any] = {"run_id": run}
        if grid.metric:
            values["metric"] = _like(f'"metric":"{grid.metric}"')
        if grid.search:
            values["search"] = _like(grid.search)
        if within is not None:
            values["low"], values["high"] = within
        query = _positions_query(
            grid.failures,
            grid.differing,
            grid.rated,
            bool(grid.metric),
            bool(grid.search),
            grid.sort,
            rated,
            conn.dialect.name == "sqlite",
            within is not None,
        )
        return list(conn.execute(query, values).scalars())

    def _first_positions(
        self, conn: Any, run: str, grid: GridFilter, rated: bool, wanted: int
    ) -> tuple[list[int], bool]:
        """The first ``wanted`` matching positions (in the order of the cases), and
        whether they are all there are: the run's cells are read a range of cases at a
        time, each range twice the last, until enough rows are found."""
        last = conn.execute(_LAST_POSITION, {"run_id": run}).scalar()
        found: list[int] = []
        low, span = 0, max(2 * wanted, FIRST_SPAN)
        while last is not None and low <= last and len(found) < wanted:
            found += self._positions(conn, run, grid, rated, (low, low + span))
            low, span = low + span, span * 2
        return found, last is None or low > last

    @property
    def _grid_cache(self) -> GridCache:
        cache: GridCache | None = self.__dict__.get("_grid_cache_kept")
        if cache is None:
            cache = self.__dict__["_grid_cache_kept"] = GridCache()
        return cache

    @property
    def _totals(self) -> dict[str, tuple[tuple[Any, ...], Any]]:
        """Group summaries by run, kept with the version of the run they were made at."""
        totals: dict[str, tuple[tuple[Any, ...], Any]] | None
        totals = self.__dict__.get("_grid_totals")
        if totals is None:
            totals = self.__dict__["_grid_totals"] = {}
        return totals

    @staticmethod
    def _rows(conn: Any, run_id: str, positions: list[int]) -> list[GridRow]:
        """The rows at ``positions``, with the graders' verdicts (see _with_verdicts)."""
        cells = conn.execute(_CELLS, {"run_id": run_id, "positions": positions}).all()
        by_position: dict[int, GridRow] = {}
        # unpacked rather than read by name: a page reads thousands of these columns
        for (
            key,
            prompt_pos,
            provider_pos,
            test_pos,
            repeat,
            status,
            score,
            excerpt,
            error,
            latency_ms,
            description,
            variables,
        ) in cells:
            row = by_position.get(test_pos)
            if row is None:
                label = description or case_label(None, _json_object(variables))
                row = by_position[test_pos] = GridRow(test_pos, label, [])
            row.cells.append(
                GridCell(
                    key=key,
                    prompt_pos=prompt_pos,
                    provider_pos=provider_pos,
                    repeat=repeat,
                    status=status,
                    automatic=status,
                    score=score,
                    output=None if excerpt is None else excerpt[:EXCERPT_CHARS],
                    truncated=excerpt is not None and len(excerpt) > EXCERPT_CHARS,
                    error=error,
                    latency_ms=latency_ms,
                    human=False,
                )
            )
        return list(by_position.values())

    def cell_detail(self, run_id: str, key: str) -> CellDetail:
        """One cell whole: rendered prompt, output, assertions, costs, every human verdict."""
        r = t.results
        with self.read_engine.connect() as conn:
            row = conn.execute(
                select(r, t.cases.c.description, t.cases.c.vars)
                .join(t.cases, t.cases.c.key == r.c.test_key)
                .where((r.c.run_id == run_id) & (r.c.cell_key == key))
            ).first()
            if row is None:
                raise StoreError(f"run {run_id} has no cell '{key}'")
            ratings = [
                HumanVerdict(v.passed, v.score, v.comment, v.author, v.created_at)
                for v in conn.execute(
                    ratings_as_given(run_id, t.ratings).where(t.ratings.c.cell_key == key)
                )
            ]
        status = row.status
        if ratings:
            status = "pass" if ratings[-1].passed else "fail"
        return CellDetail(
            run_id=run_id,
            key=key,
            prompt_pos=row.prompt_pos,
            provider_pos=row.provider_pos,
            test_pos=row.test_pos,
            repeat=row.repeat,
            case=case_label(row.description, row.vars or {}),
            vars=dict(row.vars or {}),
            status=status,
            automatic=row.status,
            score=row.score,
            rendered_prompt=row.rendered_prompt,
            output=row.output,
            error=row.error,
            assertions=list(row.assertions or []),
            latency_ms=row.latency_ms,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            cost=row.cost,
            grader_cost=row.grader_cost,
            model=row.model,
            cached=bool(row.cached),
            ratings=ratings,
        )

    def run_metrics(self, run_id: str, *, sample: int = 200) -> list[str]:
        """The metric names a run's assertions carry, from a sample of its cells."""
        r = t.results.c
        names: set[str] = set()
        with self.read_engine.connect() as conn:
            for assertions in conn.execute(
                select(r.assertions).where(r.run_id == run_id).limit(sample)
            ).scalars():
                names.update(a["metric"] for a in assertions or () if a.get("metric"))
        return sorted(names)

    def run_cost(self, run_id: str) -> float | None:
        """What the run's calls cost, grading included (None: no provider priced them)."""
        costs = [g.cost for g in self.group_stats(run_id) if g.cost is not None]
        return sum(costs) if costs else None

    def group_stats(self, run_id: str) -> list[GroupStats]:
        """Each prompt × provider's counts, computed in the database; human verdicts
        replace the automatic grades of the cells they were given on."""
        r = t.results.c
        query = (
            select(
                r.prompt_pos,
                r.provider_pos,
                func.count().label("done"),
                func.sum(case((r.status == "pass", 1), else_=0)).label("passed"),
                func.sum(case((r.status == "error", 1), else_=0)).label("errors"),
                func.avg(r.score).label("score"),
                func.avg(r.latency_ms).label("latency"),
                func.sum(
                    func.coalesce(r.prompt_tokens, 0) + func.coalesce(r.completion_tokens, 0)
                ).label("tokens"),
                (func.sum(r.cost) + func.coalesce(func.sum(r.grader_cost), 0)).label("cost"),
            )
            .where(r.run_id == run_id)
            .group_by(r.prompt_pos, r.provider_pos)
            .order_by(r.prompt_pos, r.provider_pos)
        )
        with self.read_engine.connect() as conn:
            version = tuple(conn.execute(_VERSION, {"run_id": run_id}).first() or ())
            cached = self._totals.get(run_id)
            if cached is not None and cached[0] == version:
                return list(cached[1])
            groups = {
                (row.prompt_pos, row.provider_pos): GroupStats(
                    row.prompt_pos,
                    row.provider_pos,
                    int(row.done),
                    int(row.passed or 0),
                    int(row.errors or 0),
                    None if row.score is None else float(row.score),
                    None if row.latency is None else float(row.latency),
                    int(row.tokens or 0),
                    None if row.cost is None else float(row.cost),
                )
                for row in conn.execute(query)
            }
            rated = conn.execute(
                ratings_as_given(run_id, t.ratings.c.cell_key, t.ratings.c.passed, r.status).join(
                    t.results,
                    (r.run_id == t.ratings.c.run_id) & (r.cell_key == t.ratings.c.cell_key),
                )
            ).all()
        latest = {row.cell_key: (bool(row.passed), row.status) for row in rated}
        for key, (passed, status) in latest.items():
            prompt, provider = (int(part) for part in key.split(":")[:2])
            group = groups.get((prompt, provider))
            if group is not None:
                group.human += 1
                group.passed += int(passed) - int(status == "pass")
                group.errors -= int(status == "error")
        found = list(groups.values())
        if len(self._totals) > 1000:
            self._totals.clear()
        self._totals[run_id] = (version, found)
        return found

    def run_id(self, ref: str) -> str:
        """The id of the run ``ref`` names, cheaply when it is an exact id."""
        with self.read_engine.connect() as conn:
            found = conn.execute(_EXACT_RUN, {"run_id": ref}).scalar()
        if found is not None:
            return str(found)
        return self.run(ref).id  # type: ignore[attr-defined, no-any-return]
