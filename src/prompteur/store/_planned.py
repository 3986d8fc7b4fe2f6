"""What the store reads of a planned run to record it. The planner's Plan has these, and
more; the store names only what it keeps, so that it stands below the planner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..config._models import Suite
from ..prompts._template import PromptTemplate
from ..providers._base import Provider

__all__ = ["PlannedCase", "PlannedRun"]


class PlannedCase(Protocol):
    """A test case of the plan, as the cases table keeps it."""

    @property
    def key(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def vars(self) -> Mapping[str, Any]: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


class PlannedRun(Protocol):
    """A run about to start: its prompts, providers and cases, and its fingerprint (what a
    resumed run must match)."""

    @property
    def description(self) -> str | None: ...

    @property
    def prompts(self) -> Sequence[PromptTemplate]: ...

    @property
    def providers(self) -> Sequence[Provider]: ...

    @property
    def provider_labels(self) -> Sequence[str]: ...

    @property
    def tests(self) -> Sequence[PlannedCase]: ...

    @property
    def suite(self) -> Suite | None: ...

    @property
    def total_cells(self) -> int: ...

    def fingerprint(self) -> str: ...
