"""What a search gives: start against winner on validation and on the holdout (McNemar's
exact test and an interval on the difference), the prompt diff, the anytime curve, every
candidate with its score, and the calls and tokens by role."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..analysis._compare import mcnemar_exact, paired_bootstrap
from ..core._stats import wilson_interval

if TYPE_CHECKING:
    from ._search import Search
    from ._setup import Settings

__all__ = ["HoldoutResult", "OptimizeResult", "holdout_result"]


@dataclass(frozen=True)
class HoldoutResult:
    cases: int
    start_passed: int
    winner_passed: int
    improved: int  # cases only the winner passed
    worsened: int  # cases only the start passed
    p_value: float
    difference_ci: tuple[float, float]

    @property
    def start_rate(self) -> float:
        return self.start_passed / self.cases if self.cases else 0.0

    @property
    def winner_rate(self) -> float:
        return self.winner_passed / self.cases if self.cases else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "start": {
                "passed": self.start_passed,
                "rate": self.start_rate,
                "ci95": wilson_interval(self.start_passed, self.cases),
            },
            "winner": {
                "passed": self.winner_passed,
                "rate": self.winner_rate,
                "ci95": wilson_interval(self.winner_passed, self.cases),
            },
            "only_winner_passed": self.improved,
            "only_start_passed": self.worsened,
            "mcnemar_p": self.p_value,
            "difference_ci95": list(self.difference_ci),
        }


async def holdout_result(search: Search) -> HoldoutResult | None:
    """Score the start and the winner, once each, on the held-out cases."""
    cases = search.splits.holdout
    scorer = search.scorer
    start = await scorer.score(search.start.key, search._templates[search.start.key], cases)
    if search.best.key == search.start.key:
        winner = start
    else:
        winner = await scorer.score(search.best.key, search._templates[search.best.key], cases)
    shared = [c for c in cases if c in start and c in winner]
    if not shared:
        return None
    improved = sum(1 for c in shared if winner[c].passed and not start[c].passed)
    worsened = sum(1 for c in shared if start[c].passed and not winner[c].passed)
    return HoldoutResult(
        len(shared),
        sum(1 for c in shared if start[c].passed),
        sum(1 for c in shared if winner[c].passed),
        improved,
        worsened,
        mcnemar_exact(worsened, improved),
        paired_bootstrap(improved, worsened, len(shared)),
    )


@dataclass
class OptimizeResult:
    """A finished (or interrupted) search."""

    search_id: str
    settings: Settings
    search: Search = field(repr=False)
    answer_var: str | None = None
    interrupted: bool = False
    holdout: HoldoutResult | None = None
    registered: str | None = None
    ledger: dict[str, Any] = field(default_factory=dict)

    @property
    def start_validation(self) -> float | None:
        return self.search.validation_score(self.search.start)

    @property
    def winner_validation(self) -> float | None:
        return self.search.validation_score(self.search.best)

    @property
    def improved(self) -> bool:
        """Whether the winner beat the start on the validation cases."""
        start, winner = self.start_validation, self.winner_validation
        return (
            self.search.best.key != self.search.start.key
            and start is not None
            and winner is not None
            and winner > start
        )

    @property
    def start_prompt(self) -> str:
        return (
            self.search.shape.source(self.search.start)[0]
            if self.search.shape.chat
            else (self.search.shape.start.raw)
        )

    def _start_as_winner(self) -> str:
        """The start in the winner's form (as one user message when the winner's
        demonstrations made a text prompt a chat prompt), for the diff."""
        shape, best = self.search.shape, self.search.best
        if shape.chat or not shape.as_messages(best):
            return self.start_prompt
        return json.dumps(
            [{"role": "user", "content": shape.start.raw}], ensure_ascii=False, indent=2
        )

    @property
    def winner_prompt(self) -> str:
        if self.search.best.key == self.search.start.key:
            return self.start_prompt
        return self.search.shape.source(self.search.best)[0]

    @property
    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                (self._start_as_winner().rstrip("\n") + "\n").splitlines(keepends=True),
                (self.winner_prompt.rstrip("\n") + "\n").splitlines(keepends=True),
                "start",
                "winner",
            )
        )

    def registry_message(self) -> str:
        spent = self.ledger.get("spent", 0)
        budget = self.ledger.get("budget", {})
        return (
            f"optimizer search {self.search_id}: method {self.settings.method} "
            f"({self.search.best.describe()}), budget used {spent:g} of "
            f"{budget.get('limit', 0):g} {budget.get('kind', 'calls')}, seed {self.settings.seed}, "
            f"validation {self.winner_validation or 0:.3f} (start {self.start_validation or 0:.3f})"
        )

    def to_json(self) -> dict[str, Any]:
        search = self.search
        summary = search.summary()
        return {
            "search_id": self.search_id,
            "settings": self.settings.to_json(),
            "interrupted": self.interrupted,
            "improved": self.improved,
            "registered": self.registered,
            "answer_var": self.answer_var,
            "answer_format": search.answer_format,
            "splits": {
                "train": len(search.splits.train),
                "validation": len(search.splits.validation),
                "holdout": len(search.splits.holdout),
            },
            "start": {"prompt": self.start_prompt, "validation": self.start_validation},
            "winner": {
                "prompt": self.winner_prompt,
                "validation": self.winner_validation,
                "origin": search.best.origin,
                "demos": len(search.best.demos),
            },
            "holdout": self.holdout.to_json() if self.holdout is not None else None,
            "diff": self.diff,
            "curve": [{"calls": c, "best_validation": s} for c, s in summary["curve"]],
            "candidates": summary["candidates"],
            "skipped_proposals": {**summary["skipped"], **search.proposer.skipped},
            "proposals": search.proposer.proposed,
            "ledger": self.ledger,
        }
