"""Rows as the store writes them: bulk upserts, result rows, suites without their secrets."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, Float, Integer, String, Table

from ..core._errors import PrompteurError
from ..core._json import canonical, dumps, stable_hash
from ..core._results import AssertionResult, CellResult
from ..core._secrets import REDACTED, known_secrets, redact, secret_values
from ..core._storable import MAX_STORED_INT, storable_text
from ._planned import PlannedRun

__all__ = [
    "KEYS_PER_QUERY",
    "AssertionsJson",
    "assertion_from_json",
    "insert_rows",
    "placeholder",
    "result_row",
    "select_in",
    "storable_row",
    "suite_row",
]

# SQLite allows 32,766 parameters a statement (999 before 3.32); PostgreSQL 65,535
KEYS_PER_QUERY = 500


def placeholder(paramstyle: str) -> str:
    """The driver's parameter marker: sqlite3's ``?``, psycopg's ``%s``."""
    return "?" if paramstyle == "qmark" else "%s"


def select_in(cursor: Any, paramstyle: str, query: str, keys: Sequence[str]) -> Iterator[Any]:
    """The rows of ``query``, which ends in ``IN``, for ``keys``: asked through a DB-API
    cursor (SQLAlchemy's result rows would cost more than the lookups of a large run), a
    few hundred keys a statement."""
    marker = placeholder(paramstyle)
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        cursor.execute(f"{query} ({', '.join([marker] * len(chunk))})", chunk)
        yield from cursor.fetchall()


class _Columns:
    """Where a table's values need a look before a store takes them: JSON to encode, text
    that may hold lone surrogates (or NUL, which PostgreSQL refuses) or be too long for its
    column, numbers that may not fit (non-finite floats, integers past 32 bits)."""

    def __init__(self, table: Table, columns: Sequence[str], postgres: bool) -> None:
        types = {c.name: c for c in table.columns}
        self.postgres = postgres
        self.json = [i for i, c in enumerate(columns) if isinstance(types[c].type, JSON)]
        # keys are prompteur's own (hashes, run ids, positions): only values are looked at
        values = [
            (i, types[c].type)
            for i, c in enumerate(columns)
            if not types[c].primary_key and not types[c].foreign_keys
        ]
        self.text = [i for i, kind in values if isinstance(kind, String)]
        # VARCHAR(n) on PostgreSQL refuses longer text (a provider's finish reason...)
        self.sized = [
            (i, length)
            for i, kind in values
            if isinstance(kind, String) and (length := getattr(kind, "length", None))
        ]
        self.floats = [i for i, kind in values if isinstance(kind, Float)]
        self.ints = [
            i for i, kind in values if isinstance(kind, Integer) and not isinstance(kind, Boolean)
        ]
        self.nullable = [types[c].nullable for c in columns]

    def storable(self, record: list[Any]) -> tuple[Any, ...]:
        """The row's values as the store can keep them: JSON encoded; lone surrogates (and
        NUL on PostgreSQL) replaced by U+FFFD; numbers that cannot be kept made null, or
        0 and the largest integer where the column needs a value. The runner keeps such
        values out of cells (saying so in them); this is the last line, for every table."""
        for i in self.json:
            record[i] = dumps(record[i])
        postgres = self.postgres
        for i in self.text:
            text = record[i]
            if text is not None and (not text.isascii() or (postgres and "\x00" in text)):
                record[i] = storable_text(str(text), nul=postgres)
        for i, length in self.sized:
            text = record[i]
            if text is not None and len(text) > length:
                record[i] = text[:length]
        for i in self.floats:
            number = record[i]
            if number is not None and number - number != 0:  # NaN or infinite
                record[i] = None if self.nullable[i] else 0.0
        for i in self.ints:
            number = record[i]
            if number is not None and not -MAX_STORED_INT <= number <= MAX_STORED_INT:
                if self.nullable[i]:
                    record[i] = None
                else:
                    record[i] = MAX_STORED_INT if number > 0 else -MAX_STORED_INT
        return tuple(record)


def storable_row(conn: Connection, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` (of ``table``, JSON not encoded) with its values as the store can keep them,
    for the writes that go through SQLAlchemy rather than ``insert_rows``."""
    names = [name for name in row if name in table.c]
    columns = _Columns(table, names, conn.dialect.name == "postgresql")
    columns.json = []  # SQLAlchemy encodes these itself
    values = columns.storable([row[name] for name in names])
    return {**row, **dict(zip(names, values, strict=True))}


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    replace: bool = False,
) -> int:
    """Insert rows; rows whose key exists are skipped, or replaced with ``replace``.
    Returns how many rows the database reports written (-1 when it cannot tell).

    Rows go straight to the driver's executemany with JSON already encoded: for the tens of
    thousands of cells of a large run, per-row processing in SQLAlchemy would cost more
    than the database's own work. SQLite (3.24+) and PostgreSQL share the upsert syntax.
    A value the database could not take is stored as ``_Columns.storable`` makes it."""
    if not rows:
        return 0
    if conn.dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - see make_engine
        raise PrompteurError(f"unsupported database {conn.dialect.name}")
    columns = [c.name for c in table.columns]
    marker = placeholder(conn.dialect.paramstyle)
    conflict = ", ".join(keys)
    if replace:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        action = f"DO UPDATE SET {updates}"
    else:
        action = "DO NOTHING"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))}) ON CONFLICT ({conflict}) {action}"
    )
    kinds = _Columns(table, columns, conn.dialect.name == "postgresql")
    pick = itemgetter(*columns)
    values = [kinds.storable(list(pick(row))) for row in rows]
    written: int = conn.exec_driver_sql(sql, values).rowcount
    return written


class AssertionsJson:
    """Encodes cells' assertion results for the store, each result object once: graders
    hand the same result to every cell with the same verdict, and a large run would encode
    it again for each. At most ``limit`` encodings are kept. A cell's results come back as
    a list of the shared fragments, which the row's encoding writes as they are. Fragments
    of text, not bytes, and none joined a cell: either of those made the peak memory of a
    run of 10,000 cells 15 MB higher (bench/throughput.py)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._known: dict[int, tuple[AssertionResult, orjson.Fragment]] = {}

    def __call__(self, assertions: Sequence[AssertionResult]) -> list[orjson.Fragment]:
        encoded = []
        for assertion in assertions:
            found = self._known.get(id(assertion))
            if found is None or found[0] is not assertion:
                if len(self._known) >= self.limit:
                    self._known.clear()
                found = (assertion, orjson.Fragment(dumps(assertion)))
                self._known[id(assertion)] = found
            encoded.append(found[1])
        return encoded


def result_row(
    run_id: str,
    result: CellResult,
    test_key: str,
    encode: Callable[[Sequence[AssertionResult]], Any] = tuple,
) -> dict[str, Any]:
    """A cell as the results table holds it; ``encode`` prepares its assertion results
    for JSON (orjson writes the dataclasses as objects)."""
    return {
        "run_id": run_id,
        "cell_key": result.key,
        "prompt_pos": result.prompt_index,
        "provider_pos": result.provider_index,
        "test_pos": result.test_index,
        "repeat": result.repeat,
        "test_key": test_key,
        "status": result.status,
        "score": result.score,
        "output": result.output,
        "error": result.error,
        "rendered_prompt": result.prompt,
        "assertions": encode(result.assertions),
        "latency_ms": result.latency_ms,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost": result.cost,
        "finish_reason": result.finish_reason,
        "model": result.model,
        "cached": result.cached,
        "attempts": result.attempts,
        "created_at": time.time(),
        "grader_prompt_tokens": result.grader_prompt_tokens,
        "grader_completion_tokens": result.grader_completion_tokens,
        "grader_cost": result.grader_cost,
    }


def suite_row(plan: PlannedRun, path: str | None, now: float) -> dict[str, Any] | None:
    """The suite as validated (JSON), without its secrets: a file's own text may carry an
    API key (in a provider's or a grader's config, in headers...), and the store never keeps
    one. ``env`` values are all dropped, whatever their names: they are there to be secret."""
    suite = plan.suite
    if suite is None:
        return None
    data = suite.model_dump(mode="json", by_alias=True, exclude_none=True)
    tests = data.pop("tests", [])
    data = redact(data)
    data["tests"] = _tests_without_secrets(tests)
    if data.get("env"):
        data["env"] = dict.fromkeys(data["env"], REDACTED)
    content = canonical(data)
    return {"id": stable_hash(content)[:32], "path": path, "content": content, "created_at": now}


_TEST_DATA = ("description", "vars", "metadata")


def _tests_without_secrets(tests: list[Any]) -> list[Any]:
    """The tests redacted: their data (description, vars, metadata) as the cases table
    keeps it; the rest (assertions, options) once per distinct content, since the tests of
    a large suite mostly share it."""
    redacted: dict[str, Any] = {}
    kept = []
    for test in tests:
        if not isinstance(test, dict):
            kept.append(redact(test))
            continue
        data = {k: test[k] for k in _TEST_DATA if k in test}
        rest = {k: v for k, v in test.items() if k not in data}
        known = known_secrets(secret_values(data))
        data = redact(data, known)
        key = canonical(rest)
        if key not in redacted:
            redacted[key] = redact(rest)
        kept.append({**redacted[key], **data})
    return kept


def _stored_number(value: Any) -> float:
    """A number as a run stored it; NaN for a null, which is how JSON holds a number that
    was not finite (runs of earlier versions kept such scores)."""
    return float(value) if isinstance(value, int | float) else math.nan


def assertion_from_json(data: Mapping[str, Any]) -> AssertionResult:
    return AssertionResult(
        data["type"],
        data.get("value"),
        bool(data["passed"]),
        _stored_number(data.get("score")),
        str(data.get("reason", "")),
        _stored_number(data.get("weight", 1.0)),
        data.get("metric"),
    )
