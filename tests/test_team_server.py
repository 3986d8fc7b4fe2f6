"""`prompteur serve` on PostgreSQL, and the CLI talking to it with --server and a token:
eval records its run there (its registered prompts resolved there), and runs, show,
compare, history and rate read and write there, under each user's role."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from prompteur.cli import cli
from prompteur.store import Store
from prompteur.store._team import Team, audit_entries

from .conftest import free_port, wait_for_http

pytestmark = pytest.mark.postgres

SUITE = """
description: team suite
prompts:
  - prompt: answer@staging
  - "Say {{word}}"
providers: [echo]
tests:
  - vars: {word: apple}
    assert: [{type: contains, value: apple}]
  - vars: {word: pear}
    assert: [{type: contains, value: apple}]
  - vars: {word: plum}
    assert: [{type: contains, value: plum}]
"""


@pytest.fixture
def team_pg(postgres_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The PostgreSQL store with an editor, a reviewer and a viewer, and their tokens;
    emptied afterwards."""
    store = Store(postgres_url)
    team = Team(store)
    tokens = {}
    for name, role in {"ed": "editor", "rev": "reviewer", "vic": "viewer"}.items():
        team.add_user(name, "a long password", role)
        tokens[name] = team.create_token(name)[1]
    store.close()
    yield postgres_url, tokens
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def server(team_pg: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[str]:
    """A real `prompteur serve` (uvicorn) on a free loopback port."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "prompteur", "serve", "--db", team_pg[0], "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", process)  # type: ignore[arg-type]
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def as_user(token: str) -> Callable[..., Result]:
    """The command, run with this token in PROMPTEUR_TOKEN."""

    def invoke(*args: str) -> Result:
        runner = CliRunner(env={"PROMPTEUR_TOKEN": token})
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_eval_records_on_the_server_and_the_team_reads_it(
    server: str,
    team_pg: tuple[str, dict[str, str]],
    write: Callable[[str, str], Path],
) -> None:
    db, tokens = team_pg
    editor = {"Authorization": f"Bearer {tokens['ed']}"}
    added = httpx.post(
        f"{server}/api/prompts/answer/versions", json={"template": "{{word}}"}, headers=editor
    )
    assert added.status_code == 201, added.text
    labelled = httpx.post(
        f"{server}/api/prompts/answer/labels",
        json={"label": "staging", "version": 1},
        headers=editor,
    )
    assert labelled.status_code == 200, labelled.text
    write("prompteur.yaml", SUITE)

    # a viewer may not record a run; nothing is recorded
    run = as_user(tokens["vic"])
    refused = run("eval", "--no-progress", "--server", server)
    assert refused.exit_code == 2
    assert "this needs an editor or above; vic is a viewer" in refused.output
    assert Store(db).runs() == []

    run = as_user(tokens["ed"])
    done = run("eval", "--no-progress", "--server", server)
    assert done.exit_code == 1, done.output  # pear fails, as it should
    assert "recorded run" in done.output
    assert not Path(".prompteur").exists()  # no local store was made

    listed = run("runs", "--server", server, "--json")
    assert listed.exit_code == 0, listed.output
    (entry,) = json.loads(listed.stdout)
    assert entry["suite"] == "team suite"
    assert entry["status"] == "finished"
    assert (entry["cells"], entry["done"], entry["passed"]) == (6, 6, 4)
    assert entry["prompts"] == ["answer@v1", "Say {{word}}"]
    run_id = entry["id"]

    # the server's own store holds it, with who recorded it and the resolved version
    info = Store(db).run(run_id)
    assert info.options["recorded_by"] == "ed"
    assert info.author == "ed"  # the token's user, not the client machine's login
    assert info.registered == [("answer", 1), None]
    assert len(list(Store(db).results(run_id))) == 6

    shown = run("show", run_id, "--server", server)
    assert shown.exit_code == 1
    assert "cell 0:0:1:0" in shown.output

    # a viewer reads but may not rate; a reviewer rates, under their own name
    viewer = as_user(tokens["vic"])
    assert viewer("runs", "--server", server).exit_code == 0
    no = viewer("rate", run_id, "0:0:1:0", "pass", "--server", server)
    assert no.exit_code == 2
    assert "needs a reviewer" in no.output
    reviewer = as_user(tokens["rev"])
    rated = reviewer("rate", run_id, "0:0:1:0", "pass", "--author", "someone", "--server", server)
    assert rated.exit_code == 0, rated.output
    assert "pass by rev" in rated.output
    assert Store(db).verdicts(run_id)["0:0:1:0"].author == "rev"
    entry = audit_entries(Store(db), action="rate")[0]
    assert (entry.actor, entry.target) == ("rev", f"{run_id}/0:0:1:0")
    commented = reviewer(
        "rate", run_id, "0:0:1:0", "--comment", "close enough", "--author", "x", "--server", server
    )
    assert commented.exit_code == 0, commented.output
    (comment,) = Store(db).comments(run_id, "0:0:1:0")
    assert (comment.author, comment.text) == ("rev", "close enough")

    compared = reviewer(
        "compare", run_id, "--prompts", "answer@v1", "Say {{word}}", "--server", server
    )
    assert compared.exit_code in (0, 1), compared.output
    assert "pass rate" in compared.output.lower()
    history = reviewer("history", "prompteur.yaml", "--server", server)
    assert history.exit_code in (0, 1), history.output
    assert "team suite" in history.output

    # deleting is for editors, and audited
    assert reviewer("runs", "delete", run_id, "--yes", "--server", server).exit_code == 2
    deleted = run("runs", "delete", run_id, "--yes", "--server", server)
    assert deleted.exit_code == 0, deleted.output
    assert Store(db).runs() == []
    entry = audit_entries(Store(db), action="delete run")[0]
    assert (entry.actor, entry.target) == ("ed", run_id)


def test_a_missing_or_bad_token_is_one_line(
    server: str, write: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPTEUR_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["runs", "--server", server])
    assert result.exit_code == 2
    assert result.output.startswith("error: --server")
    assert "PROMPTEUR_TOKEN" in result.output
    bad = as_user("pt_0000_nothing")("runs", "--server", server)
    assert bad.exit_code == 2
    assert "unknown or revoked" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
