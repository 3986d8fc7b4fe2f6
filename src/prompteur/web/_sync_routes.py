"""What ``prompteur --server URL`` calls: recording runs, reading them, rating cells."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["sync_router"]


def sync_router() -> APIRouter:
    router = APIRouter(prefix="/api/sync", tags=["sync"])
    return router
