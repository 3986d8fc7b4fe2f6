"""How the API refuses a request: a JSON body ``{"error": "..."}`` and its status,
described in the OpenAPI schema of every route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["REFUSALS", "Refusal"]


class Refusal(BaseModel):
    error: str


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal, "description": "Bad input"},
    401: {"model": Refusal, "description": "Not signed in"},
    403: {"model": Refusal, "description": "Not allowed for this role"},
    404: {"model": Refusal, "description": "No such run, cell, queue or prompt"},
    409: {"model": Refusal, "description": "Conflicts with the run's state"},
}
