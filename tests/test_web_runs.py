"""The runs list: who ran each run (schema 7), and its filters, found by the database."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

SUITE = """
description: {name}
prompts:
  - label: {prompt}
    raw: "Say {{{{word}}}}"
providers: [echo]
tests:
  - vars: {{word: apple}}
"""


@pytest.fixture
def three_runs(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Three runs, oldest first: 'terse' by dana, 'chatty' by eli, 'terse' again by eli."""
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    for prompt, login in (("terse", "dana"), ("chatty", "eli"), ("terse", "eli")):
        # who is at the keyboard, as ratings and prompt versions name them too
        monkeypatch.setenv("PROMPTEUR_AUTHOR", login)
        write("prompteur.yaml", SUITE.format(name=f"{prompt} suite", prompt=prompt))
        assert run_cli("eval", "--no-progress").exit_code == 0
    return store_url


def test_who_ran_a_run_is_the_author_at_the_keyboard(three_runs: str) -> None:
    from prompteur.store import Store
    from prompteur.web._app import create_app

    store = Store(three_runs)
    assert [info.author for info in store.runs()] == ["eli", "eli", "dana"]
    store.close()
    with TestClient(create_app(three_runs), base_url="http://127.0.0.1") as client:
        listed = client.get("/api/runs").json()
        assert [(r["prompts"], r["who"]) for r in listed] == [
            (["terse"], "eli"),
            (["chatty"], "eli"),
            (["terse"], "dana"),
        ]
        page = client.get("/runs").text
        assert "<td>dana</td>" in page


def test_runs_are_filtered_by_the_database(three_runs: str) -> None:
    from prompteur.store import Store
    from prompteur.store import _schema as t

    store = Store(three_runs)
    newest, middle, oldest = store.runs()
    assert [r.id for r in store.runs(prompt="ters")] == [newest.id, oldest.id]
    # case does not matter, on SQLite and on PostgreSQL alike
    assert [r.id for r in store.runs(prompt="TERS")] == [newest.id, oldest.id]
    # the limit counts the runs that match, not the runs read
    assert [r.id for r in store.runs(prompt="terse", limit=1)] == [newest.id]
    assert [r.id for r in store.runs(provider="echo", limit=5)] == [newest.id, middle.id, oldest.id]
    assert store.runs(provider="openai") == []
    assert store.runs(prompt="%") == []  # LIKE's wildcards are searched as text
    # an hour apart, so dates and times select them
    with store.engine.begin() as conn:
        for hours, info in enumerate((oldest, middle, newest)):
            moment = datetime.datetime(2026, 3, 1 + hours, 12).timestamp()
            conn.execute(update(t.runs).where(t.runs.c.id == info.id).values(started_at=moment))
    march_2 = datetime.datetime(2026, 3, 2).timestamp()
    assert [r.id for r in store.runs(since=march_2)] == [newest.id, middle.id]
    assert [r.id for r in store.runs(until=march_2)] == [oldest.id]
    store.close()
    from prompteur.web._app import create_app

    with TestClient(create_app(three_runs), base_url="http://127.0.0.1") as client:

        def ids(**params: str) -> list[str]:
            reply = client.get("/api/runs", params=params)
            assert reply.status_code == 200, reply.text
            return [r["id"] for r in reply.json()]

        assert ids(prompt="chatty") == [middle.id]
        assert ids(since="2026-03-02", until="2026-03-02") == [middle.id]
        assert ids(prompt="terse", since="2026-03-02") == [newest.id]
        assert ids(since="0001-01-01", limit="1") == [newest.id]
        assert ids(until="0001-01-01") == []


def test_runs_stored_before_schema_7_say_who_recorded_them(three_runs: str) -> None:
    """Migration 7 fills the new column from what runs said in their options."""
    from prompteur.store import Store
    from prompteur.store import _schema as t

    store = Store(three_runs)
    newest, _, oldest = store.runs()
    with store.engine.begin() as conn:
        conn.execute(update(t.runs).values(author=None))
        options = dict(newest.options, recorded_by="ann")
        conn.execute(update(t.runs).where(t.runs.c.id == newest.id).values(options=options))
        conn.execute(delete(t.schema_version).where(t.schema_version.c.version == 7))
    store.close()
    store = Store(three_runs)
    with store.engine.connect() as conn:
        assert 7 in conn.execute(select(t.schema_version.c.version)).scalars().all()
    assert store.run(newest.id).author == "ann"
    assert store.run(oldest.id).author is None
    store.close()
