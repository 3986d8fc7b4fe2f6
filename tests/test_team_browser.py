"""Signing in to `prompteur serve` in a real browser (Debian's Chromium through
Playwright): a page asked for without a session leads to the login form, which leads back
to it once signed in; a wrong password says so. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
