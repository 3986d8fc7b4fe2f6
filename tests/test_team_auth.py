"""The team server's rules: every route × every role, 401 and 403 as JSON, CSRF, login
rate limiting, hashed passwords and tokens, and the audit log of ratings, label moves and
deletions."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from prompteur.store import Store
from prompteur.store._team import Team
from prompteur.store._team_schema import api_tokens, sessions, users
from prompteur.web._app import create_app
from prompteur.web._auth import CSRF_COOKIE, SESSION_COOKIE, Role

PUBLIC = None
V, R, E, A = Role.VIEWER, Role.REVIEWER, Role.EDITOR, Role.ADMIN

#: The issue's rules, route by route: viewers read; reviewers also rate and comment;
#: editors also manage prompts, queues and runs; admins also users (and `production`,
#: tested apart). A route missing here fails test_every_route_has_a_rule.
RULES: dict[tuple[str, str], Role | None] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("POST", "/logout"): V,
    ("GET", "/"): V,
    ("GET", "/api/openapi.json"): V,
    ("GET", "/api/me"): V,
    # runs
    ("GET", "/api/runs"): V,
    ("GET", "/runs"): V,
    ("GET", "/api/runs/{run}"): V,
    ("DELETE", "/api/runs/{run}"): E,
    ("GET", "/api/runs/{run}/cells"): V,
    ("GET", "/api/runs/{run}/cells/count"): V,
    ("GET", "/api/runs/{run}/cells/{cell}"): V,
    ("GET", "/runs/{run}"): V,
    ("GET", "/runs/{run}/cells/{cell}"): V,
    # compare and history
    ("GET", "/api/compare"): V,
    ("GET", "/compare"): V,
    ("GET", "/api/history"): V,
    ("GET", "/history"): V,
    # prompts
    ("GET", "/api/prompts"): V,
    ("GET", "/api/prompts/{name}"): V,
    ("POST", "/api/prompts/{name}/versions"): E,
    ("POST", "/api/prompts/{name}/labels"): E,
    ("GET", "/prompts"): V,
    ("GET", "/prompts/{name}"): V,
    # review
    ("POST", "/api/runs/{run}/cells/{cell}/ratings"): R,
    ("POST", "/api/runs/{run}/cells/{cell}/comments"): R,
    ("GET", "/api/queues"): V,
    ("POST", "/api/queues"): E,
    ("GET", "/api/queues/{queue}"): V,
    ("GET", "/review"): V,
    ("GET", "/review/{queue}"): V,
    # the team: users are for admins, each user manages their own tokens
    ("GET", "/api/team/users"): A,
    ("POST", "/api/team/users"): A,
    ("PUT", "/api/team/users/{name}/role"): A,
    ("DELETE", "/api/team/users/{name}"): A,
    ("GET", "/api/team/tokens"): V,
    ("POST", "/api/team/tokens"): V,
    ("DELETE", "/api/team/tokens/{token_id}"): V,
    ("GET", "/api/audit"): A,
    # what `prompteur --server` calls: reading, rating, recording runs
    ("GET", "/api/sync/runs"): V,
    ("GET", "/api/sync/runs/{ref}"): V,
    ("GET", "/api/sync/runs/{run_id}/results"): V,
    ("GET", "/api/sync/runs/{run_id}/outcomes"): V,
    ("POST", "/api/sync/runs/{run_id}/ratings"): R,
    ("POST", "/api/sync/runs"): E,
    ("POST", "/api/sync/runs/{run_id}/cells"): E,
    ("POST", "/api/sync/runs/{run_id}/finish"): E,
    ("GET", "/api/sync/prompts/{ref}"): V,
}

PEOPLE = {"vic": "viewer", "rev": "reviewer", "ed": "editor", "ann": "admin"}
PASSWORD = "correct horse battery"


def app_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every (method, path) the app answers, included routers and mounts too."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from app_routes(original.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods") and route.methods:
            for method in sorted(route.methods - {"HEAD"}):
                yield method, prefix + route.path
        else:  # a mount: static files
            yield "GET", prefix + route.path


@pytest.fixture(scope="module")
def team_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one user of each role, made once: argon2 is slow on purpose."""
    path = tmp_path_factory.mktemp("team") / "team.db"
    store = Store(f"sqlite:///{path}")
    team = Team(store)
    for name, role in PEOPLE.items():
        team.add_user(name, PASSWORD, role)
    store.close()
    return path


@pytest.fixture
def team_db(team_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "team.db"
    shutil.copyfile(team_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def client(team_db: str) -> Iterator[TestClient]:
    with TestClient(create_app(team_db, team=True)) as test_client:
        yield test_client


@pytest.fixture
def tokens(team_db: str) -> dict[str, str]:
    team = Team(Store(team_db))
    return {role: team.create_token(name)[1] for name, role in PEOPLE.items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def concrete(path: str) -> str:
    """A path with its parameters filled by values that name nothing in the store."""
    if path == "/static":
        return "/static/nothing.css"
    path = path.replace("{cell}", "0:0:0:0")
    return re.sub(r"\{[^}]+\}", "nothing-here", path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return client.request(method, concrete(path), json=body, headers=headers)


def test_every_route_has_a_rule(client: TestClient) -> None:
    served = set(app_routes(client.app.routes))  # type: ignore[attr-defined]
    assert served - set(RULES) == set(), "routes without a rule: add them to RULES"
    assert set(RULES) - served == set(), "rules for routes that do not exist"


def test_every_route_refuses_the_roles_below_its_rule(
    client: TestClient, tokens: dict[str, str]
) -> None:
    checked = 0
    for (method, path), needed in RULES.items():
        for role in Role:
            response = call(client, method, path, bearer(tokens[role.name.lower()]))
            where = f"{method} {path} as {role.name.lower()}"
            if needed is not None and role < needed:
                assert response.status_code == 403, (where, response.text)
                assert needed.name.lower() in response.json()["error"], where
            else:
                assert response.status_code not in (401, 403), (where, response.text)
            checked += 1
    assert checked == 4 * len(RULES)


def test_every_route_but_the_public_ones_needs_a_signed_in_user(client: TestClient) -> None:
    for (method, path), needed in RULES.items():
        response = call(client, method, path, {"Accept": "application/json"})
        if needed is None:
            assert response.status_code not in (401, 403), (method, path)
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/json"
        assert "sign in" in response.json()["error"]


def test_a_browser_asking_for_a_page_goes_to_the_login_page(client: TestClient) -> None:
    response = client.get(
        "/runs?suite=a b", headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fruns%3Fsuite%3Da%2520b"
    assert "<form" in client.get(response.headers["location"]).text


def test_a_revoked_or_unknown_token_is_refused(
    client: TestClient, team_db: str, tokens: dict[str, str]
) -> None:
    assert client.get("/api/me", headers=bearer(tokens["viewer"])).json() == {
        "name": "vic",
        "role": "viewer",
    }
    token_id = tokens["viewer"].split("_")[1]
    Team(Store(team_db)).revoke_token(token_id)
    refused = client.get("/api/me", headers=bearer(tokens["viewer"]))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]
    forged = tokens["editor"][:-4] + "AAAA"
    assert client.get("/api/me", headers=bearer(forged)).status_code == 401


def test_only_admins_move_the_production_label(client: TestClient, tokens: dict[str, str]) -> None:
    added = client.post(
        "/api/prompts/answer/versions",
        json={"template": "Answer: {{q}}"},
        headers=bearer(tokens["editor"]),
    )
    assert added.status_code == 201, added.text
    move = {"label": "production", "version": 1}
    refused = client.post("/api/prompts/answer/labels", json=move, headers=bearer(tokens["editor"]))
    assert refused.status_code == 403
    assert "error" in refused.json()
    staging = {"label": "staging", "version": 1}
    done = client.post("/api/prompts/answer/labels", json=staging, headers=bearer(tokens["editor"]))
    assert done.status_code == 200, done.text
    done = client.post("/api/prompts/answer/labels", json=move, headers=bearer(tokens["admin"]))
    assert done.status_code == 200, done.text


# --- sessions, CSRF, rate limiting --------------------------------------------------------------


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"name": name, "password": password, "csrf_token": csrf[1], "next": "/runs"}
    return client.post("/login", data=form, follow_redirects=False)


def test_a_session_is_an_httponly_samesite_cookie(client: TestClient) -> None:
    response = login(client, "ed")
    assert response.status_code == 303
    assert response.headers["location"] == "/runs"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert client.get("/api/me").json() == {"name": "ed", "role": "editor"}


def test_changes_by_cookie_need_the_csrf_token(client: TestClient) -> None:
    assert login(client, "vic").status_code == 303
    csrf = client.cookies[CSRF_COOKIE]
    refused = client.post("/api/team/tokens", json={"label": "x"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    wrong = client.post("/api/team/tokens", json={"label": "x"}, headers={"X-CSRF-Token": "no"})
    assert wrong.status_code == 403
    odd = client.post("/logout", data={"csrf_token": "été"}, follow_redirects=False)
    assert odd.status_code == 403  # refused, not a server error
    made = client.post("/api/team/tokens", json={"label": "x"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    # a form carries it as a field
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/api/me").status_code == 401


def test_a_signed_in_browser_gets_the_pages(client: TestClient) -> None:
    assert login(client, "rev").status_code == 303
    page = client.get("/runs", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "rev" in page.text


def test_a_form_without_its_csrf_field_is_refused(client: TestClient) -> None:
    assert login(client, "vic").status_code == 303
    refused = client.post("/logout", data={"other": "x"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/api/me").json()["name"] == "vic"  # still signed in


def test_the_login_form_itself_needs_its_csrf_token(client: TestClient) -> None:
    form = {"name": "ed", "password": PASSWORD, "csrf_token": "made-up"}
    refused = client.post("/login", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert SESSION_COOKIE not in refused.cookies


def test_logins_are_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        assert login(client, "ed", "wrong password").status_code == 401
    limited = login(client, "ed")  # the right password, too late
    assert limited.status_code == 429
    assert "too many failed logins" in limited.json()["error"]
    assert int(limited.headers["Retry-After"]) > 0
    assert login(client, "rev").status_code == 303  # others still sign in


def test_the_login_redirects_only_to_this_server(client: TestClient) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"name": "ed", "password": PASSWORD, "csrf_token": csrf[1], "next": "//evil.test/x"}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.headers["location"] == "/"


# --- secrets at rest ----------------------------------------------------------------------------


def test_passwords_tokens_and_sessions_are_stored_hashed(
    client: TestClient, team_db: str, tokens: dict[str, str]
) -> None:
    login(client, "ann")
    session_id = client.cookies[SESSION_COOKIE]
    engine = Store(team_db).engine
    with engine.connect() as conn:
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
        secrets = conn.execute(select(api_tokens.c.secret_hash)).scalars().all()
        session_ids = conn.execute(select(sessions.c.id_hash)).scalars().all()
    assert len(hashes) == 4
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    dump = "\n".join(list(engine.raw_connection().iterdump()))  # the whole database
    assert PASSWORD not in dump
    for token in tokens.values():
        assert token.split("_", 2)[2] not in dump
    assert session_id not in dump
    assert len(secrets) == 4
    assert len(session_ids) == 1


def test_a_token_is_shown_once(
    team_db: str, run_cli: Callable[..., Result], client: TestClient
) -> None:
    made = run_cli("tokens", "create", "rev", "--label", "laptop", "--db", team_db)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("pt_")
    listed = run_cli("tokens", "list", "--db", team_db)
    assert token.split("_")[1] in listed.output  # its id
    assert token not in listed.output
    assert token.split("_", 2)[2] not in listed.output
    assert client.get("/api/me", headers=bearer(token)).json()["name"] == "rev"
    by_api = client.get("/api/team/tokens", headers=bearer(token)).json()
    assert [t["label"] for t in by_api] == ["laptop"]
    assert token not in str(by_api)


def test_users_from_the_command_line(team_db: str, run_cli: Callable[..., Result]) -> None:
    runner_input = "a long enough password\n"
    from click.testing import CliRunner

    from prompteur.cli import cli

    added = CliRunner().invoke(
        cli, ["users", "add", "zoe", "--role", "reviewer", "--db", team_db], input=runner_input
    )
    assert added.exit_code == 0, added.output
    assert Team(Store(team_db)).check_password("zoe", "a long enough password") is not None
    assert "zoe\treviewer" in run_cli("users", "list", "--db", team_db).output
    assert run_cli("users", "set-role", "zoe", "editor", "--db", team_db).exit_code == 0
    assert Team(Store(team_db)).user("zoe").role == "editor"  # type: ignore[union-attr]
    short = CliRunner().invoke(
        cli, ["users", "add", "max", "--role", "viewer", "--db", team_db], input="short\n"
    )
    assert short.exit_code == 2
    assert short.output.strip().startswith("error: a password has at least 8")
    again = CliRunner().invoke(
        cli, ["users", "add", "zoe", "--role", "viewer", "--db", team_db], input=runner_input
    )
    assert again.exit_code == 2
    assert "exists already" in again.output
    assert run_cli("users", "remove", "zoe", "--db", team_db).exit_code == 0
    assert "zoe" not in run_cli("users", "list", "--db", team_db).output


def test_the_last_admin_is_neither_demoted_nor_removed(
    client: TestClient, tokens: dict[str, str], team_db: str, run_cli: Callable[..., Result]
) -> None:
    admin = bearer(tokens["admin"])
    for refused in (
        client.put("/api/team/users/ann/role", json={"role": "editor"}, headers=admin),
        client.delete("/api/team/users/ann", headers=admin),
    ):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert "last admin" in refused.json()["error"]
    assert Team(Store(team_db)).user("ann").role == "admin"  # type: ignore[union-attr]
    for args in (["set-role", "ann", "viewer"], ["remove", "ann"]):
        said = run_cli("users", *args, "--db", team_db)
        assert said.exit_code != 0
        assert said.output.strip().splitlines() == [
            f"error: cannot {'demote' if args[0] == 'set-role' else 'remove'} 'ann': the "
            "team's last admin (make another admin first)"
        ]
    # with a second admin, either may step down
    made = client.put("/api/team/users/ed/role", json={"role": "admin"}, headers=admin)
    assert made.status_code == 200
    assert client.delete("/api/team/users/ann", headers=admin).status_code == 200
    assert run_cli("users", "set-role", "ed", "viewer", "--db", team_db).exit_code != 0
    assert [(a.name, a.role) for a in Team(Store(team_db)).users() if a.role == "admin"] == [
        ("ed", "admin")
    ]


# --- the audit log ------------------------------------------------------------------------------

SUITE = """
description: audited
prompts: ["{{word}}"]
providers: [echo]
tests:
  - vars: {word: apple}
    assert: [{type: contains, value: apple}]
  - vars: {word: pear}
    assert: [{type: contains, value: apple}]
"""


def test_ratings_label_moves_and_deletions_are_audited(
    client: TestClient,
    team_db: str,
    tokens: dict[str, str],
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
) -> None:
    write("prompteur.yaml", SUITE)
    assert run_cli("eval", "--no-progress", "--db", team_db).exit_code == 1
    run_id = Store(team_db).runs(limit=1)[0].id
    rated = client.post(
        f"/api/runs/{run_id}/cells/0:0:1:0/ratings",
        json={"verdict": "pass", "comment": "fine"},
        headers=bearer(tokens["reviewer"]),
    )
    assert rated.status_code == 201, rated.text
    client.post(
        "/api/prompts/answer/versions", json={"template": "A"}, headers=bearer(tokens["editor"])
    )
    moved = client.post(
        "/api/prompts/answer/labels",
        json={"label": "production", "version": 1},
        headers=bearer(tokens["admin"]),
    )
    assert moved.status_code == 200, moved.text
    deleted = client.delete(f"/api/runs/{run_id}", headers=bearer(tokens["editor"]))
    assert deleted.status_code == 200, deleted.text
    log = client.get("/api/audit", headers=bearer(tokens["admin"])).json()
    seen = [(e["actor"], e["action"], e["target"]) for e in reversed(log)]
    assert ("rev", "rate", f"{run_id}/0:0:1:0") in seen
    assert ("ann", "move label", "answer@production") in seen
    assert ("ed", "delete run", run_id) in seen
    assert seen.index(("rev", "rate", f"{run_id}/0:0:1:0")) < seen.index(
        ("ed", "delete run", run_id)
    )
    shown = run_cli("audit", "--db", team_db)
    assert "rev  rate" in shown.output
    assert "ed  delete run" in shown.output


def test_local_mode_needs_no_login(tmp_path: Path) -> None:
    local_app = create_app(f"sqlite:///{tmp_path / 'local.db'}", team=False)
    with TestClient(local_app, base_url="http://127.0.0.1") as local:
        assert local.get("/api/runs").status_code == 200
        assert local.get("/login").status_code == 404
        assert local.delete("/api/runs/nothing").status_code == 404  # allowed, just absent


def test_cells_sent_to_the_server_are_checked_and_a_finished_run_stays_shut(
    client: TestClient,
    team_db: str,
    tokens: dict[str, str],
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
) -> None:
    write("prompteur.yaml", SUITE)
    assert run_cli("eval", "--no-progress", "--db", team_db).exit_code == 1
    run_id = Store(team_db).runs(limit=1)[0].id  # finished
    path = f"/api/sync/runs/{run_id}/cells"
    editor = bearer(tokens["editor"])
    for body, problem in (
        ({"rows": [{"run_id": run_id, "status": "maybe"}]}, "missing"),
        ({"rows": [{"run_id": run_id}], "duration_s": "soon"}, "duration_s"),
        ({"rows": "all of them"}, "rows"),
    ):
        refused = client.post(path, json=body, headers=editor)
        assert refused.status_code == 422, refused.text
        assert problem in refused.json()["error"]
    late = client.post(path, json={"rows": []}, headers=editor)
    assert late.status_code == 409 and "not being recorded" in late.json()["error"]


def test_a_run_beating_through_any_worker_stays_running(
    client: TestClient,
    team_db: str,
    tokens: dict[str, str],
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
) -> None:
    """With `serve --workers`, a --server run's start, cells and beats reach any worker;
    each beat records the pid of the worker that took it, which must then know the run is
    written through it (else it judges the run's writer gone)."""
    from sqlalchemy import update

    from prompteur.store import _schema as t
    from prompteur.store._liveness import writing_here

    write("prompteur.yaml", SUITE)
    run_cli("eval", "--no-progress", "--db", team_db)
    store = Store(team_db)
    run_id = store.runs(limit=1)[0].id
    with store.engine.begin() as conn:  # as if its start had reached another worker
        conn.execute(
            update(t.runs).where(t.runs.c.id == run_id).values(status="running", finished_at=None)
        )
    store.close()
    editor = bearer(tokens["editor"])
    try:
        beat = client.post(f"/api/sync/runs/{run_id}/cells", json={"rows": []}, headers=editor)
        assert beat.status_code == 200, beat.text
        shown = client.get(f"/api/sync/runs/{run_id}", headers=editor).json()
        assert shown["status"] == "running"
    finally:
        writing_here.discard(run_id)
