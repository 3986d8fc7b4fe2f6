"""The optimizer's budget and its ledger of calls by role (task, proposer, judge).

Only calls that reach a model are charged: answers served from the cache are free. The
ledger is asked before every call (and before every batch of calls) and refuses what
would overflow the budget, so the cap is never exceeded. A budget in calls is exact; a
budget in tokens or dollars is checked against an estimate of the next call (one and a
half times the largest call seen so far), since a call's size is known only once made.

The search's own decisions count every call it asks for, answered from the cache or not
(``used``): a warm cache makes a search free, never different, so the same seed gives the
same result, and a resumed search replays its way to where it stopped."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core._errors import PrompteurError

__all__ = ["ROLES", "Budget", "BudgetError", "Ledger", "RoleUsage", "parse_budget"]

ROLES = ("task", "proposer", "judge")

_BUDGET = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<scale>[kKmM]?)\s*(?P<unit>calls?|tok(?:ens?)?|\$|usd)?\s*$"
)
_DOLLAR_FIRST = re.compile(r"^\s*\$\s*(?P<number>\d+(?:\.\d+)?)\s*$")


class BudgetError(PrompteurError):
    """A budget that cannot be read, or that cannot cover a minimal search."""


@dataclass(frozen=True)
class Budget:
    """A cap on what the search may spend: ``kind`` is calls, tokens or dollars."""

    limit: float
    kind: str = "calls"

    def describe(self) -> str:
        if self.kind == "dollars":
            return f"${self.limit:g}"
        if self.kind == "tokens":
            return f"{self.limit:,.0f} tokens"
        return f"{self.limit:,.0f} calls"


def parse_budget(text: str | int | float | Budget) -> Budget:
    """``300`` (calls), ``300 calls``, ``50k tok``, ``2$`` or ``$2``."""
    if isinstance(text, Budget):
        return text
    if isinstance(text, bool):
        raise BudgetError(f"budget must be a number of calls, tokens or dollars, not {text!r}")
    if isinstance(text, int | float):
        text = str(text)
    match = _BUDGET.match(text)
    dollars = _DOLLAR_FIRST.match(text)
    if dollars is not None:
        return _checked(Budget(float(dollars["number"]), "dollars"), text)
    if match is None:
        raise BudgetError(
            f"budget '{text}' is not a number of calls (300), tokens (50k tok) or dollars (2$)"
        )
    number = float(match["number"]) * {"": 1, "k": 1e3, "m": 1e6}[match["scale"].lower()]
    unit = (match["unit"] or "calls").lower()
    kind = "dollars" if unit in ("$", "usd") else "tokens" if unit.startswith("tok") else "calls"
    if kind == "calls" and not number.is_integer():
        raise BudgetError(f"budget '{text}': a number of calls is a whole number")
    return _checked(Budget(number, kind), text)


def _checked(budget: Budget, text: str) -> Budget:
    if not math.isfinite(budget.limit) or budget.limit <= 0:
        raise BudgetError(f"budget '{text}' must be above zero")
    return budget


@dataclass
class RoleUsage:
    """What one role spent: calls charged, answers from the cache, tokens and cost."""

    calls: int = 0
    cached: int = 0
    refused: int = 0
    cached_tokens: int = 0
    cached_cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Ledger:
    """Charges calls against a budget. ``prior`` is what a search was charged before it
    was interrupted (kept in the store); ``on_charge`` is told each new charge first."""

    budget: Budget
    prior: Mapping[str, Any] = field(default_factory=dict)
    on_charge: Callable[[dict[str, Any]], None] | None = None
    roles: dict[str, RoleUsage] = field(default_factory=dict)
    _pending: float = 0.0
    _largest: float = 0.0
    _held: float = 0.0  # set aside for the holdout's final scoring

    _prior_units: float = 0.0
    _prior_calls: int = 0
    _cached_units: float = 0.0

    def __post_init__(self) -> None:
        for role in ROLES:
            saved = (self.prior.get("roles") or {}).get(role) or {}
            kept = {k: v for k, v in saved.items() if k in RoleUsage.__dataclass_fields__}
            # what an interrupted search was charged stays charged; its cache hits were free
            kept.update(cached=0, cached_tokens=0, cached_cost=0.0)
            self.roles[role] = RoleUsage(**kept)
        self._prior_units = self.charged
        self._prior_calls = self.calls

    # -- what is spent, in the budget's unit
    def _units(self, usage: RoleUsage) -> float:
        if self.budget.kind == "tokens":
            return float(usage.tokens)
        if self.budget.kind == "dollars":
            return usage.cost
        return float(usage.calls)

    @property
    def charged(self) -> float:
        """What calls that reached a model cost, this search's earlier sessions included."""
        return sum(self._units(u) for u in self.roles.values()) + self._pending

    @property
    def used(self) -> float:
        """What every call this session asked for would cost, cached or not."""
        return self.charged - self._prior_units + self._cached_units

    @property
    def spent(self) -> float:
        """What the search's decisions count as spent (the holdout's share included)."""
        return max(self.used, self.charged) + self._held

    def hold(self, units: float) -> None:
        """Set ``units`` aside (the holdout's scoring), out of the search's reach."""
        self._held = units

    def release(self) -> None:
        self._held = 0.0

    @property
    def calls(self) -> int:
        return sum(u.calls for u in self.roles.values())

    @property
    def asked(self) -> int:
        """Calls this session asked for, answered from the cache or not: the measure of
        the search's own progress (the same on a warm cache as on a cold one)."""
        cached = sum(u.cached for u in self.roles.values())
        return self.calls - self._prior_calls + cached

    @property
    def remaining(self) -> float:
        return max(0.0, self.budget.limit - self.spent)

    def estimate(self, prompt_chars: int = 0) -> float:
        """What the next call is expected to cost, in the budget's unit."""
        if self.budget.kind == "calls":
            return 1.0
        if self.budget.kind == "tokens":
            return max(1.5 * self._largest, prompt_chars / 3 + 256)
        return 1.5 * self._largest if self._largest else self.budget.limit / 50

    def affordable_calls(self, prompt_chars: int = 0) -> int:
        """How many more calls fit in the budget."""
        return int(self.remaining // self.estimate(prompt_chars) + 1e-9)

    def reserve(self, role: str, prompt_chars: int = 0) -> float | None:
        """Charge one call before it is made; None (and nothing charged) when it would
        overflow the budget. Returns the reservation to settle once the call answers."""
        estimate = self.estimate(prompt_chars)
        if self.spent + estimate > self.budget.limit + 1e-9:
            self.roles[role].refused += 1
            return None
        self.roles[role].calls += 1
        if self.budget.kind == "calls":
            estimate = 0.0  # the call itself is the unit: counted above
        self._pending += estimate
        if self.on_charge is not None:
            self.on_charge(self.to_json())
        return estimate

    def settle(
        self,
        role: str,
        reservation: float,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cost: float | None,
    ) -> None:
        """Replace a reservation by what the call really cost."""
        self._pending = max(0.0, self._pending - reservation)
        usage = self.roles[role]
        usage.prompt_tokens += prompt_tokens or 0
        usage.completion_tokens += completion_tokens or 0
        usage.cost += cost or 0.0
        if self.budget.kind == "tokens":
            self._largest = max(self._largest, (prompt_tokens or 0) + (completion_tokens or 0))
        elif self.budget.kind == "dollars":
            self._largest = max(self._largest, cost or 0.0)
        if self.on_charge is not None and self.budget.kind != "calls":
            self.on_charge(self.to_json())

    def served_from_cache(self, role: str, tokens: int = 0, cost: float = 0.0) -> None:
        """An answer from the cache: not charged, but counted in what the search used."""
        usage = self.roles[role]
        usage.cached += 1
        usage.cached_tokens += tokens
        usage.cached_cost += cost
        self._cached_units += {"tokens": float(tokens), "dollars": cost}.get(self.budget.kind, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": {"limit": self.budget.limit, "kind": self.budget.kind},
            "spent": self.charged,
            "used": self.used,
            "calls": self.calls,
            "roles": {role: asdict(usage) for role, usage in self.roles.items()},
        }
