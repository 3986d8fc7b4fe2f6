"""Signing in to `prompteur serve` in a real browser (Debian's Chromium through
Playwright): a page asked for without a session leads to the login form, which leads back
to it once signed in; a wrong password says so. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prompteur.store import Store
from prompteur.store._team import audit_entries

from .test_team_server import server, team_pg

__all__ = ["server", "team_pg"]  # the fixtures, shared with the --server tests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("chromium")]


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
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
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def test_a_page_leads_to_the_login_form_and_back(server: str, page: Any) -> None:
    page.goto(f"{server}/runs?limit=5")
    assert page.url == f"{server}/login?next=%2Fruns%3Flimit%3D5"
    page.fill("input[name=name]", "rev")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong user name or password." in page.inner_text("[role=alert]")
    page.screenshot(path=str(ARTIFACTS / "team-login-refused.png"))

    page.fill("input[name=name]", "rev")
    page.fill("input[name=password]", "a long password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/runs?limit=5")
    assert "rev" in page.inner_text("header")
    page.screenshot(path=str(ARTIFACTS / "team-signed-in.png"))
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["prompteur_session"]["httpOnly"] is True
    assert cookies["prompteur_session"]["sameSite"] == "Lax"
    # the session cookie is out of reach of the page's scripts
    assert "prompteur_session" not in page.evaluate("document.cookie")


def sign_in(page: Any, server: str, name: str, target: str) -> None:
    page.goto(f"{server}{target}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", "a long password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}{target}")


def test_a_signed_in_reviewer_rates_from_the_grid(
    server: str, team_pg: tuple[str, dict[str, str]], page: Any, tmp_path: Path
) -> None:
    """The page's script sends the session's CSRF token: a reviewer's key press is a
    verdict, recorded under their name and audited."""
    db = team_pg[0]
    (tmp_path / "prompteur.yaml").write_text(
        "prompts: ['{{word}}']\nproviders: [echo]\ntests:\n"
        "  - vars: {word: apple}\n    assert: [{type: contains, value: pear}]\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "--db", db, "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    run = Store(db).runs(limit=1)[0].id
    sign_in(page, server, "rev", f"/runs/{run}")
    page.wait_for_selector("#grid")
    page.keyboard.press("Home")
    page.keyboard.press("j")
    page.keyboard.press("p")
    page.locator("a.cell[data-key='0:0:0:0'] .verdict", has_text="pass (human)").wait_for()
    page.screenshot(path=str(ARTIFACTS / "team-rated.png"))
    assert Store(db).verdicts(run)["0:0:0:0"].author == "rev"
    entry = audit_entries(Store(db), action="rate")[0]
    assert (entry.actor, entry.target) == ("rev", f"{run}/0:0:0:0")
