"""The web application's JSON API on a real store (SQLite and PostgreSQL): runs, the grid
a page at a time with its filters, a cell whole, ratings and comments, review queues with
their agreement, comparisons, history and the prompt registry."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about its test client's transport
    from fastapi.testclient import TestClient

SUITE = """
description: fruit
prompts:
  - "I like {{fruit}}"
  - label: loud
    raw: "I LOVE {{fruit}}!!"
providers: [echo]
defaultTest:
  assert: [{type: icontains, value: berry, metric: berries}]
tests:
"""
FRUITS = [
    "apple",
    "cherry",
    "blueberry",
    "strawberry",
    "<script>window.__pwned = 1</script>",
    "plum",
    "gooseberry",
]


@pytest.fixture
def stored(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    cases = "".join(f"  - vars: {{fruit: {f!r}}}\n" for f in FRUITS * 10)
    write("prompteur.yaml", SUITE + cases)
    assert run_cli("eval", "--no-progress").exit_code == 1
    return store_url


@pytest.fixture
def client(stored: str) -> Iterator[TestClient]:
    from prompteur.web._app import create_app

    app = create_app(stored)
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
    app.state.store.close()


def latest(client: TestClient) -> dict[str, Any]:
    runs = client.get("/api/runs").json()
    assert len(runs) == 1
    return dict(runs[0])


def test_runs_list_their_pass_rate_with_its_interval(client: TestClient) -> None:
    run = latest(client)
    # berry in blueberry, strawberry, gooseberry: 3 of 7 fruits, for both prompts
    assert (run["done"], run["passed"], run["cells"]) == (140, 60, 140)
    low, high = run["interval"]
    assert low < 60 / 140 < high
    assert run["prompts"] == ["I like {{fruit}}", "loud"]
    assert client.get("/api/runs", params={"provider": "nothing"}).json() == []
    assert client.get("/api/runs", params={"prompt": "loud"}).json()[0]["id"] == run["id"]
    assert client.get("/api/runs", params={"status": "finished", "suite": "fruit"}).json()
    assert client.get("/api/runs", params={"since": "2999-01-01"}).json() == []
    assert client.get("/api/runs", params={"since": "yesterday"}).status_code == 422
    page = client.get("/runs", params={"since": "yesterday", "status": ""})
    assert page.status_code == 400 and "not a date" in page.text
    detail = client.get(f"/api/runs/{run['id']}").json()
    assert [(g["prompt"], g["passed"], g["done"]) for g in detail["groups"]] == [
        ("I like {{fruit}}", 30, 70),
        ("loud", 30, 70),
    ]


def test_the_grid_comes_a_page_at_a_time(client: TestClient) -> None:
    run = latest(client)["id"]
    first = client.get(f"/api/runs/{run}/cells", params={"offset": 0, "limit": 20}).json()
    second = client.get(f"/api/runs/{run}/cells", params={"offset": 20, "limit": 20}).json()
    assert first["total"] == 70
    assert [r["test"] for r in first["rows"]] == list(range(20))
    assert [r["test"] for r in second["rows"]] == list(range(20, 40))
    row = first["rows"][4]
    assert row["case"] == "fruit=<script>window.__pwned = 1</script>"
    assert [c["key"] for c in row["cells"]] == ["0:0:4:0", "1:0:4:0"]
    assert row["cells"][1]["output"] == "I LOVE <script>window.__pwned = 1</script>!!"
    last = client.get(f"/api/runs/{run}/cells", params={"offset": 60, "limit": 20}).json()
    assert len(last["rows"]) == 10


def test_grid_filters_search_and_sorting(client: TestClient) -> None:
    run = latest(client)["id"]

    def tests(**params: Any) -> list[int]:
        page = client.get(f"/api/runs/{run}/cells", params={"limit": 200, **params}).json()
        assert page["total"] == len(page["rows"])
        return [r["test"] for r in page["rows"]]

    berries = [i for i, f in enumerate(FRUITS * 10) if "berry" in f]
    assert tests(failures="true") == [i for i in range(70) if i not in berries]
    assert tests(q="GOOSE") == [i for i, f in enumerate(FRUITS * 10) if f == "gooseberry"]
    assert tests(q="100%") == []  # LIKE's wildcards are searched as text
    assert tests(metric="berries") == list(range(70))
    assert tests(metric="nothing") == []
    assert tests(differing="true") == []  # both prompts agree everywhere
    assert tests(sort="failures")[:10] == [i for i in range(70) if i not in berries][:10]
    client.post(f"/api/runs/{run}/cells/1:0:0:0/ratings", json={"verdict": "pass"})
    assert tests(rated="true") == [0]
    assert tests(differing="true") == [0]  # a person passed one side of an apple
    refused = client.get(f"/api/runs/{run}/cells", params={"sort": "sideways"})
    assert refused.status_code == 422


def test_a_cell_whole_with_its_verdicts_and_comments(client: TestClient) -> None:
    run = latest(client)["id"]
    rated = client.post(
        f"/api/runs/{run}/cells/0:0:1:0/ratings",
        json={"verdict": "pass", "score": 0.75, "comment": "a cherry is near enough"},
    )
    assert rated.status_code == 201, rated.text
    said = client.post(f"/api/runs/{run}/cells/0:0:1:0/comments", json={"text": "really?"})
    assert said.status_code == 201
    cell = client.get(f"/api/runs/{run}/cells/0:0:1:0").json()
    assert cell["rendered_prompt"] == "I like cherry"
    assert cell["output"] == "I like cherry"
    assert (cell["status"], cell["automatic"]) == ("pass", "fail")
    assert cell["assertions"][0]["reason"]
    assert [(r["pass"], r["score"], r["comment"]) for r in cell["ratings"]] == [
        (True, 0.75, "a cherry is near enough")
    ]
    assert [c["text"] for c in cell["comments"]] == ["really?"]
    assert cell["comments"][0]["author"] == cell["ratings"][0]["author"]
    # the store's other readers count the verdict too
    assert latest(client)["passed"] == 61
    missing = client.post(f"/api/runs/{run}/cells/9:9:9:9/ratings", json={"verdict": "fail"})
    assert missing.status_code == 404 and "no cell" in missing.json()["error"]
    assert client.get(f"/api/runs/{run}/cells/9:9:9:9").status_code == 404
    bad = client.post(f"/api/runs/{run}/cells/0:0:1:0/ratings", json={"verdict": "maybe"})
    assert bad.status_code == 422


def test_review_queue_progress_and_agreement(client: TestClient) -> None:
    run = latest(client)["id"]
    made = client.post(
        "/api/queues",
        json={
            "run": run,
            "name": "fails",
            "method": "failures",
            "size": 4,
            "reviewers": ["ana", "bo"],
        },
    )
    assert made.status_code == 201, made.text
    queue = made.json()
    assert (queue["cells"], queue["reviewers"]) == (4, ["ana", "bo"])
    state = client.get(f"/api/queues/{queue['id']}").json()
    cells = sorted({i["cell"] for i in state["items"]})
    assert cells == ["0:0:0:0", "0:0:1:0", "1:0:0:0", "1:0:1:0"]  # the first failing cases
    assert [p["done"] for p in state["progress"]] == [0, 0]
    # ana and bo rate through the store as the team server would let them
    from prompteur.store import Store

    store: Store = client.app.state.store  # type: ignore[attr-defined]
    for key, ana, bo in zip(
        cells, [True, False, False, False], [True, False, True, False], strict=True
    ):
        store.rate(run, key, passed=ana, author="ana")
        store.rate(run, key, passed=bo, author="bo")
    state = client.get(f"/api/queues/{queue['id']}").json()
    assert [p["done"] for p in state["progress"]] == [4, 4]
    between = {tuple(a["between"]): a for a in state["agreement"]}
    assert between[("ana", "bo")]["pairs"] == 4
    assert between[("ana", "bo")]["observed"] == 0.75
    assert between[("ana", "bo")]["kappa"] == pytest.approx(0.5)
    # against the automatic grade (all four failed): ana agrees on 3, bo on 2
    assert between[("ana", "judge")]["observed"] == 0.75
    assert between[("bo", "judge")]["observed"] == 0.5
    assert client.get("/api/queues", params={"mine": "true"}).json() == []  # not assigned to us


def test_compare_two_prompts_of_a_run(client: TestClient) -> None:
    run = latest(client)["id"]
    client.post(f"/api/runs/{run}/cells/1:0:0:0/ratings", json={"verdict": "pass"})
    result = client.get(
        "/api/compare", params={"a": run, "b": run, "prompt_a": "1", "prompt_b": "loud"}
    ).json()
    assert (result["pairs"], result["newly_passing_count"], result["newly_failing_count"]) == (
        70,
        1,
        0,
    )
    assert result["verdict"] == "no significant difference at this sample size"
    case = result["newly_passing"][0]
    assert (case["a"], case["b"]) == ("I like apple", "I LOVE apple!!")
    assert [kind for kind, _ in case["diff"] if kind != "same"][:2] == ["del", "ins"]
    same = client.get("/api/compare", params={"a": run, "b": run})
    assert same.status_code == 400


def test_history_and_registry(client: TestClient, run_cli: Callable[..., Result]) -> None:
    assert run_cli("eval", "--no-progress").exit_code == 1
    history = client.get("/api/history", params={"suite": "fruit"}).json()
    assert len(history["runs"]) == 2
    assert [line["rates"] for line in history["lines"]] == [[30 / 70, 30 / 70]] * 2
    assert client.get("/api/history", params={"suite": "nothing"}).status_code == 404
    added = client.post("/api/prompts/greeting/versions", json={"template": "Hello {{name}}"})
    assert added.json() == {"name": "greeting", "version": 1, "created": True}
    client.post("/api/prompts/greeting/versions", json={"template": "Hello there {{name}}"})
    moved = client.post("/api/prompts/greeting/labels", json={"label": "production", "version": 1})
    assert moved.status_code == 200, moved.text
    prompt = client.get("/api/prompts/greeting").json()
    assert prompt["labels"] == {"production": 1}
    newest = prompt["versions"][0]
    assert newest["version"] == 2
    assert ("ins", "there ") in [tuple(s) for s in newest["diff"]]
    assert prompt["moves"][0]["label"] == "production"
    assert client.get("/api/prompts/nothing").status_code == 404


def test_deleting_a_run(client: TestClient) -> None:
    run = latest(client)["id"]
    client.post(f"/api/runs/{run}/cells/0:0:0:0/comments", json={"text": "gone soon"})
    queue = client.post(
        "/api/queues", json={"run": run, "name": "q", "size": 2, "reviewers": ["ana"]}
    ).json()
    assert client.delete(f"/api/runs/{run}").json() == {"deleted": run}
    assert client.get(f"/api/queues/{queue['id']}").status_code == 404
    assert client.get("/api/queues").json() == []
    assert client.get("/api/runs").json() == []
    assert client.get(f"/api/runs/{run}").status_code == 404


def test_every_response_carries_the_security_policy(client: TestClient) -> None:
    run = latest(client)["id"]
    for path in ("/runs", f"/runs/{run}", "/api/runs", "/api/health", "/static/app.js"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page = client.get(f"/runs/{run}").text
    assert "<script>window.__pwned" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert client.get("/api/health").json()["status"] == "ok"


def test_only_admins_move_the_production_label(client: TestClient) -> None:
    from prompteur.web._auth import Role, User

    client.post("/api/prompts/greeting/versions", json={"template": "Hello {{name}}"})
    client.app.state.local_user = User("ed", Role.EDITOR)  # type: ignore[attr-defined]
    refused = client.post(
        "/api/prompts/greeting/labels", json={"label": "production", "version": 1}
    )
    assert refused.status_code == 403
    assert refused.json() == {"error": "only admins move the 'production' label"}
    staged = client.post("/api/prompts/greeting/labels", json={"label": "staging", "version": 1})
    assert staged.status_code == 200
    client.app.state.local_user = User("vi", Role.VIEWER)  # type: ignore[attr-defined]
    assert client.get("/api/runs").status_code == 200
    rated = client.post(
        f"/api/runs/{latest(client)['id']}/cells/0:0:0:0/ratings", json={"verdict": "pass"}
    )
    assert rated.status_code == 403 and "needs a reviewer" in rated.json()["error"]
    assert client.get("/api/prompts/greeting").json()["labels"] == {"staging": 1}


def test_text_no_store_could_keep_is_refused_or_kept_as_it_can_be(client: TestClient) -> None:
    run = latest(client)["id"]
    assert client.get("/api/runs", params={"q": "a\x00b"}).json() == {
        "error": "a NUL character in the request"
    }
    kept = client.post(f"/api/runs/{run}/cells/0:0:0:0/comments", json={"text": "odd\x00 one"})
    assert kept.status_code == 201
    comments = client.get(f"/api/runs/{run}/cells/0:0:0:0").json()["comments"]
    assert len(comments) == 1 and comments[0]["text"].startswith("odd")


def test_the_local_viewer_answers_only_requests_addressed_to_loopback(tmp_path: Path) -> None:
    """No login locally: a page elsewhere must not reach it by rebinding its own name."""
    from prompteur.web._app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'local.db'}")
    with TestClient(app, base_url="http://127.0.0.1") as local:
        assert local.get("/api/runs").status_code == 200
        assert local.get("/api/runs", headers={"host": "localhost:8484"}).status_code == 200
        refused = local.post(
            "/api/prompts/demo/versions",
            json={"template": "hi"},
            headers={"host": "attacker.example"},
        )
        assert refused.status_code == 400
    app.state.store.close()


def test_a_value_the_database_cannot_hold_is_a_400_not_a_500(client: TestClient) -> None:
    """PostgreSQL refuses NUL bytes in text: the request is at fault, and says so."""
    answer = client.post("/api/queues", json={"name": "q", "reviewers": ["ana"], "run": "\x00"})
    assert answer.status_code in (400, 404), answer.text
    assert "error" in answer.json()
