"""Which of a suite's cases a run takes (promptfoo's ``--filter-*`` flags): applied to the
planned tests after their identities are known, so a case keeps its key (and its cached
answers) whether it runs alone or with the others."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core._errors import SuiteError

if TYPE_CHECKING:
    from ._plan import PlannedTest

__all__ = ["CaseFilter"]


@dataclass(frozen=True)
class CaseFilter:
    """Applied in promptfoo's order: metadata, failing cases, pattern, first N, sample."""

    first_n: int | None = None
    pattern: str | None = None
    sample: int | None = None
    seed: int = 0
    metadata: tuple[tuple[str, str], ...] = ()
    #: keys of the cases to keep (those that failed or errored in a recorded run)
    keys: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise SuiteError(f"--filter-pattern {self.pattern!r} is no regex: {exc}") from None

    @property
    def active(self) -> bool:
        return any(
            (self.first_n is not None, self.pattern, self.sample is not None, self.metadata)
        ) or (self.keys is not None)

    def apply(self, tests: Sequence[PlannedTest]) -> list[PlannedTest]:
        kept = list(tests)
        for key, value in self.metadata:
            kept = [t for t in kept if _as_text(t.metadata.get(key)) == value]
        if self.keys is not None:
            kept = [t for t in kept if t.key in self.keys]
        if self.pattern:
            regex = re.compile(self.pattern)
            kept = [t for t in kept if regex.search(_searched_text(t))]
        if self.first_n is not None:
            kept = kept[: self.first_n]
        if self.sample is not None and self.sample < len(kept):
            chosen = sorted(random.Random(self.seed).sample(range(len(kept)), self.sample))
            kept = [kept[i] for i in chosen]
        if not kept:
            raise SuiteError("the --filter-* options leave no test case to run")
        return kept

    def to_saved(self) -> dict[str, Any]:
        """What a run keeps, so that resuming it plans the same cases."""
        saved: dict[str, Any] = {
            "first_n": self.first_n,
            "pattern": self.pattern,
            "sample": self.sample,
            "seed": self.seed,
            "metadata": [list(pair) for pair in self.metadata],
            "keys": sorted(self.keys) if self.keys is not None else None,
        }
        return {k: v for k, v in saved.items() if v not in (None, [])}

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any] | None) -> CaseFilter | None:
        if not saved:
            return None
        keys = saved.get("keys")
        return cls(
            first_n=saved.get("first_n"),
            pattern=saved.get("pattern"),
            sample=saved.get("sample"),
            seed=int(saved.get("seed", 0)),
            metadata=tuple((str(k), str(v)) for k, v in saved.get("metadata", [])),
            keys=frozenset(keys) if keys is not None else None,
        )


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _searched_text(test: PlannedTest) -> str:
    """The description, else the variables as JSON text."""
    if test.description:
        return test.description
    return json.dumps(dict(test.vars), sort_keys=True, default=str, ensure_ascii=False)
