"""promptfoo's SQL checks: ``is-sql`` (the output parses as SQL of a dialect and uses only
the tables and columns it allows) and ``contains-sql`` (the same of the output's first
fenced code block, else of the whole output). SQL is parsed by sqlglot, imported on first
use."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

if TYPE_CHECKING:
    from sqlglot import exp

#: promptfoo's ``databaseType`` names (node-sql-parser's), lowercased, to sqlglot's dialects.
_DIALECTS = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgres",
    "bigquery": "bigquery",
    "hive": "hive",
    "redshift": "redshift",
    "sqlite": "sqlite",
    "transactsql": "tsql",
    "snowflake": "snowflake",
    "trino": "trino",
    "athena": "athena",
}
_DEFAULT_DATABASE = "MySQL"
_SETTINGS = ("databaseType", "allowedTables", "allowedColumns")

# What promptfoo refuses although its parser reads it: two bare words between SELECT and
# FROM (an alias without AS, more likely a typo), and MySQL's missing generate_series.
_BARE_ALIAS = re.compile(
    r"select\s+(?!(?:distinct|distinctrow|all|high_priority|straight_join|sql_\w+)\b)"
    r"[A-Za-z_]\w*\s+[A-Za-z_]\w*\s+from",
    re.IGNORECASE,
)
# String literals and comments, which the checks above must not read as SQL
_LITERAL_OR_COMMENT = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|--[^\n]*|#[^\n]*|/\*.*?\*/", re.DOTALL
)
_GENERATE_SERIES = re.compile(r"\bgenerate_series\s*\(", re.IGNORECASE)
_FENCED = re.compile(r"```(?:sql)?([^`]+)```")
# Unfinished SQL that sqlglot reads all the same: a comma before a clause or the end, a
# clause keyword with nothing after it, a DELETE without FROM.
_DANGLING_COMMA = re.compile(
    r",\s*(?:$|;|\)|\b(?:from|where|group|order|having|limit)\b)", re.IGNORECASE
)
_DANGLING_KEYWORD = re.compile(
    r"\b(?:select|from|where|and|or|on|by|in|join|set|having|limit|values|into|not)\s*;?\s*$",
    re.IGNORECASE,
)
_DELETE_WITHOUT_FROM = re.compile(r"^\s*delete\b(?!.*\bfrom\b)", re.IGNORECASE | re.DOTALL)
#: Statements sqlglot keeps as bare commands (it warns that it does not parse them) that
#: are SQL all the same.
_COMMANDS = frozenset(["REPLACE", "CALL", "GRANT", "REVOKE", "RENAME"])


@dataclass(frozen=True)
class _AllowList:
    """Allowed ``kind::table::column`` (or ``kind::db::table``) names, each a regular
    expression matched whole, ignoring case, as promptfoo's allow-lists are."""

    what: str  # "table" or "column"
    patterns: tuple[re.Pattern[str], ...]

    def first_refused(self, names: Sequence[str]) -> str | None:
        for name in names:
            if not any(p.fullmatch(name) for p in self.patterns):
                return name
        return None


def _allow_list(value: Any, key: str, what: str) -> _AllowList | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AssertionValueError(f"'{key}' must be a list of names such as select::null::Orders")
    entries = list(value)
    if what == "column":
        # a column allowed in a named table is allowed unqualified too, as in promptfoo
        for entry in value:
            parts = entry.split("::")
            if len(parts) == 3 and parts[1] != "null":
                loose = f"{parts[0]}::null::{parts[2]}"
                if loose not in entries:
                    entries.append(loose)
    try:
        patterns = tuple(re.compile(e, re.IGNORECASE) for e in entries)
    except re.error as exc:
        raise AssertionValueError(f"'{key}' holds an invalid pattern: {exc}") from None
    return _AllowList(what, patterns)


@dataclass(frozen=True)
class _SqlCheck:
    database: str
    dialect: str
    tables: _AllowList | None
    columns: _AllowList | None

    def problems(self, sql: str) -> list[str]:
        """Why ``sql`` is not valid SQL of the dialect, or uses what is not allowed."""
        import sqlglot
        from sqlglot.errors import SqlglotError

        bad_syntax = f"SQL statement does not conform to the provided {self.database} syntax"
        text = sql.strip()
        code = _code_only(text)
        unsupported = self.dialect == "mysql" and _GENERATE_SERIES.search(code)
        problems = []
        unfinished = any(
            pattern.search(code)
            for pattern in (_DANGLING_COMMA, _DANGLING_KEYWORD, _DELETE_WITHOUT_FROM)
        )
        if code.count("`") % 2 or _BARE_ALIAS.search(code) or unsupported or unfinished:
            problems.append(bad_syntax)
        try:
            with _quiet_sqlglot():
                parsed = sqlglot.parse(text, read=self.dialect)
            statements = [s for s in parsed if s is not None]
        except (SqlglotError, RecursionError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return problems or [f"{bad_syntax} ({first})"]
        if not statements or not all(_is_statement(s) for s in statements):
            return problems or [bad_syntax]
        for allowed, names in (
            (self.tables, _table_names),
            (self.columns, _column_names),
        ):
            if allowed is None:
                continue
            found = [name for s in statements for name in names(s)]
            refused = allowed.first_refused(found)
            if refused is not None:
                problems.append(f"'{refused}' is not in the allowed {allowed.what}s")
        return problems


def _code_only(text: str) -> str:
    """``text`` with each string literal made empty and each comment a space."""

    def blank(match: re.Match[str]) -> str:
        found = match.group()
        return found[0] * 2 if found[0] in "'\"" else " "

    return _LITERAL_OR_COMMENT.sub(blank, text).strip()


def _is_statement(node: exp.Expr) -> bool:
    from sqlglot import exp

    if any(not part.expressions and not part.args.get("query") for part in node.find_all(exp.In)):
        return False  # IN ()
    if any(not group.expressions for group in node.find_all(exp.Group)):
        return False  # GROUP BY and nothing
    if isinstance(node, exp.Select):
        return bool(node.expressions)
    if isinstance(node, exp.Insert):
        return node.expression is not None  # INSERT INTO t and no rows
    if isinstance(node, exp.Update):
        return bool(node.expressions)  # UPDATE t SET and nothing
    if isinstance(node, exp.Command):
        return str(node.this).upper() in _COMMANDS
    statements = (
        exp.SetOperation,
        exp.Insert,
        exp.Update,
        exp.Delete,
        exp.Merge,
        exp.Create,
        exp.Drop,
        exp.Alter,
        exp.TruncateTable,
        exp.Show,
        exp.Use,
        exp.Describe,
        exp.Set,
        exp.Transaction,
        exp.Commit,
        exp.Rollback,
    )
    return isinstance(node, statements)


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """Without sqlglot's warnings (a statement it keeps as a bare command), which would
    print on the terminal of every run."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _target(statement: exp.Expr) -> exp.Table | None:
    """The table an INSERT, UPDATE or DELETE writes to."""
    from sqlglot import exp

    if not isinstance(statement, exp.Insert | exp.Update | exp.Delete):
        return None
    target = statement.this
    if isinstance(target, exp.Schema):
        target = target.this
    return target if isinstance(target, exp.Table) else None


def _kind(statement: exp.Expr) -> str:
    return statement.key.lower()


def _table_names(statement: exp.Expr) -> Iterator[str]:
    """``kind::db::table`` of each table the statement reads or writes (``null`` for no
    database); the written table's kind is the statement's, the others' ``select``."""
    from sqlglot import exp

    target = _target(statement)
    for table in statement.find_all(exp.Table):
        if not table.name:
            continue
        kind = _kind(statement) if table is target else "select"
        yield f"{kind}::{table.db or 'null'}::{table.name}"


def _column_names(statement: exp.Expr) -> Iterator[str]:
    """``kind::table::column`` of each column the statement names: ``null`` for a column
    not qualified by its table, ``(.*)`` for every column (``*``)."""
    from sqlglot import exp

    aliases = {t.alias_or_name.lower(): t.name for t in statement.find_all(exp.Table) if t.name}
    target = _target(statement)
    if target is not None and isinstance(statement, exp.Insert):
        schema = statement.this
        if isinstance(schema, exp.Schema):
            for column in schema.expressions:
                yield f"insert::{target.name}::{column.name}"
    if target is not None and isinstance(statement, exp.Delete):
        yield f"delete::{target.name}::(.*)"
    written: set[int] = set()
    if isinstance(statement, exp.Update):
        for assignment in statement.expressions:
            column = assignment.this
            if isinstance(column, exp.Column):
                written.add(id(column))
                yield f"update::null::{column.name}"
    for column in statement.find_all(exp.Column):
        if id(column) in written:
            continue
        table = aliases.get(column.table.lower(), column.table) if column.table else "null"
        name = "(.*)" if isinstance(column.this, exp.Star) else column.name
        yield f"select::{table}::{name}"
    for star in statement.find_all(exp.Star):
        if isinstance(star.parent, exp.Select):
            yield "select::null::(.*)"


def _sql_check(spec: AssertionSpec) -> _SqlCheck:
    value = spec.value
    if value is None or value == "":
        value = {}
    if not isinstance(value, Mapping):
        raise AssertionValueError(
            f"'{spec.type}' takes a mapping as its value: databaseType, allowedTables, "
            "allowedColumns (or no value)"
        )
    unknown = sorted(set(value) - set(_SETTINGS))
    if unknown:
        raise AssertionValueError(f"unknown setting '{unknown[0]}' (known: {', '.join(_SETTINGS)})")
    database = value.get("databaseType") or _DEFAULT_DATABASE
    dialect = _DIALECTS.get(str(database).lower())
    if dialect is None:
        raise AssertionValueError(
            f"databaseType '{database}' is not supported here; known: "
            "MySQL, MariaDB, PostgresQL, BigQuery, Hive, Redshift, Sqlite, TransactSQL, "
            "Snowflake, Trino, Athena"
        )
    return _SqlCheck(
        str(database),
        dialect,
        _allow_list(value.get("allowedTables"), "allowedTables", "table"),
        _allow_list(value.get("allowedColumns"), "allowedColumns", "column"),
    )


def _sql_grader(
    spec: AssertionSpec, extract: Callable[[str], str]
) -> Callable[[GradingContext], GradeResult]:
    check = _sql_check(spec)

    def grade(ctx: GradingContext) -> GradeResult:
        problems = check.problems(extract(ctx.output))
        if problems:
            return GradeResult(False, 0.0, "; ".join(dict.fromkeys(problems)))
        allowed = " using only allowed names" if check.tables or check.columns else ""
        return GradeResult(True, 1.0, f"the output is valid {check.database} SQL{allowed}")

    return grade


@assertion("is-sql")
def is_sql(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """The output is SQL of ``databaseType`` (default MySQL); ``allowedTables`` and
    ``allowedColumns`` list the ``kind::table::column`` names it may use (patterns)."""
    return _sql_grader(spec, lambda output: output)


def _fenced_or_whole(output: str) -> str:
    found = _FENCED.search(output)
    return found.group(1).strip() if found else output


@assertion("contains-sql")
def contains_sql(spec: AssertionSpec) -> Callable[[GradingContext], GradeResult]:
    """As ``is-sql``, of the output's first fenced code block, else of the whole output."""
    return _sql_grader(spec, _fenced_or_whole)
