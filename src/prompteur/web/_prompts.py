"""The prompt registry: names, versions with word diffs, labels and their moves, the runs
of each version; editors add versions and move labels, and only admins move ``production``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from ._audit import audit
from ._auth import Role, User, require
from ._diff import word_diff
from ._errors import REFUSALS
from ._templates import ViewError, render, store_of

router = APIRouter(responses=REFUSALS)

Viewer = Annotated[User, Depends(require(Role.VIEWER))]
Editor = Annotated[User, Depends(require(Role.EDITOR))]
GUARDED_LABELS = frozenset({"production"})  # moved by admins only
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # as the registry checks names
Name = Annotated[str, Path(pattern=NAME_PATTERN)]


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(min_length=1, max_length=200_000)
    message: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(pattern=NAME_PATTERN)
    version: int | None = Field(default=None, ge=1, description="None removes the label")


def _registry(request: Request) -> Any:
    from ..store._registry import PromptRegistry

    return PromptRegistry(store_of(request))


def prompt_state(request: Request, name: str) -> dict[str, Any]:
    registry = _registry(request)
    versions = registry.versions(name)
    shown = []
    previous = None
    for v in versions:
        shown.append(
            {
                "version": v.version,
                "template": v.source.template,
                "format": v.source.format,
                "labels": list(v.labels),
                "author": v.author,
                "message": v.message,
                "parent": v.parent,
                "origin": v.origin,
                "created_at": v.created_at,
                "diff": word_diff(previous, v.source.template) if previous is not None else None,
                "runs": [
                    {
                        "run": r.run_id,
                        "started_at": r.started_at,
                        "provider": r.provider,
                        "done": r.done,
                        "passed": r.passed,
                    }
                    for r in registry.runs_of(name, v.version, limit=10)
                ],
            }
        )
        previous = v.source.template
    moves = [
        {
            "label": m.label,
            "version": m.version,
            "previous": m.previous,
            "author": m.author,
            "moved_at": m.moved_at,
        }
        for m in registry.moves(name)
    ]
    return {
        "name": name,
        "versions": list(reversed(shown)),
        "labels": registry.label_versions(name),
        "moves": list(reversed(moves)),
    }


@router.get("/api/prompts", tags=["prompts"])
def api_prompts(request: Request, user: Viewer) -> list[dict[str, Any]]:
    """Every registered prompt: its latest version and labels."""
    return [
        {"name": v.name, "latest": v.version, "labels": list(v.labels), "created_at": v.created_at}
        for v in _registry(request).names()
    ]


@router.get("/api/prompts/{name}", tags=["prompts"])
def api_prompt(request: Request, name: Name, user: Viewer) -> dict[str, Any]:
    """A registered prompt: versions (newest first, with a word diff from the one before),
    labels, label moves, and the runs of each version."""
    return prompt_state(request, name)


@router.post("/api/prompts/{name}/versions", tags=["prompts"], status_code=201)
def api_add_version(request: Request, name: Name, body: VersionIn, user: Editor) -> dict[str, Any]:
    """Register a new version of ``name`` (editors); the same content adds none."""
    from ..store._registry import PromptSource

    registry = _registry(request)
    version, created = registry.add(
        name,
        PromptSource(body.template, description=body.description),
        author=user.name,
        message=body.message,
    )
    return {"name": name, "version": version.version, "created": created}


@router.post("/api/prompts/{name}/labels", tags=["prompts"])
def api_move_label(request: Request, name: Name, body: LabelIn, user: Editor) -> dict[str, Any]:
    """Point a label at a version, or remove it (editors; ``production`` only admins)."""
    if body.label in GUARDED_LABELS and user.role < Role.ADMIN:
        raise ViewError(403, f"only admins move the '{body.label}' label")
    registry = _registry(request)
    store = store_of(request)
    before = registry.label_versions(name).get(body.label)
    if body.version is None:
        registry.untag(name, body.label, author=user.name)
    else:
        registry.tag(f"{name}@v{body.version}", body.label, author=user.name)
    audit(store, user, "move label", f"{name}@{body.label}", version=body.version, previous=before)
    return {"name": name, "label": body.label, "version": body.version, "previous": before}


@router.get("/prompts", response_class=HTMLResponse, include_in_schema=False)
def prompts_page(request: Request, user: Viewer) -> HTMLResponse:
    return render(request, "prompts.html", {"user": user, "prompts": api_prompts(request, user)})


@router.get("/prompts/{name}", response_class=HTMLResponse, include_in_schema=False)
def prompt_page(request: Request, name: str, user: Viewer) -> HTMLResponse:
    state = prompt_state(request, name)
    return render(
        request,
        "prompt.html",
        {
            "user": user,
            "prompt": state,
            "can_edit": user.role >= Role.EDITOR,
            "can_move_production": user.role >= Role.ADMIN,
        },
    )
