"""Comparisons of stored runs: run A against run B (each prompt × provider against the one
it stands for), or one prompt or provider of a run against one of another run or of the
same run; paired on case and repeat, with notes on what was paired and what was left out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from ..core._errors import SuiteError
from ._compare import Comparison, Outcome, compare_outcomes
from ._pairing import line_name, pair_prompts, run_prompts, version_name

if TYPE_CHECKING:
    from ..store import CellOutcome, RunInfo, Store

__all__ = ["compare_chosen", "compare_runs", "pick_position"]

Side = dict[Hashable, "Outcome | None"]
Key = Callable[["CellOutcome"], "Hashable | None"]


def _outcome(cell: CellOutcome) -> Outcome | None:
    if cell.status == "error":
        return None
    return Outcome(cell.status == "pass", cell.case, cell.output, cell.human)


def _side(store: Store, info: RunInfo, key: Key) -> Side:
    side: Side = {}
    for cell in store.outcomes(info.id):
        pairing = key(cell)
        if pairing is not None:
            side[pairing] = _outcome(cell)
    return side


def _aliases(info: RunInfo, position: int) -> set[str]:
    """Other names a user may give a run's prompt: its exact version (``support@v2``), the
    reference the suite wrote (``support@production``), and the registered name when the
    run holds one version of it."""
    prompts = run_prompts(info)
    prompt = prompts[position]
    if prompt.registered is None:
        return set()
    exact = version_name(prompt.registered)
    pins = (info.options.get("cli") or {}).get("pins") or {}
    names = {exact} | {ref for ref, pinned in pins.items() if pinned == exact}
    names.add(line_name(prompt, prompts))  # the registered name, when one version is here
    return names


def pick_position(name: str, info: RunInfo, what: str) -> int:
    """A prompt (``what="prompt"``) or provider of a run, by name, label, 1-based position
    or (for a registered prompt) the reference the suite wrote; its position."""
    choices = info.prompts if what == "prompt" else info.providers
    for position, (ident, label) in enumerate(choices):
        if name in (ident, label, str(position + 1)):
            return position
    if what == "prompt":
        found = [p for p in range(len(choices)) if name in _aliases(info, p)]
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(choices[p][1] for p in found)
            raise SuiteError(f"'{name}' names several prompts of run {info.id} ({names})")
    known = ", ".join(f"{i}: {label}" for i, (_, label) in enumerate(choices, start=1))
    raise SuiteError(f"no {what} '{name}' in run {info.id} (it has {known})")


def _pair_providers(a: RunInfo, b: RunInfo) -> dict[int, int]:
    labels = {label: position for position, (label, _) in enumerate(b.providers)}
    pairs = {i: labels[label] for i, (label, _) in enumerate(a.providers) if label in labels}
    if not pairs and len(a.providers) == 1 and len(b.providers) == 1:
        pairs[0] = 0  # one provider a side: that is what is being compared
    return pairs


class _Pairing:
    """How the prompts and providers of run A stand for those of run B (the identity within
    one run). Cells pair on A's positions; the unpaired keep keys the other side lacks."""

    def __init__(self, a: RunInfo, b: RunInfo) -> None:
        self.a, self.b = a, b
        same = a.id == b.id
        self.prompts = (
            {i: i for i in range(len(a.prompts))}
            if same
            else pair_prompts(run_prompts(a), run_prompts(b))
        )
        self.providers = {i: i for i in range(len(a.providers))} if same else _pair_providers(a, b)
        self._prompts_b = {j: i for i, j in self.prompts.items()}
        self._providers_b = {j: i for i, j in self.providers.items()}

    def prompt(self, cell: CellOutcome, side: str) -> Hashable:
        pairs = self.prompts if side == "a" else self._prompts_b
        paired = pairs.get(cell.prompt_pos)
        return ("prompt", paired) if paired is not None else (side, "prompt", cell.prompt_pos)

    def provider(self, cell: CellOutcome, side: str) -> Hashable:
        pairs = self.providers if side == "a" else self._providers_b
        paired = pairs.get(cell.provider_pos)
        return ("provider", paired) if paired is not None else (side, "provider", cell.provider_pos)

    def notes(self) -> list[str]:
        """What was paired with what, where the names alone do not say it."""
        a_prompts, b_prompts = run_prompts(self.a), run_prompts(self.b)
        notes = [
            f"prompt {a_prompts[i].shown} in A ↔ {b_prompts[j].shown} in B"
            for i, j in self.prompts.items()
            if a_prompts[i] != b_prompts[j]
        ]
        notes += [
            f"provider {self.a.providers[i][1]} in A ↔ {self.b.providers[j][1]} in B"
            for i, j in self.providers.items()
            if self.a.providers[i][1] != self.b.providers[j][1]
        ]
        lonely = [p.shown for i, p in enumerate(a_prompts) if i not in self.prompts]
        if lonely:
            notes.append(f"only in A, not compared: {', '.join(lonely)}")
        lonely = [p.shown for j, p in enumerate(b_prompts) if j not in self._prompts_b]
        if lonely:
            notes.append(f"only in B, not compared: {', '.join(lonely)}")
        if lonely or len(self.prompts) < len(a_prompts):
            notes.append("pick the prompts to compare with --prompts A B")
        return notes


def compare_runs(store: Store, a: RunInfo, b: RunInfo) -> Comparison:
    """Run A against run B: each prompt × provider against the one it stands for."""
    pairing = _Pairing(a, b)

    def key(side: str) -> Key:
        return lambda c: (
            pairing.prompt(c, side),
            pairing.provider(c, side),
            c.test_key,
            c.repeat,
        )

    comparison = compare_outcomes(
        _side(store, a, key("a")),
        _side(store, b, key("b")),
        label_a=f"run {a.id} ({a.suite_name})",
        label_b=f"run {b.id} ({b.suite_name})",
    )
    return dataclasses.replace(comparison, notes=(*_status_notes(a, b), *pairing.notes()))


def compare_chosen(
    store: Store, a: RunInfo, b: RunInfo, what: str, names: tuple[str, str]
) -> Comparison:
    """One prompt (``what="prompt"``) or provider of run A against one of run B, which may
    be the same run: paired on the rest of the cell (provider or prompt, case, repeat)."""
    first, second = pick_position(names[0], a, what), pick_position(names[1], b, what)
    if a.id == b.id and first == second:
        raise SuiteError(f"both sides are the same {what}: name two different ones")
    pairing = _Pairing(a, b)

    def key(side: str, wanted: int) -> Key:
        if what == "prompt":
            return lambda c: (
                (pairing.provider(c, side), c.test_key, c.repeat)
                if c.prompt_pos == wanted
                else None
            )
        return lambda c: (
            (pairing.prompt(c, side), c.test_key, c.repeat) if c.provider_pos == wanted else None
        )

    choices_a = a.prompts if what == "prompt" else a.providers
    choices_b = b.prompts if what == "prompt" else b.providers
    comparison = compare_outcomes(
        _side(store, a, key("a", first)),
        _side(store, b, key("b", second)),
        label_a=f"{choices_a[first][1]} (run {a.id})",
        label_b=f"{choices_b[second][1]} (run {b.id})",
    )
    notes = _status_notes(a) if a.id == b.id else _status_notes(a, b)
    return dataclasses.replace(comparison, notes=tuple(notes))


def _status_notes(*infos: RunInfo) -> list[str]:
    """A run that did not finish is compared on the cells it stored: say so."""
    return [
        f"run {info.id} is {info.status}: compared on the {info.done} of {info.total_cells} "
        "cells it stored"
        for info in infos
        if info.status != "finished"
    ]
