"""Who is asking, and what they may do.

``prompteur view`` (local mode) serves the user who runs it: an admin, with no login.
``prompteur serve`` (team mode) lets in only a signed-in user (a session cookie, HttpOnly
and SameSite) or an API token (``Authorization: Bearer pt_…``). A cookie-authenticated
request that changes something must carry the session's CSRF token, in the
``X-CSRF-Token`` header or a ``csrf_token`` form field; token requests are exempt (a
browser never adds that header by itself). Every route states the role it needs with
``Depends(require(Role.X))``; a refusal is a JSON body, 401 (not signed in) or 403 (role
too low), never a page that half works.
"""

from __future__ import annotations

import enum
import getpass
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..store._team import Team

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..store import Store

__all__ = [
    "Admin",
    "AuthError",
    "Editor",
    "Reviewer",
    "Role",
    "User",
    "Viewer",
    "install_auth",
    "require",
]

SESSION_COOKIE = "prompteur_session"
CSRF_COOKIE = "prompteur_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Paths anyone may reach in team mode: the health check, signing in, static files.
PUBLIC_PATHS = frozenset({"/api/health", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
MAX_FORM_BYTES = 1_000_000


class Role(enum.IntEnum):
    VIEWER = 1
    REVIEWER = 2
    EDITOR = 3
    ADMIN = 4


@dataclass(frozen=True)
class User:
    name: str
    role: Role


class AuthError(Exception):
    """A refused request: 401 (nobody signed in) or 403 (the role is too low, no CSRF)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="prompteur"'} if status == 401 else None
    return JSONResponse({"error": message, "status": status}, status, headers=headers)


def _local_user() -> User:
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment
        name = "local"
    return User(name, Role.ADMIN)


@dataclass
class AuthState:
    """What the app keeps of its authentication (``app.state.auth``)."""

    team: bool
    store: Store


def require(role: Role) -> Callable[..., Any]:
    """A dependency yielding the current user, who must hold ``role`` or above."""

    # async, though it awaits nothing: a plain function would be sent to a worker thread,
    # and every route would wait its turn for one twice
    async def dependency(request: Request) -> User:
        state: AuthState = request.app.state.auth
        user: User | None
        if state.team:
            user = getattr(request.state, "user", None)
        else:  # the local user, whose role is enforced all the same
            user = request.app.state.local_user
        if user is None:
            raise AuthError(401, "sign in first, or send an API token (Authorization: Bearer)")
        if user.role < role:
            raise AuthError(403, f"this needs {_a(role)} or above; {user.name} is {_a(user.role)}")
        return user

    dependency.__name__ = f"require_{role.name.lower()}"
    return dependency


Viewer = Annotated[User, Depends(require(Role.VIEWER))]
Reviewer = Annotated[User, Depends(require(Role.REVIEWER))]
Editor = Annotated[User, Depends(require(Role.EDITOR))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]


def _a(role: Role) -> str:
    name = role.name.lower()
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def user_of(account_role: str) -> Role:
    return Role[account_role.upper()]


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class TeamAuthMiddleware:
    """Signs each request in (token or session), refuses the anonymous ones outside the
    public paths, and checks the CSRF token of cookie-authenticated changes."""

    def __init__(self, app: ASGIApp, team: Team) -> None:
        self.app = app
        self.team = team

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        user, csrf = None, None
        authorization = request.headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            account = None
            if scheme.lower() == "bearer":
                account = await to_thread.run_sync(self.team.token_account, token.strip())
            if account is None:
                response = error_response(401, "this API token is unknown or revoked")
                await response(scope, receive, send)
                return
            user = User(account.name, user_of(account.role))
        elif session_id := request.cookies.get(SESSION_COOKIE):
            found = await to_thread.run_sync(self.team.session, session_id)
            if found is not None:
                user, csrf = User(found[0].name, user_of(found[0].role)), found[1]
        state["user"] = user
        state["csrf_token"] = csrf
        path = scope["path"]
        if is_public(path):
            await self.app(scope, receive, send)
            return
        if user is None:
            await self._refuse_anonymous(request)(scope, receive, send)
            return
        if csrf is not None and request.method not in SAFE_METHODS:
            given, receive = await _csrf_given(request, receive)
            if given is None or not hmac.compare_digest(given.encode(), csrf.encode()):
                await error_response(403, "missing or wrong CSRF token")(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refuse_anonymous(request: Request) -> JSONResponse | RedirectResponse:
        """A browser asking for a page goes to the login page; anything else gets 401."""
        path = request.url.path
        wants_page = "text/html" in request.headers.get("accept", "")
        if request.method == "GET" and wants_page and not path.startswith("/api/"):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
        return error_response(401, "sign in first, or send an API token (Authorization: Bearer)")


async def _csrf_given(request: Request, receive: Receive) -> tuple[str | None, Receive]:
    """The CSRF token a request carries (header, else form field), and a ``receive`` that
    hands the app the body again when the form had to be read for it."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header, receive
    kind = request.headers.get("content-type", "")
    if not kind.startswith("application/x-www-form-urlencoded"):
        return None, receive
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
        if size > MAX_FORM_BYTES:  # no form this large is ours: refused, unread
            return None, receive
    body = b"".join(chunks)
    values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return (values[0] if values else None), replay


def install_auth(app: FastAPI, store: Store, *, team: bool) -> None:
    """Set up who may do what: in team mode, the login and logout pages, sessions, tokens,
    CSRF checks, login rate limiting, and the team's own routes (users, tokens, audit log,
    and those ``prompteur --server`` calls)."""
    app.state.auth = AuthState(team, store)
    app.state.local_user = _local_user()  # local mode's user (tests may lower its role)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        return error_response(exc.status, exc.message)

    app.add_exception_handler(AuthError, refused)
    if not team:
        return
    from ._login import login_router
    from ._sync_routes import sync_router
    from ._team_routes import team_router

    team_records = Team(store)
    if not team_records.users():
        logging.getLogger("prompteur.web").warning(
            "warning: this store has no users yet, so nobody can sign in: "
            "add one with 'prompteur users add NAME --role admin'"
        )
    app.add_middleware(TeamAuthMiddleware, team=team_records)
    app.include_router(login_router())
    app.include_router(team_router())
    app.include_router(sync_router())
