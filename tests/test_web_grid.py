"""The grid a viewer scrolls: what the server keeps of a run between pages, and when it
reads the run again (a rating, a deletion), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from .test_web_api import client, latest, stored  # noqa: F401  (fixtures)


@pytest.fixture
def statements(client: TestClient) -> Iterator[list[str]]:  # noqa: F811
    """The SQL statements the grid's reader sends, as they are sent."""
    sent: list[str] = []
    engine = client.app.state.store.read_engine  # type: ignore[attr-defined]

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    yield sent
    event.remove(engine, "before_cursor_execute", seen)


def page(client: TestClient, run: str, **params: Any) -> dict[str, Any]:  # noqa: F811
    reply = client.get(f"/api/runs/{run}/cells", params={"limit": 20, **params})
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


def test_a_finished_runs_pages_read_again_cost_one_query(
    client: TestClient,  # noqa: F811
    statements: list[str],
) -> None:
    run = latest(client)["id"]
    first = page(client, run)
    statements.clear()
    assert page(client, run) == first
    # the run's version only: its rows, their order and its verdicts were kept
    assert len(statements) == 1
    statements.clear()
    further = page(client, run, offset=20)
    assert [r["test"] for r in further["rows"]] == list(range(20, 40))
    assert len(statements) == 2  # the version, and the cells of rows not read before
    statements.clear()
    page(client, run, failures="true")
    page(client, run, failures="true", offset=20)
    # a filter's rows are found once; its count is their number
    assert sum("GROUP BY" in s.upper() for s in statements) == 1
    statements.clear()
    counted = client.get(f"/api/runs/{run}/cells/count", params={"q": "berry"}).json()
    assert counted == {"total": 30}
    page(client, run, q="berry", offset=20)
    assert sum("LIKE" in s.upper() for s in statements) == 1


def test_a_new_search_comes_before_its_count(
    client: TestClient,  # noqa: F811
    statements: list[str],
) -> None:
    """The first page of a new text search reads the run's cells in order only as far as
    it needs (a word found in most outputs needs few of them), and leaves the count to a
    request of its own; once counted, the search's pages are slices with their total."""
    run = latest(client)["id"]
    berries = [i for i in range(70) if i % 7 in (2, 3, 6)]
    first = page(client, run, q="berry")
    assert (first["total"], first["more"]) == (None, True)
    assert [r["test"] for r in first["rows"]] == berries[:20]
    # cases 0 to 63 were enough (the first range): 64 to 69 were not read
    searches = [s for s in statements if "LIKE" in s.upper()]
    assert len(searches) == 1
    statements.clear()
    # a page that needs more reads the next range, twice as long, and here reached the
    # last case: it has its count
    second = page(client, run, q="berry", offset=20)
    assert (second["total"], second["more"]) == (30, False)
    assert [r["test"] for r in second["rows"]] == berries[20:]
    statements.clear()
    assert page(client, run, q="berry", offset=10)["total"] == 30
    assert not [s for s in statements if "LIKE" in s.upper()]
    # a search found in few cases reads every range, and is then counted
    rare = page(client, run, q="goose")
    assert (rare["total"], rare["more"]) == (10, False)
    # the count, asked for, is kept for the pages that follow
    wanted = {"q": "like"}  # in every case's first output
    assert page(client, run, **wanted)["total"] is None
    counted = client.get(f"/api/runs/{run}/cells/count", params=wanted).json()
    assert counted == {"total": 70}
    assert page(client, run, **wanted, offset=5)["total"] == 70
    # the same on a metric's text, and with other filters
    assert page(client, run, metric="berries")["total"] is None
    failing = page(client, run, q="like", failures="true")
    assert failing["total"] is None
    assert [r["test"] for r in failing["rows"]] == [i for i in range(70) if i not in berries][:20]


def test_what_was_kept_follows_ratings_and_deletion(client: TestClient) -> None:  # noqa: F811
    run = latest(client)["id"]
    before = page(client, run)
    apple = before["rows"][0]["cells"][0]
    assert (apple["status"], apple["human"]) == ("fail", False)
    assert page(client, run, rated="true")["total"] == 0
    rated = client.post(f"/api/runs/{run}/cells/0:0:0:0/ratings", json={"verdict": "pass"})
    assert rated.status_code == 201
    after = page(client, run)["rows"][0]["cells"][0]
    assert (after["status"], after["automatic"], after["human"]) == ("pass", "fail", True)
    assert page(client, run, rated="true")["total"] == 1
    client.post(f"/api/runs/{run}/cells/0:0:0:0/ratings", json={"verdict": "fail"})
    assert page(client, run)["rows"][0]["cells"][0]["status"] == "fail"
    # a run named by a prefix of its id reads the same grid
    assert page(client, run[:8])["rows"] == page(client, run)["rows"]
    assert client.delete(f"/api/runs/{run}").status_code == 200
    gone = client.get(f"/api/runs/{run}/cells")
    assert gone.status_code == 404 and "no run" in gone.json()["error"]


def test_a_page_decodes_each_cases_variables_once(
    client: TestClient,  # noqa: F811
    statements: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row's cells share their case: its variables come as text and are decoded once,
    for the row's label, rather than once for each cell by the driver."""
    from prompteur.store import _grid

    from .test_web_api import FRUITS

    decoded: list[str] = []
    read = _grid._json_object
    monkeypatch.setattr(_grid, "_json_object", lambda text: decoded.append(text) or read(text))
    run = latest(client)["id"]
    rows = page(client, run)["rows"]
    assert [len(row["cells"]) for row in rows] == [2] * 20
    assert [row["case"] for row in rows] == [f"fruit={f}" for f in FRUITS * 3][:20]
    (cells,) = [s for s in statements if "substr" in s.lower()]
    assert "cast(cases.vars as" in cells.lower()
    assert len(decoded) == 20


def test_the_kept_rows_stay_within_their_budget() -> None:
    from prompteur.store._grid_cache import GridCache
    from prompteur.store._grid_records import GridRow

    cache = GridCache(rows=10)
    version = ("finished", 1)
    cache.keep_rows("a", version, [GridRow(p, f"a{p}", []) for p in range(6)])
    cache.keep_rows("b", version, [GridRow(p, f"b{p}", []) for p in range(6)])
    # b's rows pushed out the run read least recently
    assert cache.rows("a", version, range(6)) == {}
    assert sorted(cache.rows("b", version, range(6))) == list(range(6))
    cache.keep_rows("b", version, [GridRow(p, f"b{p}", []) for p in range(6, 20)])
    assert len(cache.rows("b", version, range(20))) == 10
    # a run read at another version (a re-run cell) is read again
    assert cache.rows("b", ("finished", 2), range(20)) == {}


@pytest.mark.parametrize(
    "grid",
    [
        {"failures": True},
        {"differing": True},
        {"rated": True},
        {"sort": "failures"},
        {"search": "berry"},
        {"metric": "berries"},
    ],
)
def test_filters_read_each_cell_once(stored: str, grid: dict[str, Any]) -> None:  # noqa: F811
    """No filter looks up a cell's verdicts, or tests its text, once per cell in a
    subquery: on a run of 10,000 cases that was most of a filtered page's time."""
    if not stored.startswith("sqlite"):
        pytest.skip("SQLite's query plan names correlated subqueries")

    from prompteur.store import Store
    from prompteur.store._grid import GridFilter

    store = Store(stored)
    run = store.runs(limit=1)[0].id
    store.rate(run, "0:0:0:0", passed=True, author="ana")
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "GROUP BY" in statement:
            statements.append((statement, parameters))

    event.listen(store.read_engine, "before_cursor_execute", seen)
    page = store.cell_page(run, 0, 10, GridFilter(**grid))
    assert page.rows
    ((statement, parameters),) = statements
    with store.read_engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    assert not [step for step in plan if "CORRELATED" in step[-1]], plan
    store.close()


def test_postgresql_reads_reconnect_after_the_server_dropped_them(
    stored: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The grid's PostgreSQL reads skip BEGIN and ROLLBACK (each statement its own
    transaction), and ping a pooled connection only once it sat idle: one the server
    dropped meanwhile is replaced, not handed to a request."""
    if not stored.startswith("postgresql"):
        pytest.skip("PostgreSQL's pool")
    from sqlalchemy import text

    from prompteur.store import Store, _engine
    from prompteur.store._grid import GridFilter

    store = Store(stored)
    run = store.runs(limit=1)[0].id
    first = store.cell_page(run, 0, 10, GridFilter())
    with store.read_engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
    # a pool beside the writer's, small enough for a few workers within max_connections
    pool = store.read_engine.pool
    assert (pool.size(), pool._max_overflow) == (5, 5)  # type: ignore[attr-defined]
    with store.engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    monkeypatch.setattr(_engine, "PING_AFTER_IDLE_S", 0.0)
    assert store.cell_page(run, 0, 10, GridFilter(search="berry")).rows
    assert store.cell_page(run, 0, 10, GridFilter()) == first
    store.close()


def test_every_reader_agrees_on_a_cells_latest_verdict(
    stored: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two verdicts given in the same instant: the one stored last counts, in the grid's
    cells and filters, the summary, the cell and the store's verdicts alike."""
    import time

    from prompteur.store import Store
    from prompteur.store._grid import GridFilter

    store = Store(stored)
    run = store.runs(limit=1)[0].id
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    store.rate(run, "0:0:2:0", passed=True, author="ana")  # a blueberry: its graders passed it
    store.rate(run, "0:0:2:0", passed=False, author="bo")
    store.rate(run, "0:0:0:0", passed=True, author="ana")  # an apple: its graders failed it
    store.rate(run, "0:0:0:0", passed=False, author="bo")
    monkeypatch.undo()
    page = store.cell_page(run, 0, 3, GridFilter())
    shown = {c.key: c.status for row in page.rows for c in row.cells if c.human}
    assert shown == {"0:0:0:0": "fail", "0:0:2:0": "fail"}
    failing = store.cell_page(run, 0, 70, GridFilter(failures=True))
    assert {0, 2} <= {row.test_pos for row in failing.rows}
    rated = store.cell_page(run, 0, 70, GridFilter(rated=True, differing=True))
    assert [row.test_pos for row in rated.rows] == [2]  # the loud blueberry still passes
    assert store.cell_detail(run, "0:0:2:0").status == "fail"
    verdicts = store.verdicts(run)
    assert (verdicts["0:0:0:0"].passed, verdicts["0:0:2:0"].passed) == (False, False)
    first = store.group_stats(run)[0]
    assert (first.passed, first.human) == (29, 2)  # the graders' 30, but the blueberry
    store.close()


def test_a_filters_rows_asked_for_at_once_are_found_once() -> None:
    """A search's count and a page of it, asked for together, share one reading."""
    import threading
    import time

    from prompteur.store._grid_cache import GridCache
    from prompteur.store._grid_records import GridFilter

    cache = GridCache()
    grid, version = GridFilter(search="berry"), ("finished", 1)
    calls: list[int] = []
    release = threading.Event()

    def compute() -> list[int]:
        calls.append(1)
        release.wait(10)
        return [3, 1]

    found: list[list[int]] = []
    started = threading.Barrier(4)  # the three askers and this thread

    def ask() -> None:
        started.wait(10)
        found.append(list(cache.positions("run", grid, version, compute)))

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for asker in askers:
        asker.start()
    started.wait(10)
    for _ in range(100):  # time for a second reading to start, were there one
        if len(calls) > 1:
            break
        time.sleep(0.01)
    release.set()
    for asker in askers:
        asker.join(10)
    assert (calls, found) == ([1], [[3, 1]] * 3)

    def fails() -> list[int]:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        cache.positions("run", GridFilter(search="plum"), version, fails)
    # a failed reading leaves nobody waiting for it
    assert list(cache.positions("run", GridFilter(search="plum"), version, lambda: [2])) == [2]
