"""The web application: the viewer (``prompteur view``) and the team server (``prompteur
serve``) are this one FastAPI app, on the store's own queries. Pages are rendered on the
server with Jinja2 (autoescaped); the only script is the app's own, under a
Content-Security-Policy that refuses any other."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["CONTENT_SECURITY_POLICY", "create_app", "team_app"]

HERE = Path(__file__).parent
ROUTE_THREADS = 4
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class _SecurityHeaders:
    """Every response forbids scripts but the app's own, framing, and type sniffing (a
    plain ASGI middleware: Starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # no store keeps a NUL in its text (PostgreSQL refuses it): refused here, in one
            # place, rather than as a database error deep in a route
            refusal = JSONResponse({"error": "a NUL character in the request"}, 400)
            await refusal(scope, receive, with_headers_of(send))
            return

        await self.app(scope, receive, with_headers_of(send))


def with_headers_of(send: Send) -> Send:
    async def with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *_HEADERS]
        await send(message)

    return with_headers


LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


def create_app(store_url: str | None, *, team: bool = False) -> FastAPI:
    """The application over the store at ``store_url`` (else PROMPTEUR_DB, else the
    project's). ``team`` asks every request for a signed-in user or a token."""
    from ..core._errors import PrompteurError
    from ..store import Store
    from . import _compare, _prompts, _review, _runs
    from ._auth import install_auth
    from ._templates import ViewError

    store: Store = Store(store_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A few threads at a time for the routes (they query the store, holding the GIL for
        # most of their time): requests then wait their turn in order, rather than dozens
        # of threads sharing two cores and a pool of connections, where the unlucky wait
        # for seconds.
        anyio.to_thread.current_default_thread_limiter().total_tokens = ROUTE_THREADS
        yield
        store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="prompteur",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # FastAPI's docs pages load their scripts from a CDN
        redoc_url=None,
    )
    app.state.store = store
    app.state.team = team
    app.add_middleware(_SecurityHeaders)
    if not team:
        # The local viewer acts as its user with no login: only requests addressed to the
        # loopback names reach it, so a page elsewhere cannot drive it by rebinding a name
        # of its own to 127.0.0.1.
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(PrompteurError)
    async def _library_error(request: Request, exc: PrompteurError) -> Response:
        return _refusal(request, 404 if "no " in str(exc)[:40] else 400, str(exc))

    @app.exception_handler(ViewError)
    async def _view_error(request: Request, exc: ViewError) -> Response:
        return _refusal(request, exc.status, exc.message)

    from sqlalchemy.exc import DataError

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # a value the database cannot hold or compare (a NUL byte in PostgreSQL text, a
        # number out of range): the request's fault, not the server's
        return _refusal(request, 400, "a value in this request cannot be stored or looked up")

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Whether the server runs and reaches its store; needs no login."""
        from sqlalchemy import text

        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "team": team}

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/runs", status_code=307)

    for module in (_runs, _compare, _prompts, _review):
        app.include_router(module.router)
    install_auth(app, store, team=team)
    return app


def team_app() -> FastAPI:
    """The team server over PROMPTEUR_DB: what each worker of ``serve --workers`` runs."""
    return create_app(None, team=True)


def _refusal(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    from ._templates import render

    return render(request, "error.html", {"message": message}, status=status)
