"""Signing in and out of the team server: the login page, its form, and logout.

The login form is protected against CSRF by a double-submit token (a cookie set with the
page, which the form must repeat). Failed logins are counted per user name and per
address; past the limits, logins are refused with 429 until the window has passed.
"""

from __future__ import annotations

import hmac
import secrets
import time
from html import escape

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..store._team import SESSION_SECONDS, Team
from ._auth import CSRF_COOKIE, SESSION_COOKIE, AuthState, Viewer, error_response

__all__ = ["LOGIN_LIMITS", "login_router"]

#: (failed logins, within seconds) allowed per user name and per client address
LOGIN_LIMITS = {"user": (5, 900.0), "addr": (20, 900.0)}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · prompteur</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"></head>
<body><header class="top"><span class="brand">prompteur</span></header>
<main><h1>Sign in</h1>
<form method="post" action="/login">{error}
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<p><label>User <input name="name" autocomplete="username" required autofocus></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"
 required></label></p>
<p><button type="submit">Sign in</button></p>
</form></main></body></html>
"""


def _safe_next(target: str | None) -> str:
    """Only a path on this server: an open redirect would lend our login to phishing."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _page(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    notice = f'\n<p role="alert">{escape(error)}</p>' if error else ""
    html = _PAGE.format(error=notice, csrf=escape(csrf), next=escape(_safe_next(next_path)))
    response = HTMLResponse(html, status)
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=False, samesite="strict", secure=_secure(request)
    )
    return response


def login_router() -> APIRouter:
    router = APIRouter(tags=["team"])

    @router.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:
        return _page(request, next)

    @router.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        name: str = Form(...),
        password: str = Form(...),
        csrf_token: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
            return error_response(403, "missing or wrong CSRF token: reload the login page")
        state: AuthState = request.app.state.auth
        team = Team(state.store)
        address = request.client.host if request.client else "unknown"
        subjects = {"user": f"user:{name}", "addr": f"addr:{address}"}
        for kind, subject in subjects.items():
            limit, window = LOGIN_LIMITS[kind]
            count, oldest = await to_thread.run_sync(team.recent_failures, subject, window)
            if count >= limit:
                wait = int((oldest or time.time()) + window - time.time()) + 1
                refused = error_response(
                    429, f"too many failed logins; try again in {max(wait, 1)} s"
                )
                refused.headers["Retry-After"] = str(max(wait, 1))
                return refused
        account = await to_thread.run_sync(team.check_password, name, password)
        if account is None:
            await to_thread.run_sync(team.login_failed, *subjects.values())
            return _page(request, next, "Wrong user name or password.", 401)
        await to_thread.run_sync(team.clear_failures, subjects["user"])
        session_id, csrf = await to_thread.run_sync(team.create_session, account.name)
        response = RedirectResponse(_safe_next(next), 303)
        secure = _secure(request)
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        # readable by the app's own script, which sends it back as X-CSRF-Token
        response.set_cookie(
            CSRF_COOKIE, csrf, max_age=SESSION_SECONDS, samesite="strict", secure=secure
        )
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request, user: Viewer) -> Response:
        state: AuthState = request.app.state.auth
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            await to_thread.run_sync(Team(state.store).end_session, session_id)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        return response

    return router
