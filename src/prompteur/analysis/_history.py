"""The history of a suite's runs: each prompt × provider line's pass rates, mean scores,
outcomes, models and prompt versions run after run, and the drift alarms between consecutive
runs. A line follows a prompt, not a name: a registered prompt across its versions, any other
prompt by its text, so that a rewritten suite's new prompts do not extend the old ones'."""

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
    scores: list[float | None] = field(default_factory=list)  # the mean score in each run
    outcomes: list[dict[Hashable, Outcome | None]] = field(default_factory=list)
    models: list[set[str]] = field(default_factory=list)
    # the prompt in each run: a registered prompt's exact version, else its label
    versions: list[set[str]] = field(default_factory=list)
    registered: bool = False  # the line is a registered prompt's, across its versions
    human: int = 0  # cells whose verdict is a person's, over all the runs shown
    # the start of the prompt's text hash, when another line shows under the same label
    tag: str | None = None
    cell_scores: list[list[float]] = field(default_factory=list, repr=False)

    def label(self, prompt: str) -> str:
        """The prompt's name for a registered prompt, else its latest label."""
        if self.registered:
            return prompt
        latest = next((v for v in reversed(self.versions) if v), set())
        return min(latest) if latest else prompt

    def shown(self, prompt: str) -> str:
        """The line's label (a registered prompt's versions are in the alarms), with the
        start of its text's hash when two texts share the label."""
        name = self.label(prompt)
        return f"{name} #{self.tag}" if self.tag else name

    def version_changed(self, index: int) -> str | None:
        """A registered prompt's new version(s) in run ``index``, when they changed."""
        if not self.registered or index == 0:
            return None
        old, new = self.versions[index - 1], self.versions[index]
        if not old or not new or old == new:
            return None
        return ",".join(sorted(v.rsplit("@", 1)[-1] for v in new))


def _line_key(info: RunInfo, position: int, name: str) -> str:
    """A registered prompt's line is its name (see ``line_name``); any other prompt's, its
    text's hash (runs recorded before the hash was kept: its name)."""
    if info.registered and info.registered[position] is not None:
        return name
    hashes = info.prompt_hashes
    return f"#{hashes[position]}" if len(hashes) > position else name


def run_history(store: Store, runs: list[RunInfo]) -> dict[tuple[str, str], HistoryLine]:
    """Each (prompt line, provider) across ``runs``, in their order. The keys' first part
    is the line's identity (a registered name, or ``#`` and the prompt text's hash): show a
    line with ``HistoryLine.shown``."""

    # A registered prompt's versions form one line, whatever label a suite gave them.
    groups: dict[tuple[str, str], HistoryLine] = {}
    for index, info in enumerate(runs):
        prompts = run_prompts(info)
        lines = [_line_key(info, i, line_name(p, prompts)) for i, p in enumerate(prompts)]
        for cell in store.outcomes(info.id):
            prompt = prompts[cell.prompt_pos]
            group = groups.setdefault((lines[cell.prompt_pos], cell.provider), HistoryLine())
            while len(group.outcomes) <= index:
                group.outcomes.append({})
                group.models.append(set())
                group.versions.append(set())
                group.cell_scores.append([])
            if cell.score is not None:
                group.cell_scores[index].append(cell.score)
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
            group.cell_scores.append([])
        for cells in group.outcomes:
            done = len(cells)
            passed = sum(1 for o in cells.values() if o is not None and o.passed)
            group.rates.append(passed / done if done else None)
        group.scores = [sum(s) / len(s) if s else None for s in group.cell_scores]
    _tag_namesakes(groups)
    return groups


def _tag_namesakes(groups: dict[tuple[str, str], HistoryLine]) -> None:
    """Lines of different texts shown under one label (a suite's prompt rewritten in place)
    are told apart by the start of their text's hash."""
    seen: dict[tuple[str, str], list[tuple[str, HistoryLine]]] = {}
    for (key, provider), group in groups.items():
        seen.setdefault((group.label(key), provider), []).append((key, group))
    for same in seen.values():
        if len(same) > 1:
            for key, group in same:
                if key.startswith("#"):
                    group.tag = key[1:7]


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
