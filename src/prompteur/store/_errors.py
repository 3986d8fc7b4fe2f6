"""The store's one error: a store that cannot be opened, or a run or record not in it."""

from __future__ import annotations

from ..core._errors import PrompteurError

__all__ = ["StoreError", "open_error"]


class StoreError(PrompteurError):
    """The store cannot be opened or migrated, or a run or record asked for is not in it."""


def open_error(display_url: str, exc: BaseException, password: str | None) -> StoreError:
    """One line saying why the store at ``display_url`` cannot be opened; a password that a
    driver echoes back is masked."""
    orig = getattr(exc, "orig", None)  # a DB-API error wrapped by SQLAlchemy
    if isinstance(exc, OSError) and orig is None:
        reason = exc.strerror or str(exc)
        if exc.filename:
            reason = f"{reason}: {exc.filename}"
    else:
        reason = str(orig if orig is not None else exc)
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    if password:
        reason = reason.replace(password, "***")
    return StoreError(f"cannot open the store at {display_url}: {reason}")
