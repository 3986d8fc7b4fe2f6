"""Racing candidates on validation cases: successive halving with a paired sign test on
per-case scores. Every rung doubles the cases; candidates significantly worse than the
rung's leader, and the lower half, stop there, so a poor candidate costs few calls."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["clearly_better", "mean", "significantly_worse"]

#: One-sided p-value under which a candidate is dropped as worse than the leader.
DROP_P = 0.1
#: One-sided p-value under which a candidate replaces the best so far: strict enough that
#: a candidate no better than the start seldom wins on validation and then loses on the
#: holdout (at 0.25 one in four such candidates would).
PROMOTE_P = 0.1


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _binomial_tail(wins: int, trials: int) -> float:
    """P(X ≥ wins) for X ~ Binomial(trials, 1/2)."""
    if trials == 0:
        return 1.0
    total = sum(math.comb(trials, k) for k in range(wins, trials + 1))
    return total / (1 << trials)


def significantly_worse(candidate: Sequence[float], leader: Sequence[float]) -> bool:
    """Whether ``candidate`` loses to ``leader`` on the same cases beyond chance (sign
    test on the cases where they differ)."""
    leader_better = sum(1 for c, b in zip(candidate, leader, strict=True) if b > c)
    candidate_better = sum(1 for c, b in zip(candidate, leader, strict=True) if c > b)
    return _binomial_tail(leader_better, leader_better + candidate_better) < DROP_P


def clearly_better(candidate: Sequence[float], incumbent: Sequence[float]) -> bool:
    """Whether ``candidate`` beats ``incumbent`` on the same cases by more than chance
    would often give (sign test on the cases where they differ)."""
    wins = sum(1 for c, b in zip(candidate, incumbent, strict=True) if c > b)
    losses = sum(1 for c, b in zip(candidate, incumbent, strict=True) if b > c)
    return mean(candidate) > mean(incumbent) and _binomial_tail(wins, wins + losses) < PROMOTE_P
