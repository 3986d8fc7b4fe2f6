"""The HTML report in a real headless Chromium: it loads offline with no console errors, and
its failures-only filter and text search work."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.usefixtures("chromium")

SUITE = """
description: Fruit report
prompts:
  - "I like {{fruit}}"
  - id: file://loud.txt
    label: loud
providers: [echo]
tests:
  - vars: {fruit: apple}
    assert: [{type: icontains, value: apple}]
  - vars: {fruit: cherry}
    assert: [{type: contains, value: berry}]
  - vars: {fruit: banana <b>bold</b> & "quoted"}
    assert: [{type: icontains, value: banana}]
  - vars: {fruit: blueberry}
    assert: [{type: contains, value: berry}]
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

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


def open_report(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


def visible_rows(page: Any) -> int:
    return int(page.locator("tr.row:not(.hidden)").count())


def prompteur(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a separate process: Playwright's sync API keeps an event loop running in this one
    return subprocess.run(
        [sys.executable, "-m", "prompteur", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def report(write: Callable[[str, str], Path], tmp_path: Path) -> Path:
    write("loud.txt", "{{ fruit | upper }}!")
    write("suite.yaml", SUITE)
    result = prompteur(tmp_path, "eval", "suite.yaml", "--no-progress", "-o", "report.html")
    assert result.returncode == 1, result.stderr
    return tmp_path / "report.html"


def test_report_loads_offline_without_errors(browser: Any, report: Path) -> None:
    page, errors, requests = open_report(browser, report)
    assert errors == []
    assert all(url.startswith(("file://", "data:")) for url in requests), requests
    assert page.title() == "Fruit report · prompteur"
    assert page.locator("table.summary tr").count() == 3  # header and two prompt × provider rows
    assert page.locator("svg.intervals rect").count() == 2
    assert page.locator("svg.histogram").count() == 1
    assert page.locator(".count").inner_text() == "4 of 4 rows"
    # values are escaped, not interpreted
    assert page.locator("td.case b").count() == 0
    assert 'banana <b>bold</b> & "quoted"' in page.locator("table.grid").inner_text()
    page.close()


def test_failures_only_filter_and_search(browser: Any, report: Path) -> None:
    page, errors, _ = open_report(browser, report)
    assert visible_rows(page) == 4
    page.check("input.failures-only")
    # cherry fails for both prompts, and the loud prompt shouts BLUEBERRY (contains 'berry' fails)
    assert visible_rows(page) == 2
    assert page.locator(".count").inner_text() == "2 of 4 rows"
    visible = page.locator("tr.row:not(.hidden) td.case").all_inner_texts()
    assert [v.split("=")[1] for v in visible] == ["cherry", "blueberry"]
    page.uncheck("input.failures-only")
    page.fill("input.search", "BANANA")
    assert visible_rows(page) == 1
    page.fill("input.search", "berry")
    assert visible_rows(page) == 2  # cherry's assertion names 'berry', and blueberry
    page.check("input.failures-only")
    page.fill("input.search", "apple")
    assert visible_rows(page) == 0
    page.fill("input.search", "")
    page.uncheck("input.failures-only")
    assert visible_rows(page) == 4
    assert errors == []
    page.close()


def test_comparison_report(browser: Any, report: Path, tmp_path: Path) -> None:
    result = prompteur(tmp_path, "compare", "latest", "--prompts", "1", "2", "-o", "compare.html")
    assert result.returncode in (0, 1), result.stderr
    page, errors, _ = open_report(browser, tmp_path / "compare.html")
    assert errors == []
    assert page.locator("#comparison .verdict").inner_text() in (
        "no significant difference at this sample size",
        "B is better",
        "B is worse",
    )
    assert "shared cases" in page.locator("#comparison").inner_text()
    page.check("input.failures-only")
    assert visible_rows(page) == 2
    page.close()


def test_only_the_reports_own_script_runs(browser: Any, report: Path, tmp_path: Path) -> None:
    """Were an escaping bug to let markup through, the page's Content-Security-Policy
    would still run no script but the report's own."""
    html = report.read_text()
    assert '<meta http-equiv="Content-Security-Policy"' in html
    planted = (
        "<script>window.planted = 1</script>"
        '<img src="x" onerror="window.planted = 2">'
        '<svg onload="window.planted = 3"></svg>'
        '<script src="data:text/javascript,window.planted=4"></script>'
    )
    injected = tmp_path / "injected.html"
    injected.write_text(html.replace("<table", planted + "<table", 1))
    page, errors, requests = open_report(browser, injected)
    assert page.evaluate("typeof window.planted") == "undefined"
    # the report's own script still runs: the filter works
    assert page.locator(".count").inner_text() == "4 of 4 rows"
    page.check("input.failures-only")
    assert visible_rows(page) == 2
    assert any("Content Security Policy" in e for e in errors), errors
    assert all(url.startswith(("file://", "data:")) for url in requests), requests
    page.close()
