"""The team's own API: who am I, users (admins), API tokens, and the audit log (admins)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..store._team import ROLES, LastAdminError, Team, TeamError, audit_entries, record_audit
from ._auth import Admin, AuthError, AuthState, Role, Viewer

__all__ = ["team_router"]


class NewUser(BaseModel):
    name: str
    password: str = Field(min_length=8)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")


class RoleChange(BaseModel):
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")


class NewToken(BaseModel):
    label: str | None = None
    user: str | None = None  # an admin may make one for someone else


def _team(request: Request) -> Team:
    state: AuthState = request.app.state.auth
    return Team(state.store)


def _store(request: Request) -> Any:
    state: AuthState = request.app.state.auth
    return state.store


def _not_found(exc: TeamError) -> AuthError:
    # the last admin kept is a conflict with the team's state, not a missing user
    return AuthError(409 if isinstance(exc, LastAdminError) else 404, str(exc))


def team_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["team"])

    @router.get("/me")
    def me(user: Viewer) -> dict[str, Any]:
        return {"name": user.name, "role": user.role.name.lower()}

    @router.get("/team/users")
    def list_users(request: Request, user: Admin) -> list[dict[str, Any]]:
        return [
            {"name": a.name, "role": a.role, "created_at": a.created_at}
            for a in _team(request).users()
        ]

    @router.post("/team/users", status_code=201)
    def add_user(body: NewUser, request: Request, user: Admin) -> dict[str, Any]:
        try:
            account = _team(request).add_user(body.name, body.password, body.role)
        except TeamError as exc:
            raise AuthError(409, str(exc)) from None
        record_audit(_store(request), user.name, "user.add", body.name, {"role": body.role})
        return {"name": account.name, "role": account.role}

    @router.put("/team/users/{name}/role")
    def set_role(name: str, body: RoleChange, request: Request, user: Admin) -> dict[str, Any]:
        try:
            _team(request).set_role(name, body.role)
        except TeamError as exc:
            raise _not_found(exc) from None
        record_audit(_store(request), user.name, "user.role", name, {"role": body.role})
        return {"name": name, "role": body.role}

    @router.delete("/team/users/{name}")
    def remove_user(name: str, request: Request, user: Admin) -> dict[str, Any]:
        try:
            _team(request).remove_user(name)
        except TeamError as exc:
            raise _not_found(exc) from None
        record_audit(_store(request), user.name, "user.remove", name, {})
        return {"removed": name}

    @router.get("/team/tokens")
    def list_tokens(request: Request, user: Viewer) -> list[dict[str, Any]]:
        """Your tokens; an admin sees everyone's. The tokens themselves were shown once."""
        owner = None if user.role >= Role.ADMIN else user.name
        return [
            {
                "id": t.id,
                "user": t.user,
                "label": t.label,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
            }
            for t in _team(request).tokens(owner)
        ]

    @router.post("/team/tokens", status_code=201)
    def create_token(body: NewToken, request: Request, user: Viewer) -> dict[str, Any]:
        """A new API token, shown in this answer only."""
        owner = body.user or user.name
        if owner != user.name and user.role < Role.ADMIN:
            raise AuthError(403, "only an admin makes tokens for someone else")
        try:
            info, token = _team(request).create_token(owner, body.label)
        except TeamError as exc:
            raise _not_found(exc) from None
        record_audit(_store(request), user.name, "token.create", owner, {"id": info.id})
        return {"id": info.id, "user": owner, "label": info.label, "token": token}

    @router.delete("/team/tokens/{token_id}")
    def revoke_token(token_id: str, request: Request, user: Viewer) -> dict[str, Any]:
        owner = None if user.role >= Role.ADMIN else user.name
        try:
            _team(request).revoke_token(token_id, user=owner)
        except TeamError as exc:
            raise _not_found(exc) from None
        record_audit(_store(request), user.name, "token.revoke", token_id, {})
        return {"revoked": token_id}

    @router.get("/audit")
    async def audit_log(
        request: Request,
        user: Admin,
        limit: int = Query(100, ge=1, le=1000),
        actor: str | None = None,
        action: str | None = None,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """The audit log, newest first: every rating, label move and deletion, and the
        changes to users and tokens."""
        entries = await to_thread.run_sync(
            lambda: audit_entries(
                _store(request), limit=limit, actor=actor, action=action, before=before
            )
        )
        return [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
            }
            for e in entries
        ]

    return router
