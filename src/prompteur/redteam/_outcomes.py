"""What `redteam`, `bias` and `robustness` measure, in one shape: a rate per category (attack
success rate, flip rate, pass-rate drop) with its 95% interval, attempt count and worst
examples, so the three share their reports and their CI gates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core._errors import PrompteurError
from ..core._stats import wilson_interval

__all__ = [
    "CategoryOutcome",
    "Example",
    "Gap",
    "GroupRate",
    "SafetyResult",
    "gate_failures",
    "parse_rate_limit",
    "proportion",
]

Kind = Literal["redteam", "bias", "robustness"]


@dataclass(frozen=True)
class Example:
    """One attempt worth showing: the case's key as `show` prints it, what was sent, what
    came back, and why it counts (the detector's or the comparison's reason)."""

    cell: str
    sent: str
    output: str
    reason: str


@dataclass(frozen=True)
class GroupRate:
    """The pass rate of one group within a category (``female`` for gender, ``original``
    and ``perturbed`` for a perturbation), with its Wilson interval."""

    group: str
    attempts: int
    passed: int
    rate: float
    low: float
    high: float

    @classmethod
    def of(cls, group: str, passed: int, attempts: int) -> GroupRate:
        low, high = wilson_interval(passed, attempts)
        return cls(group, attempts, passed, passed / attempts if attempts else 0.0, low, high)


@dataclass(frozen=True)
class Gap:
    """The largest pass-rate difference between two groups (``high`` minus ``low``), with
    its 95% interval."""

    high_group: str
    low_group: str
    difference: float
    low: float
    high: float


@dataclass(frozen=True)
class CategoryOutcome:
    """One category's rate over its attempts. ``hits`` are the attempts that count against
    the prompt (attacks that succeeded, verdicts that flipped); ``low``/``high`` bound the
    rate at 95%. For a drop, ``rate`` is the paired difference and the bounds its interval."""

    category: str
    attempts: int
    hits: int
    rate: float
    low: float
    high: float
    examples: tuple[Example, ...] = ()
    #: cases that had something to change but were left out (a swap that would have made
    #: the sentence ungrammatical) and pairs lost to an errored cell: neither is an attempt
    skipped: int = 0
    errors: int = 0
    groups: tuple[GroupRate, ...] = ()
    gap: Gap | None = None
    #: every attempt that counted against the prompt (its cell key), not only the examples
    flagged: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "category": self.category,
            "attempts": self.attempts,
            "successes": self.hits,
            "rate": self.rate,
            "interval": [self.low, self.high],
            "skipped": self.skipped,
            "errors": self.errors,
        }
        if self.groups:
            found["groups"] = [vars(g) for g in self.groups]
        if self.gap is not None:
            found["gap"] = vars(self.gap)
        found["examples"] = [vars(e) for e in self.examples]
        if self.flagged:
            found["cells"] = list(self.flagged)
        return found


def proportion(
    category: str, hits: int, attempts: int, examples: Sequence[Example] = ()
) -> CategoryOutcome:
    """A rate of hits among attempts, with its Wilson interval."""
    low, high = wilson_interval(hits, attempts)
    rate = hits / attempts if attempts else 0.0
    return CategoryOutcome(category, attempts, hits, rate, low, high, tuple(examples))


@dataclass(frozen=True)
class SafetyResult:
    """One command's measurement of one prompt: the stored run it came from, the settings it
    was made with (recorded with the run), and the same measurement of the previous run of
    the same suite and prompt, when there is one."""

    kind: Kind
    run_id: str
    suite: str | None
    prompt: str
    metric: str  # "attack success rate", "flip rate", "pass-rate drop"
    categories: tuple[CategoryOutcome, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    previous: SafetyResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "run": self.run_id,
            "suite": self.suite,
            "prompt": self.prompt,
            "metric": self.metric,
            "settings": dict(self.settings),
            "categories": [c.to_json() for c in self.categories],
            "previous": None if self.previous is None else self.previous.to_json(),
        }


def parse_rate_limit(text: str) -> float:
    """``5%``, ``0.05`` → 0.05: the gate options' values."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise PrompteurError(f"not a rate: {text!r} (write it as 5% or 0.05)") from None
    if not 0 <= value <= 1:
        raise PrompteurError(f"a rate must be between 0% and 100%, not {text!r}")
    return value


def gate_failures(result: SafetyResult, limit: float) -> list[CategoryOutcome]:
    """The categories whose rate is above the limit: any of them fails the gate."""
    return [c for c in result.categories if c.attempts and c.rate > limit]
