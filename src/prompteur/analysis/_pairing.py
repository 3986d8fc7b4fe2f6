"""Which prompt of one run stands for which prompt of another.

Runs name their prompts as the suite wrote them: a registered prompt may be ``support`` in
one run, ``candidate`` (a custom label) in the next, and ``support@v2`` in a run that holds
two of its versions. Comparisons and history pair them by what they are: the same name
first, then the same registered prompt (the same version, then any version of it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import RunInfo

__all__ = ["RunPrompt", "line_name", "pair_prompts", "run_prompts", "version_name"]


@dataclass(frozen=True, slots=True)
class RunPrompt:
    """A prompt as a run recorded it: its id in the run, and the registered prompt's
    (name, version) when it came from the registry."""

    ident: str
    registered: tuple[str, int] | None = None

    @property
    def shown(self) -> str:
        """The id, with the exact version when the id does not already say it."""
        if self.registered is None:
            return self.ident
        exact = version_name(self.registered)
        return self.ident if self.ident == exact else f"{self.ident} ({exact})"


def run_prompts(info: RunInfo) -> list[RunPrompt]:
    """A stored run's prompts, in its order."""
    registered = info.registered or [None] * len(info.prompts)
    return [RunPrompt(name, reg) for (name, _), reg in zip(info.prompts, registered, strict=True)]


def version_name(registered: tuple[str, int]) -> str:
    name, version = registered
    return f"{name}@v{version}"


def pair_prompts(a: Sequence[RunPrompt], b: Sequence[RunPrompt]) -> dict[int, int]:
    """Positions in ``a`` mapped to the positions in ``b`` they stand for. Each prompt pairs
    with at most one; an ambiguous match (two versions of one prompt on a side, and nothing
    telling which) pairs nothing, so that the user picks with ``--prompts``."""
    pairs: dict[int, int] = {}
    for key in (_by_id, _by_version, _by_name):
        left = _unique(a, set(pairs), key)
        right = _unique(b, set(pairs.values()), key)
        for value, position in left.items():
            if value in right:
                pairs[position] = right[value]
    if not pairs and len(a) == 1 and len(b) == 1:
        pairs[0] = 0  # one prompt a side: that is what is being compared, whatever its name
    return dict(sorted(pairs.items()))


def line_name(prompt: RunPrompt, others: Sequence[RunPrompt]) -> str:
    """The history line a prompt belongs to: a registered prompt's name when the run holds
    one version of it (its versions then form one line over time), else its id."""
    if prompt.registered is None:
        return prompt.ident
    name = prompt.registered[0]
    same = [p for p in others if p.registered is not None and p.registered[0] == name]
    return name if len(same) == 1 else prompt.ident


def _by_id(prompt: RunPrompt) -> object:
    return prompt.ident


def _by_version(prompt: RunPrompt) -> object:
    return prompt.registered


def _by_name(prompt: RunPrompt) -> object:
    return prompt.registered[0] if prompt.registered else None


def _unique(
    prompts: Sequence[RunPrompt], taken: set[int], key: Callable[[RunPrompt], object]
) -> dict[object, int]:
    """The side's prompts not paired yet, by key, leaving out keys that two of them share."""
    found: dict[object, int] = {}
    shared: set[object] = set()
    for position, prompt in enumerate(prompts):
        value = key(prompt)
        if value is None or position in taken:
            continue
        if value in found:
            shared.add(value)
        found[value] = position
    return {value: position for value, position in found.items() if value not in shared}
