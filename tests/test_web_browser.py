"""The viewer end to end in a real browser (Debian's Chromium through Playwright), against
`prompteur view` serving a real store: the grid loads as it scrolls, keys rate cells,
forms reach the API, and a script in a model's output runs nowhere. Screenshots are kept
under test-artifacts/web/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import free_port, wait_for_http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
pytestmark = pytest.mark.usefixtures("chromium")

FRUITS = [
    "apple",
    "cherry",
    "blueberry",
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">',
]
SUITE = """
description: fruit
prompts:
  - "I like {{fruit}}"
  - label: loud
    raw: "I LOVE {{fruit}}!!"
providers: [echo]
defaultTest:
  assert: [{type: icontains, value: berry}]
tests:
"""
CASES = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("viewer")
    cases = "".join(f"  - vars: {{fruit: {FRUITS[i % len(FRUITS)]!r}}}\n" for i in range(CASES))
    (folder / "prompteur.yaml").write_text(SUITE + cases, encoding="utf-8")
    db = f"sqlite:///{folder / 'store.db'}"
    for _ in range(2):  # two runs, for the history
        subprocess.run(
            [sys.executable, "-m", "prompteur", "eval", "--db", db, "--no-progress"],
            cwd=folder,
            capture_output=True,
            check=False,
        )
    port = free_port()
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prompteur",
                "view",
                "--db",
                db,
                "--port",
                str(port),
                "--no-browser",
            ],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(url + "/api/health", process)
            yield url
        finally:
            process.terminate()
            process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.errors = []  # what the page's console and scripts complained of
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    yield opened
    context.close()


def latest_run(server: str) -> str:
    return str(httpx.get(server + "/api/runs", params={"limit": 1}).json()[0]["id"])


def scroll_to_the_end(page: Any) -> None:
    """Scroll the grid until all its rows are there (or twenty turns of the wheel)."""
    for _ in range(20):
        if page.locator("#grid tbody tr").count() == CASES:
            return
        page.mouse.wheel(0, 20000)
        page.wait_for_timeout(150)


def test_the_grid_loads_as_it_scrolls_and_keys_rate(server: str, page: Any) -> None:
    page.goto(server + "/runs")
    page.screenshot(path=ARTIFACTS / "runs.png", full_page=True)
    run = latest_run(server)
    page.click(f"a[href='/runs/{run}']")
    page.wait_for_selector("#grid")
    assert page.locator("#grid tbody tr").count() == 40  # the first page only
    page.screenshot(path=ARTIFACTS / "run.png")
    scroll_to_the_end(page)
    assert page.locator("#grid tbody tr").count() == CASES
    assert page.locator("#grid-end").inner_text() == "end of the grid"
    assert (
        page.locator("#grid tbody tr")
        .nth(CASES - 1)
        .locator("td.case")
        .inner_text()
        .startswith("fruit=")
    )
    page.keyboard.press("Home")
    page.keyboard.press("j")
    page.keyboard.press("j")  # the second cell: the loud apple
    page.keyboard.press("p")
    rated = page.locator("a.cell[data-key='1:0:0:0']")
    rated.locator(".verdict", has_text="pass (human)").wait_for()
    assert "human" in (rated.get_attribute("class") or "")
    cell = httpx.get(f"{server}/api/runs/{run}/cells/1:0:0:0").json()
    assert [r["pass"] for r in cell["ratings"]] == [True]
    page.keyboard.press("f")  # the next cell: the plain cherry
    page.locator("a.cell[data-key='0:0:1:0'] .verdict", has_text="fail (human)").wait_for()
    page.keyboard.press("k")
    page.keyboard.press("o")
    page.wait_for_url(f"**/runs/{run}/cells/0:0:1:0")
    assert page.locator("#output").inner_text() == "I like cherry"
    page.fill("#comment-form input[name='text']", "is a cherry a berry?")
    page.click("#comment-form button")
    page.locator(".comments li", has_text="is a cherry a berry?").wait_for()
    page.screenshot(path=ARTIFACTS / "cell.png", full_page=True)
    page.goto(f"{server}/runs/{run}?failures=true&q=cherry")
    assert page.locator("#grid-total").inner_text() == str(CASES // 4)
    # a search found in most cases: its first rows come at once, its count after them
    page.goto(f"{server}/runs/{run}?q=like")
    page.locator("#grid-total", has_text=str(CASES)).wait_for()
    scroll_to_the_end(page)
    assert page.locator("#grid-end").inner_text() == "end of the grid"
    assert page.errors == []


def test_a_grid_page_that_fails_waits_for_retry(server: str, page: Any) -> None:
    """A failing page stops the loading: one request, a message and a Retry button in the
    grid's end marker, and the same page asked again only when the button is clicked."""
    run = latest_run(server)
    asked: list[str] = []
    failing = [True]

    def answer(route: Any) -> None:
        asked.append(route.request.url)
        if failing[0]:
            route.fulfill(
                status=500,
                content_type="application/json",
                body='{"error": "the store is unreachable"}',
            )
        else:
            route.continue_()

    page.route(lambda url: "/cells?" in url, answer)
    page.goto(f"{server}/runs/{run}")
    assert page.locator("#grid tbody tr").count() == 40
    for _ in range(15):  # three seconds of scrolling at the failing end
        page.mouse.wheel(0, 20000)
        page.wait_for_timeout(200)
    end = page.locator("#grid-end")
    end.get_by_role("button", name="Retry").wait_for()
    assert len(asked) == 1 and "offset=40&" in asked[0]
    assert end.inner_text().startswith(
        "The next rows could not be loaded: the store is unreachable"
    )
    retry = end.get_by_role("button", name="Retry")
    assert retry.is_visible()
    assert page.locator("#grid tbody tr").count() == 40
    page.screenshot(path=ARTIFACTS / "grid-failed.png")

    failing[0] = False
    retry.click()
    page.locator("#grid tbody tr").nth(79).wait_for()
    assert "offset=40&" in asked[1]  # the page that failed, asked again
    scroll_to_the_end(page)
    assert page.locator("#grid tbody tr").count() == CASES
    assert end.inner_text() == "end of the grid"
    assert page.locator("#grid-retry").count() == 0
    # the browser's own line about the 500 response is the only complaint
    assert [e for e in page.errors if "status of 500" not in e] == []


def test_a_script_in_a_models_output_runs_nowhere(server: str, page: Any) -> None:
    run = latest_run(server)
    blocked: list[str] = []
    page.on(
        "console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.goto(f"{server}/runs/{run}?q=pwned")
    output = page.locator("a.cell[data-key='0:0:3:0'] .output")
    assert output.inner_text().startswith("I like <script>window.__pwned = 1</script><img")
    for _ in range(3):  # and in rows the script adds as the grid scrolls
        page.mouse.wheel(0, 20000)
        page.wait_for_timeout(150)
    page.goto(f"{server}/runs/{run}/cells/1:0:3:0")
    assert "<script>window.__pwned" in page.locator("#output").inner_text()
    assert "<script>window.__pwned" in page.locator("#rendered-prompt").inner_text()
    page.goto(f"{server}/compare?a={run}&b={run}&prompt_a=1&prompt_b=2")
    page.goto(f"{server}/runs/{run}")
    assert page.evaluate("window.__pwned") is None
    sources = page.evaluate("Array.from(document.scripts).map(s => s.src)")
    assert sources == [f"{server}/static/app.js"]
    assert page.locator("img[src='x']").count() == 0
    # a script that did get into a page would still be refused by the policy
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__pwned = 3\">')"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert blocked, "the browser reported no refused inline handler"


def test_compare_history_prompts_and_review(server: str, page: Any) -> None:
    run = latest_run(server)
    page.goto(f"{server}/compare?a={run}&b={run}&prompt_a=1&prompt_b=loud")
    assert page.locator("#verdict").inner_text() == "no significant difference at this sample size"
    page.screenshot(path=ARTIFACTS / "compare.png", full_page=True)

    page.goto(f"{server}/history?suite=fruit")
    assert page.locator("svg.chart polyline").count() == 2
    page.screenshot(path=ARTIFACTS / "history.png", full_page=True)

    httpx.post(f"{server}/api/prompts/greeting/versions", json={"template": "Hello {{name}}"})
    page.goto(f"{server}/prompts/greeting")
    page.click("text=Add a version")
    page.fill("#add-version textarea", "Hello there, {{name}}")
    page.click("#add-version button")
    page.locator("#v2 ins", has_text="there,").wait_for()
    page.fill("#move-label input[name='label']", "production")
    page.fill("#move-label input[name='version']", "2")
    page.click("#move-label button")
    page.locator("#v2 .label", has_text="production").wait_for()
    page.screenshot(path=ARTIFACTS / "prompt.png", full_page=True)

    me = httpx.get(f"{server}/api/runs").headers  # the local user's name, from the page
    page.goto(f"{server}/review")
    user = page.locator(".who").inner_text().split(" · ")[0]
    page.fill("#new-queue input[name='name']", "cherries")
    page.select_option("#new-queue select[name='method']", "failures")
    page.fill("#new-queue input[name='size']", "3")
    page.fill("#new-queue input[name='reviewers']", f"{user}, someone")
    page.click("#new-queue button")
    page.wait_for_url("**/review/*")
    assert page.locator("#queue-cells a.cell").count() == 3
    page.keyboard.press("j")
    page.keyboard.press("f")
    page.locator("#queue-cells a.cell .verdict", has_text="fail (human)").first.wait_for()
    page.reload()
    assert page.locator(f".reviewer-done[data-reviewer='{user}']").inner_text() == "1/3"
    assert page.locator("#agreement tbody tr").count() == 3
    page.screenshot(path=ARTIFACTS / "queue.png", full_page=True)
    assert me is not None and page.errors == []


def test_a_running_run_shows_its_progress_live(server: str, page: Any, tmp_path: Path) -> None:
    """A run being written: its page's progress follows the cells as they arrive."""
    (tmp_path / "slow.py").write_text(
        "import time\n\ndef call_api(prompt, options, context):\n    time.sleep(0.4)\n"
        "    return prompt\n",
        encoding="utf-8",
    )
    cases = "".join(f"  - vars: {{n: {i}}}\n" for i in range(20))
    (tmp_path / "prompteur.yaml").write_text(
        "description: slow\nprompts: ['n={{n}}']\nproviders: ['file://slow.py']\ntests:\n" + cases,
        encoding="utf-8",
    )
    # the server's store lies beside the module's suite
    folder = Path(
        httpx.get(server + "/api/runs", params={"limit": 1}).json()[0]["suite_path"]
    ).parent
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prompteur",
            "eval",
            "--db",
            f"sqlite:///{folder / 'store.db'}",
            "--no-progress",
            "--no-cache",
            "--max-concurrency",
            "1",
            "-c",
            str(tmp_path / "prompteur.yaml"),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = None
        for _ in range(100):
            found = httpx.get(server + "/api/runs", params={"suite": "slow"}).json()
            if found and found[0]["done"] > 0:
                run = found[0]
                break
            page.wait_for_timeout(100)
        assert run is not None and run["status"] == "running"
        page.goto(f"{server}/runs/{run['id']}")
        first = page.locator("#run-progress").inner_text()
        assert page.locator("#run-status").inner_text() == "running"
        # (the page's policy refuses the string functions of wait_for_function: poll here)
        seen = [first]
        for _ in range(300):
            shown = page.locator("#run-progress").inner_text()
            if shown != seen[-1]:
                seen.append(shown)
            if page.locator("#run-status").inner_text() == "finished":
                break
            page.wait_for_timeout(100)
        page.screenshot(path=ARTIFACTS / "live.png")
        assert page.locator("#run-status").inner_text() == "finished"
        # the page may have moved on between the loop's two reads
        if (shown := page.locator("#run-progress").inner_text()) != seen[-1]:
            seen.append(shown)
        assert len(seen) >= 3 and seen[-1] == "20/20"  # it moved while the page stayed open
        assert page.locator("#live").count() == 0
    finally:
        writer.wait(60)
