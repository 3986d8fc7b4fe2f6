"""Is B really better than A? Paired comparison of pass/fail outcomes on shared cases.

Cells are paired by their case (and repeat): the two sides saw the same input. The report
gives the cases that newly fail and newly pass, the difference in pass rates with a 95%
paired-bootstrap interval, McNemar's exact p-value on the discordant pairs, and a verdict
that says "no significant difference" when the sample cannot tell.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Comparison", "Outcome", "compare_outcomes", "mcnemar_exact", "paired_bootstrap"]

ALPHA = 0.05
BOOTSTRAP_SAMPLES = 10_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """One side of a pair: did the cell pass, and how to show the case."""

    passed: bool
    label: str = ""
    output: str | None = None
    human: bool = False  # the verdict is a person's


@dataclass(frozen=True)
class Comparison:
    label_a: str
    label_b: str
    pairs: int
    excluded: int  # cells present on both sides but errored on at least one
    only_a: int
    only_b: int
    a_passed: int
    b_passed: int
    worsened: int = 0  # passed in A, failed in B
    improved: int = 0  # failed in A, passed in B
    newly_failing: list[tuple[Outcome, Outcome]] = field(default_factory=list)
    newly_passing: list[tuple[Outcome, Outcome]] = field(default_factory=list)
    ci_low: float = 0.0
    ci_high: float = 0.0
    p_value: float = 1.0
    human_a: int = 0  # paired cells whose verdict is a person's, on each side
    human_b: int = 0
    notes: tuple[str, ...] = ()  # what was paired with what, runs that did not finish

    @property
    def a_rate(self) -> float | None:
        return self.a_passed / self.pairs if self.pairs else None

    @property
    def b_rate(self) -> float | None:
        return self.b_passed / self.pairs if self.pairs else None

    @property
    def difference(self) -> float | None:
        """B's pass rate minus A's, on the shared cases."""
        return (self.b_passed - self.a_passed) / self.pairs if self.pairs else None

    @property
    def verdict(self) -> str:
        if not self.pairs:
            return "no shared cases to compare"
        significant = self.p_value < ALPHA and (self.ci_low > 0 or self.ci_high < 0)
        if not significant:
            return "no significant difference at this sample size"
        return "B is better" if self.b_passed > self.a_passed else "B is worse"


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar test: the binomial test of the discordant pairs at 1/2."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    log_half = n * math.log(0.5)
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + log_half
        for i in range(k + 1)
    ]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2.0 * tail)


def paired_bootstrap(
    improved: int, worsened: int, pairs: int, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of the pass-rate difference (B - A) under resampling of pairs.

    Each pair contributes +1 (only B passed), -1 (only A passed) or 0; a resample of n pairs
    is a multinomial draw over those three, so the bootstrap costs O(samples), not
    O(samples × pairs)."""
    if pairs == 0:
        return 0.0, 0.0
    import numpy as np

    rng = np.random.default_rng(seed)
    probabilities = [improved / pairs, worsened / pairs, (pairs - improved - worsened) / pairs]
    draws = rng.multinomial(pairs, probabilities, size=samples)
    differences = (draws[:, 0] - draws[:, 1]) / pairs
    low, high = np.quantile(differences, [0.025, 0.975])
    return float(low), float(high)


def compare_outcomes(
    a: Mapping[Hashable, Outcome | None],
    b: Mapping[Hashable, Outcome | None],
    *,
    label_a: str = "A",
    label_b: str = "B",
    keep: int = 50,
) -> Comparison:
    """Compare two sides keyed by pairing key; ``None`` marks a cell that errored."""
    shared: Sequence[Hashable] = [key for key in a if key in b]
    pairs = excluded = a_passed = b_passed = 0
    newly_failing: list[tuple[Outcome, Outcome]] = []
    newly_passing: list[tuple[Outcome, Outcome]] = []
    worsened = improved = human_a = human_b = 0
    for key in shared:
        left, right = a[key], b[key]
        if left is None or right is None:
            excluded += 1
            continue
        pairs += 1
        a_passed += left.passed
        b_passed += right.passed
        human_a += left.human
        human_b += right.human
        if left.passed and not right.passed:
            worsened += 1
            if len(newly_failing) < keep:
                newly_failing.append((left, right))
        elif right.passed and not left.passed:
            improved += 1
            if len(newly_passing) < keep:
                newly_passing.append((left, right))
    low, high = paired_bootstrap(improved, worsened, pairs)
    return Comparison(
        label_a=label_a,
        label_b=label_b,
        pairs=pairs,
        excluded=excluded,
        only_a=len(a) - len(shared),
        only_b=len(b) - len(shared),
        a_passed=a_passed,
        b_passed=b_passed,
        worsened=worsened,
        improved=improved,
        newly_failing=newly_failing,
        newly_passing=newly_passing,
        ci_low=low,
        ci_high=high,
        p_value=mcnemar_exact(worsened, improved),
        human_a=human_a,
        human_b=human_b,
    )
