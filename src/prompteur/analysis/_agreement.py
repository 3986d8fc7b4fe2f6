"""Agreement between two raters on pass/fail verdicts: Cohen's κ with a 95% interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Agreement", "cohen_kappa"]

Z_95 = 1.959964


@dataclass(frozen=True)
class Agreement:
    pairs: int
    observed: float | None  # the share of pairs where both said the same
    kappa: float | None  # None when undefined (no pairs, or both raters constant alike)
    low: float | None
    high: float | None


def cohen_kappa(pairs: Sequence[tuple[bool, bool]]) -> Agreement:
    """κ = (po − pe) / (1 − pe) over paired verdicts, with the large-sample interval
    κ ± z·√(po(1 − po) / (n(1 − pe)²)) (Cohen 1960), clipped to [−1, 1]."""
    n = len(pairs)
    if n == 0:
        return Agreement(0, None, None, None, None)
    agree = sum(1 for a, b in pairs if a == b) / n
    first = sum(1 for a, _ in pairs if a) / n
    second = sum(1 for _, b in pairs if b) / n
    chance = first * second + (1 - first) * (1 - second)
    if chance >= 1:
        return Agreement(n, agree, None, None, None)
    kappa = (agree - chance) / (1 - chance)
    spread = Z_95 * math.sqrt(agree * (1 - agree) / (n * (1 - chance) ** 2))
    return Agreement(n, agree, kappa, max(-1.0, kappa - spread), min(1.0, kappa + spread))
