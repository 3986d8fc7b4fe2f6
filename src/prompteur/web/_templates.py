"""Rendering pages: one Jinja2 environment with autoescape on for every template, and the
filters the pages share."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from ._views import percent, when

if TYPE_CHECKING:
    import jinja2

    from ..store import Store

__all__ = ["ViewError", "render", "store_of"]


class ViewError(Exception):
    """A request the app refuses: shown as JSON under /api/, as a page elsewhere."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    from ._app import HERE

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["percent"] = percent
    env.filters["money"] = lambda v: "—" if v is None else f"${v:.4f}"
    env.filters["ms"] = lambda v: "—" if v is None else f"{v:.0f} ms"
    return env


def render(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    # the team side's CSRF middleware leaves the session's token here for app.js to send
    context = {"user": None, "csrf_token": getattr(request.state, "csrf_token", None), **context}
    page = (
        _environment()
        .get_template(template)
        .render(request=request, team=request.app.state.team, **context)
    )
    return HTMLResponse(page, status_code=status)
