"""What the API's grid answers hold, as its OpenAPI schema describes them (the routes
write these answers straight to bytes; the models only document them)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["GridCount", "GridPageBody"]


class GridCellBody(BaseModel):
    key: str = Field(description="the cell, as `show` prints it (prompt:provider:case:repeat)")
    prompt: int
    provider: int
    repeat: int
    status: str = Field(description="the verdict: a person's latest where there is one")
    automatic: str = Field(description="the graders' verdict")
    score: float
    output: str | None = Field(description="the output's first 240 characters")
    truncated: bool = Field(description="whether the output goes on (the cell has all of it)")
    error: str | None
    latency_ms: float | None
    human: bool = Field(description="whether a person rated the cell")


class GridRowBody(BaseModel):
    test: int = Field(description="the case's position in the suite")
    case: str
    cells: list[GridCellBody]


class GridPageBody(BaseModel):
    total: int | None = Field(
        description="rows that match the filters; null when they were not counted yet (the "
        "first pages of a new text search come before their count, which "
        "GET /api/runs/{run}/cells/count gives)"
    )
    offset: int
    more: bool = Field(description="whether rows that match come after this page")
    rows: list[GridRowBody]


class GridCount(BaseModel):
    total: int = Field(description="rows that match the filters")
