"""Every rating, label move and deletion goes to the audit log through here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store import Store
    from ._auth import User

__all__ = ["audit"]


def audit(store: Store, user: User, action: str, target: str, **detail: Any) -> None:
    from ..store._team import record_audit

    record_audit(store, user.name, action, target, detail)
