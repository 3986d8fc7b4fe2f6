"""What a run produces: one CellResult per cell, streamed to sinks as cells finish."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["AssertionResult", "CellResult", "HumanVerdict", "Status"]

Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True, slots=True)
class AssertionResult:
    """One assertion's verdict on one output."""

    type: str
    value: Any
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "pass": self.passed,
            "score": self.score,
            "reason": self.reason,
            "weight": self.weight,
            "metric": self.metric,
        }


@dataclass(frozen=True, slots=True)
class HumanVerdict:
    """A person's verdict on a cell, kept beside the automatic grades; where there is one,
    reports and comparisons use it."""

    passed: bool
    score: float | None
    comment: str | None
    author: str
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "pass": self.passed,
            "score": self.score,
            "comment": self.comment,
            "author": self.author,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class CellResult:
    """The outcome of one cell. ``error`` is set when the model call failed (after retries);
    such a cell is neither passed nor failed, and has no assertion results."""

    prompt_index: int
    provider_index: int
    test_index: int
    repeat: int
    prompt_id: str
    provider_id: str
    test_description: str | None
    vars: Mapping[str, Any]
    prompt: str
    output: str | None
    error: str | None
    passed: bool
    score: float
    assertions: tuple[AssertionResult, ...] = ()
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    finish_reason: str | None = None
    cached: bool = False
    attempts: int = 1
    metadata: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None  # as the provider reported it (drift shows here)
    # what grading this cell cost (model-graded assertions), apart from the task's own
    grader_prompt_tokens: int | None = None
    grader_completion_tokens: int | None = None
    grader_cost: float | None = None
    human: HumanVerdict | None = None  # a person's verdict, which overrides the grades

    @property
    def key(self) -> str:
        """Identifies the cell within its run (prompt:provider:test:repeat indices)."""
        return f"{self.prompt_index}:{self.provider_index}:{self.test_index}:{self.repeat}"

    @property
    def case_label(self) -> str:
        """How reports name the case: its description, else its variables (shortened)."""
        if self.test_description:
            return self.test_description
        text = ", ".join(f"{k}={v}" for k, v in self.vars.items())
        text = " ".join(text.split()) or f"test {self.test_index + 1}"
        return text if len(text) <= 70 else text[:69] + "…"

    @property
    def cut_short(self) -> bool:
        """The model stopped at its token limit (``max_tokens``): the output is cut off, and
        a failure may say more about the limit than about the prompt."""
        return self.error is None and self.finish_reason == "length"

    @property
    def status(self) -> Status:
        if self.human is not None:
            return "pass" if self.human.passed else "fail"
        if self.error is not None:
            return "error"
        return "pass" if self.passed else "fail"

    @property
    def final_score(self) -> float:
        """The score that counts: a person's when they gave one, else the graders'."""
        if self.human is None:
            return self.score
        if self.human.score is not None:
            return self.human.score
        return 1.0 if self.human.passed else 0.0

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def failed_assertions(self) -> list[AssertionResult]:
        return [a for a in self.assertions if not a.passed]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the shape of json and jsonl outputs)."""
        return {
            "key": self.key,
            "prompt": self.prompt_id,
            "provider": self.provider_id,
            "test": self.test_index,
            "description": self.test_description,
            "repeat": self.repeat,
            "vars": dict(self.vars),
            "rendered_prompt": self.prompt,
            "output": self.output,
            "status": self.status,
            "pass": self.status == "pass",
            "score": self.final_score,
            "error": self.error,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "total": self.total_tokens,
            },
            "cost": self.cost,
            "finish_reason": self.finish_reason,
            "model": self.model,
            "cached": self.cached,
            "grading": {
                "prompt_tokens": self.grader_prompt_tokens,
                "completion_tokens": self.grader_completion_tokens,
                "cost": self.grader_cost,
            },
            "attempts": self.attempts,
            "assertions": [a.to_dict() for a in self.assertions],
            "metadata": dict(self.metadata),
            **({"human": self.human.to_dict()} if self.human is not None else {}),
        }
