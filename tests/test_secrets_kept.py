"""Secrets planted everywhere a suite, a model or a server can put them: the model still
gets what the prompt asks for, and neither the store (every byte of its file) nor any
report keeps one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from .servers import FaultServer, serving, status

ENV_KEY = "envkey-Zq81-plain"  # looks like nothing: known only as the provider's key
URL_PASSWORD = "urlpass-Yw27"
LABEL_PASSWORD = "labelpass-Qw12"
PLANTED = {
    "password": "pw-Hx91-secret",
    "api_key": "ak-Jm44-plain",
    "token": "tk-Lp02-plain",
    "credential": "cr-Vb63-plain",
    "note": "token=sk-note0123456789abcd",
}
META_SECRET = "ms-Rt55-plain"
DESCRIPTION_KEY = "sk-desc0123456789abcdef"
PROMPT_KEY = "sk-prompt0123456789abcd"
FORMATS = ("json", "jsonl", "csv", "xml", "md", "html")


def _found(text: bytes) -> list[str]:
    needles = [
        ENV_KEY,
        URL_PASSWORD,
        LABEL_PASSWORD,
        META_SECRET,
        DESCRIPTION_KEY,
        PROMPT_KEY,
        "sk-note0123456789abcd",
        *(v for k, v in PLANTED.items() if k != "note"),
    ]
    return [n for n in needles if n.encode() in text]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving(FaultServer()) as running:
        assert isinstance(running, FaultServer)
        yield running


def test_no_planted_secret_reaches_the_store_or_a_report(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: FaultServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("PROMPTEUR_DB", f"sqlite:///{tmp_path / 'store.db'}")
    echoed = {"error": {"message": f"Incorrect API key provided: {ENV_KEY}", "type": "auth"}}
    server.script(status(401, echoed))
    base_url = f"http://user:{URL_PASSWORD}@127.0.0.1:{server.port}/v1"
    variables = json.dumps(PLANTED)
    write(
        "suite.yaml",
        f"""
        description: "suite of {DESCRIPTION_KEY}"
        prompts:
          - "Log in with {{{{password}}}}, {{{{api_key}}}}, {{{{token}}}}, {{{{credential}}}}; {{{{note}}}}"
          - "Log in: use {PROMPT_KEY} for {{{{password}}}}"
        providers:
          - {{id: "openai:chat:m", config: {{apiBaseUrl: "{server.url}/v1"}}}}
          - {{id: "openai:chat:m", label: creds, config: {{apiBaseUrl: "{base_url}"}}}}
          - {{id: echo, label: "echo https://u:{LABEL_PASSWORD}@h"}}
        tests:
          - description: "uses {DESCRIPTION_KEY}"
            vars: {variables}
            metadata: {{secret: {META_SECRET}, owner: team-a}}
            assert: [{{type: contains, value: "{{{{password}}}}"}}]
          - vars: {variables}
            assert: [{{type: icontains, value: "log in"}}]
        """,
    )
    outputs = [arg for f in FORMATS for arg in ("-o", f"report.{f}")]
    result = run_cli("eval", "suite.yaml", "--no-progress", "-j", "1", *outputs)
    assert _found(result.output.encode()) == [], result.output
    reports = {f: (tmp_path / f"report.{f}").read_bytes() for f in FORMATS}
    # the model got the password the prompt asked for: the echo's cells pass
    data = json.loads(reports["json"])
    statuses = [(r["provider"], r["status"]) for r in data["results"]]
    assert statuses.count(("echo https://u:[redacted]@h", "pass")) == 4, statuses
    assert statuses.count(("openai:chat:m", "pass")) == 3, statuses
    error = next(r["error"] for r in data["results"] if "401" in (r["error"] or ""))
    assert "[redacted]" in error
    for name, body in reports.items():
        assert _found(body) == [], name
    assert b"[redacted]" in reports["html"]
    store = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert store and _found(store) == []
    # and what the store replays
    shown = run_cli("show", "latest", "-o", "again.json", "-o", "again.md")
    assert _found(shown.output.encode()) == []
    for command in (["runs", "--json"], ["runs"], ["history", "suite.yaml"]):
        listed = run_cli(*command)
        assert listed.exit_code in (0, 1) and _found(listed.output.encode()) == [], command
    for name in ("again.json", "again.md"):
        assert _found((tmp_path / name).read_bytes()) == [], name


def test_a_refused_setting_is_quoted_without_its_password(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "suite.yaml",
        """
        prompts: ["{{q}}"]
        providers:
          - {id: "openai:chat:m", config: {apiBaseUrl: "ftp://user:urlpass-Yw27@127.0.0.1/v1", apiKey: x}}
        tests: [{vars: {q: a}}]
        """,
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert URL_PASSWORD not in result.output
    assert "user:[redacted]@127.0.0.1" in result.stderr, result.stderr


def test_cells_that_carry_a_secret_are_not_cached(
    write: Callable[[str, str], Path], tmp_path: Path, server: FaultServer
) -> None:
    import prompteur

    suite = {
        "prompts": ["{{password}} {{q}}"],
        "providers": [{"id": "openai:chat:m", "config": {"apiBaseUrl": f"{server.url}/v1"}}],
        "tests": [
            {"vars": {"password": "pw-Hx91-secret", "q": "a"}},
            {"vars": {"password": "", "q": "b"}},
        ],
    }
    store = f"sqlite:///{tmp_path / 'store.db'}"
    first = prompteur.evaluate(suite, store=store)
    assert sorted(r.output or "" for r in first.results) == [" b", "[redacted] a"]
    again = prompteur.evaluate(suite, store=store)
    cached = {r.test_index: r.cached for r in again.results}
    assert cached == {0: False, 1: True}
    assert b"pw-Hx91-secret" not in (tmp_path / "store.db").read_bytes()


def test_a_judges_key_echoed_in_its_error_is_not_kept(
    write: Callable[[str, str], Path], tmp_path: Path, server: FaultServer
) -> None:
    import prompteur

    judge_key = "judgekey-plain-77"
    server.script(*[status(401, {"error": {"message": f"bad key {judge_key}"}})] * 2)
    judge = {
        "id": "openai:chat:j",
        "config": {"apiBaseUrl": f"{server.url}/v1", "apiKey": judge_key},
    }
    suite = {
        "prompts": ["{{q}}"],
        "providers": ["echo"],
        "tests": [
            {
                "vars": {"q": "a"},
                "assert": [{"type": "llm-rubric", "value": "ok", "provider": judge}],
            }
        ],
    }
    store = tmp_path / "store.db"
    result = prompteur.evaluate(
        suite, store=f"sqlite:///{store}", options=prompteur.EvalOptions(max_retries=0)
    )
    (cell,) = result.results
    assert cell.error is not None and "bad key [redacted]" in cell.error, cell.error
    assert judge_key.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))


JUDGE = """
import json, re

def call_api(prompt, options, context):
    quoted = re.search(r"pw-[A-Za-z0-9-]+", prompt)
    return json.dumps({"pass": True, "score": 1, "reason": "saw " + (quoted[0] if quoted else "none")})
"""


def test_a_judges_answer_quoting_a_secret_is_neither_cached_nor_kept(
    write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    import prompteur

    write("judge.py", JUDGE)
    suite = {
        "prompts": ["{{q}}"],
        "providers": ["echo"],
        "tests": [
            {
                "vars": {"q": "a", "password": PLANTED["password"]},
                "assert": [
                    {
                        "type": "llm-rubric",
                        "value": "uses {{password}}",
                        "provider": "file://judge.py",
                    }
                ],
            }
        ],
    }
    store = f"sqlite:///{tmp_path / 'store.db'}"
    for _ in range(2):
        (cell,) = prompteur.evaluate(suite, store=store).results
        assert cell.passed and cell.assertions[0].reason.endswith("saw [redacted]")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert PLANTED["password"].encode() not in stored
