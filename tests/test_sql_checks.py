"""is-sql reads what is SQL, not what looks like it inside strings and comments."""

from __future__ import annotations

import pytest

from .test_promptfoo_examples_features import sql_verdict


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT name FROM t",
        "SELECT ALL name FROM t",
        "SELECT SQL_NO_CACHE name FROM t",
        "SELECT 'a, from b' AS x FROM t",
        "SELECT a FROM t WHERE note = 'see below, where'",
        "SELECT a FROM t -- sorted by",
        "SELECT a FROM t /* group by */",
        "SELECT * FROM t WHERE c = 'it`s'",
        "SELECT a FROM t WHERE c = 'it''s from'",
    ],
)
def test_valid_sql_with_modifiers_strings_and_comments_passes(sql: str) -> None:
    (check,) = sql_verdict("is-sql", sql).assertions
    assert check.passed, check.reason


@pytest.mark.parametrize(
    "sql",
    [
        "select a b from t",  # a bare alias, outside any string
        "SELECT a, FROM t WHERE c = 'x'",
        "SELECT a FROM t WHERE -- nothing after",
    ],
)
def test_unfinished_sql_beside_strings_and_comments_still_fails(sql: str) -> None:
    assert not sql_verdict("is-sql", sql).assertions[0].passed
