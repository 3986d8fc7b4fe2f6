"""Who is asking, and what they may do. This branch serves the local mode only (the user
running ``prompteur view`` owns the store); the team side replaces this module with users,
sessions, tokens and CSRF, behind the same interface."""

from __future__ import annotations

import enum
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..store import Store

__all__ = ["Role", "User", "install_auth", "require"]


class Role(enum.IntEnum):
    VIEWER = 1
    REVIEWER = 2
    EDITOR = 3
    ADMIN = 4


@dataclass(frozen=True)
class User:
    name: str
    role: Role


def _local_user() -> User:
    try:
        name = getpass.getuser()
    except Exception:  # no user name in this environment
        name = "local"
    return User(name, Role.ADMIN)


def require(role: Role) -> Callable[..., Any]:
    """A dependency yielding the current user, who must hold ``role`` or above."""

    async def current_user(request: Request) -> User:  # async: no thread hop per request
        user: User = request.app.state.local_user
        if user.role < role:
            from ._templates import ViewError

            raise ViewError(
                403,
                f"{user.name} is a {user.role.name.lower()}: this needs a "
                f"{role.name.lower()} or above",
            )
        return user

    current_user.__name__ = f"require_{role.name.lower()}"
    return current_user


def install_auth(app: FastAPI, store: Store, *, team: bool) -> None:
    if team:
        from ..core._errors import PrompteurError

        raise PrompteurError("this build has no team mode yet: use 'prompteur view'")
    app.state.local_user = _local_user()
