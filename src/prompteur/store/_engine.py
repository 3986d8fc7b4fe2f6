"""Opening a store: where it lives by default, and engines tuned for several writers."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from ..core._errors import MissingDependencyError, PrompteurError
from ..core._json import dumps
from ._errors import StoreError

__all__ = ["DEFAULT_DB_PATH", "default_store_url", "make_engine", "store_url"]

DEFAULT_DB_PATH = Path(".prompteur") / "prompteur.db"
SQLITE_BUSY_TIMEOUT_MS = 60_000
PG_CONNECT_TIMEOUT_S = 10  # a server that does not answer is reported, not waited on for minutes


def default_store_url(project: Path | None = None) -> str:
    """SQLite in ``.prompteur/prompteur.db`` under the project (the working directory)."""
    path = (project or Path.cwd()) / DEFAULT_DB_PATH
    return f"sqlite:///{path}"


def store_url(given: str | None, env: Mapping[str, str] | None = None) -> str:
    """The store to use: the one given (``--db``), else ``PROMPTEUR_DB``, else the default.
    A plain file path means SQLite; ``postgresql://`` URLs use psycopg 3, and so do
    ``postgresql+psycopg2://`` ones (the same server and URL, through the driver the
    ``postgres`` extra installs)."""
    environment = os.environ if env is None else env
    url = given or environment.get("PROMPTEUR_DB") or default_store_url()
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser()}"
    if url.startswith(_PSYCOPG_SCHEMES):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


_PSYCOPG_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://")

# The drivers prompteur talks to: the store reads the cache through their DB-API
# connections, so a driver SQLAlchemy knows is not enough (asyncpg is async, for one).
_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
_INSTEAD = {
    "sqlite": "prompteur opens SQLite files with Python's sqlite3; write sqlite:///PATH "
    "or a plain file path",
    "postgresql": "prompteur reaches PostgreSQL through psycopg 3; write "
    "postgresql://USER@HOST/DB (pip install 'prompteur[postgres]')",
}


def _check_driver(url: str, backend: str, driver: str) -> None:
    """One line, rather than a driver's ImportError, for a driver prompteur does not use."""
    if _DRIVERS.get(backend, driver) != driver:
        raise PrompteurError(
            f"unsupported database driver {driver!r} in {url}: {_INSTEAD[backend]}"
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Manage transactions ourselves (see _begin_immediate) and let writers wait their turn.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    # Taking the write lock at BEGIN means a busy writer waits (busy_timeout) instead of
    # failing when a read transaction later wants to write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


PING_AFTER_IDLE_S = 1.0  # a read connection idle this long is pinged before it is used


def _note_idle(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Ping a pooled connection that sat idle (the server may have restarted meanwhile);
    a dead one makes the pool connect again, as ``pool_pre_ping`` would."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        dbapi_connection.execute("SELECT 1")
    except Exception as exc:
        raise DisconnectionError(str(exc)) from exc


def make_engine(url: str, *, reads: bool = False) -> Engine:
    """An engine for the store at ``url``; SQLite files and folders are created as needed
    (an OSError when they cannot be). ``reads``: an engine that only reads, whose SQLite
    transactions do not take the write lock, so readers run side by side; PostgreSQL's
    read each statement in its own transaction."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise PrompteurError(f"not a database URL: {url}") from None
    _check_driver(
        parsed.render_as_string(hide_password=True),
        parsed.get_backend_name(),
        parsed.get_driver_name(),
    )
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            if Path(database).is_dir():
                raise StoreError(
                    f"cannot open the store at {url}: {database} is a folder, not a database file"
                )
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=dumps,  # writes what JSON has no place for as it can hold it
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not reads:
            event.listen(engine, "begin", _begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingDependencyError(
                "PostgreSQL stores need psycopg 3: pip install 'prompteur[postgres]'"
            ) from None
        connect_args = (
            {} if "connect_timeout" in parsed.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        )
        if not reads:
            return create_engine(
                url, pool_pre_ping=True, connect_args=connect_args, json_serializer=dumps
            )
        # A viewer's reads: each statement is its own transaction (no BEGIN, and no
        # ROLLBACK when the connection goes back to the pool), and a connection is pinged
        # only after it sat idle, not at every checkout: three round trips a request become one.
        # (a pool of its own beside the writer's, kept to 10 connections at most so that a
        # server's workers stay within PostgreSQL's default max_connections of 100)
        engine = create_engine(
            url,
            connect_args=connect_args,
            json_serializer=dumps,
            isolation_level="AUTOCOMMIT",
            pool_size=5,
            max_overflow=5,
        )
        event.listen(engine, "checkin", _note_idle)
        event.listen(engine, "checkout", _ping_if_idle)
        return engine
    raise PrompteurError(
        f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
    )
