"""The results store on SQLite and on the real PostgreSQL server: runs and cells round-trip,
migrations are idempotent, old stores open, several processes write at once, no secrets."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select, text

import prompteur
from prompteur.core._errors import PrompteurError
from prompteur.store import Store, StoreError
from prompteur.store import _schema as tables
from prompteur.store._migrations import MIGRATIONS

from .servers import FaultServer, serving, status

FIXTURES = Path(__file__).parent / "fixtures"

SUITE = {
    "description": "store check",
    "prompts": [
        {"raw": "Echo {{word}}", "label": "echo"},
        {"raw": "Shout {{word | upper}}", "label": "shout"},
    ],
    "providers": ["python:upper.py:call_api"],
    "tests": [
        {
            "description": f"word {w}",
            "vars": {"word": w},
            "assert": [{"type": "contains", "value": "A", "metric": "has a"}],
        }
        for w in ("apple", "mango", "banana")
    ],
}


@pytest.fixture
def upper_provider(write: Callable[[str, str], Path]) -> None:
    write(
        "upper.py",
        "def call_api(prompt, options, context):\n"
        "    return {'output': prompt.upper() if 'Shout' in prompt else prompt,\n"
        "            'tokenUsage': {'prompt': 2, 'completion': 3}, 'cost': 0.001}\n",
    )


def test_a_run_and_its_cells_round_trip(store_url: str, upper_provider: None) -> None:
    result = prompteur.evaluate(SUITE, store=store_url)
    store = Store(store_url)
    info = store.run(result.run_id)
    assert info.status == "finished"
    assert (info.total_cells, info.done, info.passed, info.failed, info.errors) == (6, 6, 3, 3, 0)
    assert info.suite_name == "store check"
    assert info.tool_version == prompteur.__version__
    assert info.prompts == [("echo", "echo"), ("shout", "shout")]
    assert info.providers == [("python:upper.py:call_api", "python:upper.py:call_api")]
    stored = {r.key: r for r in store.results(result.run_id)}
    assert set(stored) == {r.key for r in result.results}
    for original in result.results:
        again = stored[original.key]
        assert (again.output, again.passed, again.score, again.prompt, again.cost) == (
            original.output,
            original.passed,
            original.score,
            original.prompt,
            original.cost,
        )
        assert again.assertions == original.assertions
        assert again.vars == original.vars
    summary = store.summary(result.run_id)
    assert [(g.prompt_id, g.passed, g.done) for g in summary.groups] == [
        ("echo", 0, 3),
        ("shout", 3, 3),
    ]
    assert summary.groups[1].metric_means() == {"has a": 1.0}
    assert store.run(result.run_id[:15]).id == result.run_id
    assert store.run("latest").id == result.run_id
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.run("nope")
    store.close()


def test_prompts_and_providers_are_stored_once(store_url: str, upper_provider: None) -> None:
    prompteur.evaluate(SUITE, store=store_url)
    prompteur.evaluate(SUITE, store=store_url)
    store = Store(store_url)
    with store.engine.connect() as conn:
        assert conn.execute(select(tables.prompts.c.label)).scalars().all().count("echo") == 1
        assert len(conn.execute(select(tables.providers.c.id)).all()) == 1
        assert len(conn.execute(select(tables.runs.c.id)).all()) == 2
    store.close()


def test_migrations_are_idempotent(store_url: str) -> None:
    Store(store_url).close()
    store = Store(store_url)
    with store.engine.begin() as conn:
        from prompteur.store import migrate

        assert migrate(conn) == 0
        versions = conn.execute(select(tables.schema_version.c.version)).scalars().all()
    assert versions == [version for version, _ in MIGRATIONS]  # numbers may skip (branches)
    store.close()


def test_migration_7_names_who_ran_a_run_by_rules_of_its_own(store_url: str) -> None:
    """A store at schema 6 (runs without an author): migration 7 takes each run's author
    from its options (the server's recorded_by, else the CLI's author, else the library
    caller's), with a copy of those rules frozen in the migrations module."""
    from prompteur.store import _migrations

    said = {
        "server": {"recorded_by": "ann", "cli": {"author": "bo"}, "author": "cy"},
        "cli": {"cli": {"author": "bo", "repeat": 1}, "author": "cy"},
        "library": {"cli": {"repeat": 1}, "author": "cy"},
        "nobody": {"cli": {"providers": ["echo"]}},
        "odd": {"recorded_by": "", "cli": "bo", "author": 7},  # nothing that names anyone
    }
    Store(store_url).close()
    store = Store(store_url)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE runs DROP COLUMN author"))
        version = tables.schema_version.c.version
        conn.execute(tables.schema_version.delete().where(version == 7))
        for run_id, options in said.items():
            conn.execute(
                tables.runs.insert().values(
                    id=run_id,
                    status="finished",
                    fingerprint="f",
                    options=options,
                    tool_version="0.1.0",
                    started_at=1.0,
                    total_cells=0,
                )
            )
    store.close()
    store = Store(store_url)  # brings it to the latest schema
    with store.engine.connect() as conn:
        authors = dict(conn.execute(select(tables.runs.c.id, tables.runs.c.author)).all())
        assert 7 in conn.execute(select(tables.schema_version.c.version)).scalars().all()
    store.close()
    assert authors == {"server": "ann", "cli": "bo", "library": "cy", "nobody": None, "odd": None}
    # the rules it reads authors by are its own (the functions it calls by name are defined
    # beside it): later changes to how runs say who ran them leave it be
    step = dict(MIGRATIONS)[7]
    called = [vars(_migrations).get(name) for name in step.__code__.co_names]
    ours = {f.__module__ for f in called if callable(f) and f.__module__.startswith("prompteur")}
    assert ours == {"prompteur.store._migrations"}


def test_a_store_from_a_newer_prompteur_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(url).close()
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version (version, applied_at) VALUES (999, 0)"))
    store.close()
    with pytest.raises(PrompteurError, match="schema version 999, newer"):
        Store(url)


def test_the_first_schema_still_opens(tmp_path: Path) -> None:
    """A store written by the first schema (tests/fixtures/store-v1.db) is read by today's."""
    copy = tmp_path / "old.db"
    shutil.copy(FIXTURES / "store-v1.db", copy)
    store = Store(f"sqlite:///{copy}")
    (info,) = store.runs()
    assert info.suite_name == "Extract order numbers from support messages"
    assert info.done == 40
    summary = store.summary(info.id)
    assert [(g.prompt_id, g.passed) for g in summary.groups] == [("ask", 0), ("few-shot", 18)]
    first = next(store.results(info.id))
    assert first.output
    assert first.assertions
    store.close()


JUDGE = """
import json

def call_api(prompt, options, context):
    return json.dumps({"pass": True, "score": 1, "reason": "fine"})
"""

# Secrets a suite may hold, each in another place; some look like keys, others are found
# only by their names.
SECRETS = {
    "env": "sk-env-0123456789abcdef",
    "env_plain": "plain-value-in-env",
    "environment": "sk-from-the-environment",
    "config": "sk-in-the-config-0123",
    "header": "Bearer header-secret-0123",
    "nested": "nested-password-xyzzy",
    "assertion": "assertion-grader-key-abc",
    "default": "default-grader-key-def",
}

SECRET_SUITE = f"""
description: secrets
env:
  OPENAI_API_KEY: {SECRETS["env"]}
  SOME_SETTING: {SECRETS["env_plain"]}
prompts: ["say {{{{word}}}}"]
providers:
  - id: openai:chat:m
    label: a
    config:
      apiBaseUrl: http://127.0.0.1:9/v1
      apiKey: {SECRETS["config"]}
      max_tokens: 17
      headers: {{Authorization: "{SECRETS["header"]}", X-Team: platform}}
      extra_body: {{auth: {{password: {SECRETS["nested"]}}}}}
  - id: echo
    config: {{private_key: {SECRETS["nested"]}}}
defaultTest:
  options:
    provider: {{id: file://judge.py, config: {{apiKey: {SECRETS["default"]}}}}}
tests:
  - vars: {{word: hi}}
    assert:
      - type: llm-rubric
        value: says hi
        provider: {{id: file://judge.py, config: {{token: {SECRETS["assertion"]}}}}}
      - type: llm-rubric
        value: friendly
"""


def _database_text(url: str, tmp_path: Path) -> bytes:
    """Everything the store holds, as bytes: the SQLite files, or every PostgreSQL row."""
    if url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    store = Store(url)
    with store.engine.connect() as conn:
        rows = [
            value
            for table in tables.metadata.sorted_tables
            for value in conn.exec_driver_sql(f"SELECT t::text FROM {table.name} t").scalars()
        ]
    store.close()
    return "\n".join(rows).encode()


def test_secrets_never_reach_the_store_or_a_report(
    store_url: str,
    tmp_path: Path,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRETS["environment"])
    write("judge.py", JUDGE)
    reports = ["r.json", "r.jsonl", "r.csv", "r.xml", "r.md", "r.html"]
    outputs = [arg for name in reports for arg in ("-o", name)]
    with serving(FaultServer()) as failing:  # provider a answers every call with a 500
        failing.script(*[status(500)] * 10)
        write("suite.yaml", SECRET_SUITE.replace("http://127.0.0.1:9/v1", f"{failing.url}/v1"))
        result = run_cli(
            "eval", "suite.yaml", "--db", store_url, "--no-progress", "--max-retries", "0", *outputs
        )
    assert result.exit_code == 1, result.output
    shown = run_cli("show", "latest", "--db", store_url, "-o", "again.html", "-o", "again.json")
    assert shown.exit_code == 1
    data = _database_text(store_url, tmp_path)
    texts = {
        name: (tmp_path / name).read_bytes() for name in [*reports, "again.html", "again.json"]
    }
    texts["database"] = data
    for where, kept in texts.items():
        for what, secret in SECRETS.items():
            assert secret.encode() not in kept, f"the {what} secret is in {where}"
        assert b"sk-" not in kept, where
    assert failing.url.encode() in data  # the endpoint is part of the provider's identity
    store = Store(store_url)
    with store.engine.connect() as conn:
        (content,) = conn.execute(select(tables.suites.c.content)).scalars().all()
        identities = conn.execute(select(tables.providers.c.identity)).scalars().all()
    store.close()
    import json

    suite = json.loads(content)
    assert suite["env"] == {"OPENAI_API_KEY": "[redacted]", "SOME_SETTING": "[redacted]"}
    config = suite["providers"][0]["config"]
    assert config["max_tokens"] == 17, "a token count is not a secret"
    assert config["headers"] == {"Authorization": "[redacted]", "X-Team": "platform"}
    assert config["apiKey"] == "[redacted]"
    assert suite["defaultTest"]["options"]["provider"]["config"] == {"apiKey": "[redacted]"}
    assert suite["tests"][0]["assert"][0]["provider"]["config"] == {"token": "[redacted]"}
    openai = next(i for i in identities if i["id"] == "openai:chat:m")
    assert openai["extra_body"] == {"auth": {"password": "[redacted]"}}
    assert openai["params"]["max_tokens"] == 17


WRITER = """
import sys, time
from pathlib import Path

import prompteur
from prompteur.store import Store, StoreSink

url, cases = sys.argv[1], int(sys.argv[2])
suite = {
    "description": "concurrent",
    "prompts": ["item {{n}}"],
    "providers": ["echo"],
    "tests": [{"vars": {"n": n}, "assert": [{"type": "contains", "value": "item"}]}
              for n in range(cases)],
}
plan = prompteur.plan_suite(suite)
import os
Path(f"ready-{os.getpid()}").touch()
while not Path("go").exists():  # all four start together, migrations included
    time.sleep(0.005)
store = Store(url)
sink = StoreSink(store, plan, suite_name="concurrent", batch_size=25, flush_seconds=0.002)
prompteur.evaluate(plan, sinks=[sink], cache=False, keep_results=False)
store.close()
"""


def test_four_processes_write_one_store_at_once(
    store_url: str, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("writer.py", WRITER)
    cases = 3000
    processes = [
        subprocess.Popen(
            [sys.executable, "writer.py", store_url, str(cases)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    # each is ready (imported and planned) before any starts: slow starters do not miss it
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err + out
    store = Store(store_url)
    runs = store.runs()
    assert len(runs) == 4
    planned = {f"0:0:{n}:0" for n in range(cases)}
    for info in runs:
        assert (info.status, info.done, info.passed) == ("finished", cases, cases)
        assert store.cell_keys(info.id) == planned
    assert max(i.started_at for i in runs) < min(i.finished_at or 0 for i in runs), "at once"
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.results)).scalar() == 4 * cases
        assert conn.execute(select(func.count()).select_from(tables.cases)).scalar() == cases
    store.close()
    if store_url.startswith("sqlite"):
        import sqlite3

        plain = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",), "kept in the file"
        plain.close()


def test_database_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prompteur.store import store_url

    assert store_url("runs.db") == "sqlite:///runs.db"
    assert store_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("PROMPTEUR_DB", "sqlite:///from-env.db")
    assert store_url(None) == "sqlite:///from-env.db"
    monkeypatch.delenv("PROMPTEUR_DB")
    assert store_url(None) == f"sqlite:///{tmp_path / '.prompteur' / 'prompteur.db'}"
    with pytest.raises(PrompteurError, match="unsupported database 'mysql'"):
        Store("mysql://root@127.0.0.1/test")


def test_the_suite_as_written_is_kept_with_its_runs(
    store_url: str, upper_provider: None, write: Callable[[str, str], Path]
) -> None:
    text = "description: kept\nprompts: ['Shout {{w}}']\nproviders: ['python:upper.py:call_api']\ntests:\n  - vars: {w: a}\n"
    write("kept.yaml", text)
    first = prompteur.evaluate("kept.yaml", store=store_url)
    second = prompteur.evaluate("kept.yaml", store=store_url)
    store = Store(store_url)
    with store.engine.connect() as conn:
        suites = conn.execute(select(tables.suites.c.content)).scalars().all()
        ids = (
            conn.execute(
                select(tables.runs.c.suite_id).where(
                    tables.runs.c.id.in_([first.run_id, second.run_id])
                )
            )
            .scalars()
            .all()
        )
    assert len(suites) == 1
    import json

    kept = json.loads(suites[0])
    assert kept["description"] == "kept"
    assert kept["prompts"] == [{"raw": "Shout {{w}}"}]
    assert kept["tests"] == [{"vars": {"w": "a"}, "assert": [], "metadata": {}}]
    assert len(set(ids)) == 1
    store.close()


@pytest.mark.parametrize("fixture", ["store-v1.db", "store-v2.db"])
def test_an_old_store_brought_forward_matches_a_new_one(fixture: str, tmp_path: Path) -> None:
    from sqlalchemy import inspect

    copy = tmp_path / "old.db"
    shutil.copy(FIXTURES / fixture, copy)
    old, new = Store(f"sqlite:///{copy}"), Store(f"sqlite:///{tmp_path / 'new.db'}")

    def shape(store: Store) -> dict[str, set[str]]:
        with store.engine.connect() as conn:
            inspector = inspect(conn)
            return {
                name: {c["name"] for c in inspector.get_columns(name)}
                for name in inspector.get_table_names()
            }

    assert shape(old) == shape(new)
    with old.engine.connect() as conn:
        versions = conn.execute(select(tables.schema_version.c.version)).scalars().all()
    assert versions == [version for version, _ in MIGRATIONS]  # numbers may skip (branches)
    old.close()
    new.close()


def test_the_second_schema_still_opens(tmp_path: Path) -> None:
    """A store written by schema 2 (tests/fixtures/store-v2.db): a finished run with a
    registered prompt and a human verdict, and a run killed after it stored 4 of its 6
    cells, whose counters schema 2 never wrote."""
    copy = tmp_path / "v2.db"
    shutil.copy(FIXTURES / "store-v2.db", copy)
    store = Store(f"sqlite:///{copy}")
    killed, finished = store.runs()
    assert (killed.status, killed.done, killed.passed, killed.failed) == ("interrupted", 4, 2, 2)
    assert killed.total_cells == 6 and killed.heartbeat_at is None
    assert (finished.status, finished.done, finished.passed) == ("finished", 6, 3)
    assert finished.human == 1 and finished.final_passed == 4
    assert finished.registered == [None, ("greet", 1)]
    assert [(g.prompt_id, g.passed) for g in store.summary(finished.id).groups] == [
        ("plain", 2),
        ("greet", 2),
    ]
    store.close()


@pytest.mark.parametrize(
    "where",
    ["refused", "password", "text file", "folder", "impossible path"],
)
def test_a_store_that_cannot_be_opened_is_one_line(
    where: str, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    (tmp_path / "notdb.db").write_text("these are my notes, not a database\n" * 100)
    url, reason = {
        "refused": ("postgresql://nobody@127.0.0.1:1/x", "127.0.0.1:1/x: connection failed"),
        "password": ("postgresql://nobody:pw-s3cret@127.0.0.1:1/x", "nobody:***@127.0.0.1:1/x"),
        "text file": ("notdb.db", "file is not a database"),
        "folder": (str(tmp_path), "is a folder, not a database file"),
        "impossible path": ("/proc/x/y.db", "No such file or directory: /proc/x"),
    }[where]
    result = run_cli("runs", "--db", url)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot open the store at ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert reason in result.stderr
    assert "pw-s3cret" not in result.stderr
    assert (tmp_path / "notdb.db").read_text().startswith("these are my notes"), "left alone"


def test_a_database_that_does_not_exist(postgres_url: str, run_cli: Callable[..., Result]) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    result = run_cli("runs", "--db", missing)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert 'database "no_such_database" does not exist' in result.stderr
    with pytest.raises(StoreError, match="cannot open the store at postgresql"):
        Store(missing)


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql+asyncpg://nobody:pw-s3cret@127.0.0.1:1/x", "asyncpg"),
        ("postgresql+pg8000://nobody@127.0.0.1:1/x", "pg8000"),
        ("sqlite+pysqlcipher:///secret.db", "pysqlcipher"),
        ("sqlite+aiosqlite:///runs.db", "aiosqlite"),
    ],
)
def test_a_driver_prompteur_does_not_use_is_one_line(
    url: str, driver: str, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("runs", "--db", url)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: unsupported database driver '{driver}' in ")
    assert result.stderr.count("\n") == 1, result.stderr
    expected = "postgresql://USER@HOST/DB" if url.startswith("postgresql") else "sqlite:///PATH"
    assert f"write {expected}" in result.stderr
    assert "pw-s3cret" not in result.stderr
    assert not list(tmp_path.glob("*.db")), "nothing created"


def test_a_psycopg2_url_reaches_postgresql_through_psycopg_3(
    postgres_url: str, run_cli: Callable[..., Result]
) -> None:
    from prompteur.store import store_url

    assert store_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg://u@h/db"
    url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    result = run_cli("runs", "--db", url)
    assert result.exit_code == 0, result.output
    assert "no runs in postgresql+psycopg://" in result.stdout
