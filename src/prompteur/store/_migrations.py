"""Numbered, idempotent migrations of the store.

Migration 1 creates the tables of the current schema that are missing (``checkfirst``);
each later migration must check before it changes anything (a column that exists is left
alone), so that a fresh store, created at the latest schema, and an old one, brought
forward step by step, end the same. The applied versions are kept in ``schema_version``.
A store written by a newer prompteur is refused rather than misread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, inspect, select, text

from ._errors import StoreError
from ._schema import metadata, runs, schema_version

__all__ = ["LATEST_VERSION", "MIGRATIONS", "migrate"]


def _m001_initial(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _add_columns(conn: Connection, table: str, names: list[str]) -> None:
    """Add the named columns of the current schema that ``table`` lacks."""
    existing = {column["name"] for column in inspect(conn).get_columns(table)}
    for name in names:
        if name in existing:
            continue
        column = metadata.tables[table].c[name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))


def _m002_registry_grading_ratings(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)  # prompt registry, ratings, embeddings
    _add_columns(conn, "run_prompts", ["registry_name", "registry_version"])
    _add_columns(
        conn, "results", ["grader_prompt_tokens", "grader_completion_tokens", "grader_cost"]
    )


def _m003_heartbeats_and_live_counters(conn: Connection) -> None:
    _add_columns(conn, "runs", ["heartbeat_at", "pid", "host"])
    # Earlier versions wrote a run's counters only when it ended: a killed run showed 0 done.
    # Counters now follow every batch; set those of the unfinished runs from their cells.
    from ._writing import recount

    unfinished = conn.execute(select(runs.c.id).where(runs.c.status != "finished")).scalars()
    for run_id in list(unfinished):
        recount(conn, run_id)


def _m004_optimize_searches(conn: Connection) -> None:
    from ._schema import optimize_searches

    optimize_searches.create(conn, checkfirst=True)


def _m005_review_queues(conn: Connection) -> None:
    from ._schema import comments, results, review_items, review_queues

    for table in (review_queues, review_items, comments):
        table.create(conn, checkfirst=True)
    existing = {index["name"] for index in inspect(conn).get_indexes("results")}
    for index in results.indexes:
        if index.name not in existing:
            index.create(conn)


def _m006_team(conn: Connection) -> None:
    from ._team_schema import TEAM_TABLES

    for table in TEAM_TABLES:
        table.create(conn, checkfirst=True)


def _author_in_options_v7(options: Mapping[str, Any]) -> str | None:
    """Who ran a run, as runs stored before schema 7 said it in their options: the team
    member a server recorded it for, else the CLI's author, else the library caller's.
    Frozen with schema 7: these are the options those runs hold, whatever later code does."""
    cli = options.get("cli")
    author = (
        options.get("recorded_by")
        or (cli.get("author") if isinstance(cli, dict) else None)
        or options.get("author")
    )
    return author if isinstance(author, str) and author else None


def _m007_run_authors(conn: Connection) -> None:
    _add_columns(conn, "runs", ["author"])
    # earlier runs said who ran them, where they did, in their options
    rows = conn.execute(select(runs.c.id, runs.c.options).where(runs.c.author.is_(None))).all()
    for run_id, options in rows:
        author = _author_in_options_v7(options if isinstance(options, dict) else {})
        if author is not None:
            conn.execute(runs.update().where(runs.c.id == run_id).values(author=author))


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _m001_initial),
    (2, _m002_registry_grading_ratings),
    (3, _m003_heartbeats_and_live_counters),
    (4, _m004_optimize_searches),
    (5, _m005_review_queues),
    (6, _m006_team),
    (7, _m007_run_authors),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def _lock(conn: Connection) -> None:
    """Serialise migrations between processes opening the same store at once."""
    # SQLite transactions begin IMMEDIATE (see _engine), which already serialises writers.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4242017)"))


def _applied(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("schema_version"):
        return set()
    return set(conn.execute(select(schema_version.c.version)).scalars())


def migrate(conn: Connection) -> int:
    """Bring the store to the latest schema; returns the number of migrations applied."""
    _lock(conn)
    applied = _applied(conn)
    if applied and max(applied) > LATEST_VERSION:
        raise StoreError(
            f"this store has schema version {max(applied)}, newer than this prompteur "
            f"understands ({LATEST_VERSION}): upgrade prompteur"
        )
    count = 0
    for version, step in MIGRATIONS:
        if version in applied:
            continue
        step(conn)
        schema_version.create(conn, checkfirst=True)
        conn.execute(schema_version.insert().values(version=version, applied_at=time.time()))
        count += 1
    return count
