"""What the store hands back: runs, their cells lightly, a registered prompt's usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CellOutcome", "PromptUsage", "RunInfo", "case_label"]


@dataclass(frozen=True)
class RunInfo:
    """One run as the store knows it.

    ``status`` is ``running``, ``finished`` or ``interrupted``; a run recorded as running
    whose process is gone (or has not been heard of for a while) is ``interrupted``.
    ``passed``, ``failed`` and ``errors`` are the automatic grades; ``final_passed`` and
    ``pass_rate`` count the human verdicts given on ``human`` of its cells instead."""

    id: str
    suite_name: str | None
    suite_path: str | None
    description: str | None
    status: str
    fingerprint: str
    options: Mapping[str, Any]
    tool_version: str
    git_commit: str | None
    started_at: float
    finished_at: float | None
    total_cells: int
    done: int
    passed: int
    failed: int
    errors: int
    duration_s: float | None
    prompts: list[tuple[str, str]] = field(default_factory=list)  # (name, label) by position
    providers: list[tuple[str, str]] = field(default_factory=list)  # (label, label)
    # By prompt position: the registered prompt's (name, version), None for the others.
    registered: list[tuple[str, int] | None] = field(default_factory=list)
    # By prompt position: the hash of the prompt's text (what it is, whatever its name).
    prompt_hashes: list[str] = field(default_factory=list)
    # The last sign of life of the process writing the run (schema 3).
    heartbeat_at: float | None = None
    pid: int | None = None
    host: str | None = None
    author: str | None = None  # who ran it (schema 7)
    human: int = 0  # cells that carry a person's verdict
    human_gain: int = 0  # passes those verdicts add (negative when they fail passing cells)

    @property
    def final_passed(self) -> int:
        return self.passed + self.human_gain

    @property
    def pass_rate(self) -> float | None:
        return self.final_passed / self.done if self.done else None


@dataclass(frozen=True, slots=True)
class PromptUsage:
    """A registered prompt's version in one run, on one provider."""

    run_id: str
    started_at: float
    version: int
    provider: str
    done: int
    passed: int


@dataclass(frozen=True, slots=True)
class CellOutcome:
    prompt_pos: int
    prompt: str
    prompt_label: str
    provider: str
    test_key: str
    repeat: int
    status: str
    output: str | None
    model: str | None
    case: str
    human: bool = False  # the status is a person's verdict
    provider_pos: int = 0
    score: float | None = None  # the person's score where they gave one, else the grade's


def case_label(description: str | None, variables: Mapping[str, Any]) -> str:
    """How reports name a case: its description, else its variables."""
    if description:
        return description
    text = ", ".join(f"{k}={' '.join(str(v).split())}" for k, v in variables.items())
    return text if len(text) <= 80 else text[:79] + "…"
