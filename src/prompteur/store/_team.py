"""The team server's records. This branch keeps only the audit hook the viewer calls;
the team side (users, tokens, sessions, the audit table) replaces this module."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["record_audit"]

_log = logging.getLogger("prompteur.audit")


def record_audit(
    store: Store, actor: str, action: str, target: str, detail: dict[str, Any]
) -> None:
    """Keep who did what to which target (a rating, a label move, a deletion)."""
    _log.info("%s %s %s %s", actor, action, target, detail)
