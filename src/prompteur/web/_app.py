"""The web application: the viewer (``prompteur view``) and the team server (``prompteur
serve``) are this one FastAPI app, on the store's own queries. Pages are rendered on the
server with Jinja2 (autoescaped); the only script is the app's own, under a
Content-Security-Policy that refuses any other."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from .._version import __version__

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["CONTENT_SECURITY_POLICY", "create_app"]

HERE = Path(__file__).parent
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def create_app(store_url: str | None, *, team: bool = False) -> FastAPI:
    """The application over the store at ``store_url`` (else PROMPTEUR_DB, else the
    project's). ``team`` asks every request for a signed-in user or a token."""
    from ..core._errors import PrompteurError
    from ..store import Store
    from . import _compare, _prompts, _review, _runs
    from ._auth import install_auth
    from ._templates import ViewError

    store: Store = Store(store_url)
    app = FastAPI(
        title="prompteur",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # FastAPI's docs pages load their scripts from a CDN
        redoc_url=None,
    )
    app.state.store = store
    app.state.team = team
    app.add_middleware(_SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(PrompteurError)
    async def _library_error(request: Request, exc: PrompteurError) -> Response:
        return _refusal(request, 404 if "no " in str(exc)[:40] else 400, str(exc))

    @app.exception_handler(ViewError)
    async def _view_error(request: Request, exc: ViewError) -> Response:
        return _refusal(request, exc.status, exc.message)

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


def _refusal(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    from ._templates import render

    return render(request, "error.html", {"message": message}, status=status)
