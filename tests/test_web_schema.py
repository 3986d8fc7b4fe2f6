"""The JSON API against its own OpenAPI schema: schemathesis generates requests for every
operation and checks the answers (no server error, documented status codes, content types
and bodies that match the schema)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about its test client's transport
    import starlette.testclient  # noqa: F401
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

SUITE = """
description: schema
prompts: ["say {{word}}"]
providers: [echo]
tests:
  - vars: {word: yes}
    assert: [{type: contains, value: yes}]
  - vars: {word: no}
    assert: [{type: contains, value: yes}]
"""


@pytest.fixture
def api(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> Iterator[Any]:
    from prompteur.web._app import create_app

    db = store_url  # SQLite, then PostgreSQL
    monkeypatch.setenv("PROMPTEUR_DB", db)
    write("prompteur.yaml", SUITE)
    run_cli("eval", "--no-progress")
    app = create_app(db)

    async def on_loopback(scope: Any, receive: Any, send: Any) -> None:
        # the local viewer answers only requests addressed to loopback; the test client
        # names its host "testserver"
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {**scope, "headers": [*headers, (b"host", b"127.0.0.1")]}
        await app(scope, receive, send)

    yield schemathesis.openapi.from_asgi("/api/openapi.json", on_loopback)
    app.state.store.close()


def test_the_api_keeps_to_its_schema(api: Any) -> None:
    from hypothesis import given

    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15  # every JSON route is in the schema
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            # a schema cannot say which templates render or which run ids exist: the
            # registry's and the store's own refusals (400, 404) are expected answers
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
