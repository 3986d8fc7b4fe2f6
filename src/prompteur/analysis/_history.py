"""The history of a suite's runs: each prompt × provider line's pass rates, outcomes, models
and prompt versions run after run, and the drift alarms between consecutive runs."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._compare import ALPHA, Outcome, compare_outcomes
from ._pairing import line_name, run_prompts, version_name

if TYPE_CHECKING:
    from ..store import RunInfo, Store

__all__ = ["HistoryLine", "drift_alarms", "run_history"]


@dataclass
class HistoryLine:
    """One prompt × provider across runs: its pass rate, outcomes, models and prompt
    versions in each run."""

    rates: list[float | None] = field(default_factory=list)
    outcomes: list[dict[Hashable, Outcome | None]] = field(default_factory=list)
    models: list[set[str]] = field(default_factory=list)
    # the prompt in each run: a registered prompt's exact version, else its label
    versions: list[set[str]] = field(default_factory=list)
    registered: bool = False  # the line is a registered prompt's, across its versions
    human: int = 0  # cells whose verdict is a person's, over all the runs shown

    def shown(self, prompt: str) -> str:
        """The prompt's name for a registered prompt (its versions are in the alarms), else
        its latest label."""
        if self.registered:
            return prompt
        latest = next((v for v in reversed(self.versions) if v), set())
        return min(latest) if latest else prompt


def run_history(store: Store, runs: list[RunInfo]) -> dict[tuple[str, str], HistoryLine]:
    """Each (prompt line, provider) across ``runs``, in their order."""

    # A registered prompt's versions form one line, whatever label a suite gave them.
    groups: dict[tuple[str, str], HistoryLine] = {}
    for index, info in enumerate(runs):
        prompts = run_prompts(info)
        lines = [line_name(p, prompts) for p in prompts]
        for cell in store.outcomes(info.id):
            prompt = prompts[cell.prompt_pos]
            group = groups.setdefault((lines[cell.prompt_pos], cell.provider), HistoryLine())
            while len(group.outcomes) <= index:
                group.outcomes.append({})
                group.models.append(set())
                group.versions.append(set())
            group.outcomes[index][(cell.test_key, cell.repeat)] = (
                None if cell.status == "error" else Outcome(cell.status == "pass", cell.case)
            )
            if cell.model:
                group.models[index].add(cell.model)
            if prompt.registered is not None:
                group.registered = True
                group.versions[index].add(version_name(prompt.registered))
            else:
                group.versions[index].add(cell.prompt_label)
            group.human += cell.human
    for group in groups.values():
        while len(group.outcomes) < len(runs):
            group.outcomes.append({})
            group.models.append(set())
            group.versions.append(set())
        for cells in group.outcomes:
            done = len(cells)
            passed = sum(1 for o in cells.values() if o is not None and o.passed)
            group.rates.append(passed / done if done else None)
    return groups


def drift_alarms(key: tuple[str, str], group: HistoryLine, runs: list[RunInfo]) -> list[str]:
    """What changed between consecutive runs on one line: a significant drop in its pass
    rate (McNemar on the shared cases), a new model, a new prompt version."""

    name = (group.shown(key[0]), key[1])
    alarms = []
    for index in range(1, len(runs)):
        before, after = group.outcomes[index - 1], group.outcomes[index]
        if not before or not after:
            continue
        comparison = compare_outcomes(before, after)
        changes = []
        old, new = group.models[index - 1], group.models[index]
        if old and new and old != new:
            changes.append(
                f"the model changed: {', '.join(sorted(old))} → {', '.join(sorted(new))}"
            )
        old, new = group.versions[index - 1], group.versions[index]
        if old and new and old != new:
            changes.append(
                f"the prompt changed: {', '.join(sorted(old))} → {', '.join(sorted(new))}"
            )
        changed = "".join(f"; {c}" for c in changes)
        if comparison.b_passed < comparison.a_passed and comparison.p_value < ALPHA:
            assert comparison.a_rate is not None and comparison.b_rate is not None
            alarms.append(
                f"run {runs[index].id}: {name[0]} × {name[1]} dropped "
                f"{comparison.a_rate:.0%} → {comparison.b_rate:.0%} on "
                f"{comparison.pairs} shared cases (McNemar p = "
                f"{comparison.p_value:.3g}){changed}"
            )
        elif changed:
            alarms.append(f"run {runs[index].id}: {name[0]} × {name[1]}:{changed[1:]}")
    return alarms
