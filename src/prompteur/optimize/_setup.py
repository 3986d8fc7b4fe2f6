"""Setting a search up: the suite's plan (with held-out tests from a file, if given), the
prompt to improve, the seeded split, the answer variable and the labelled
demonstrations."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..assertions._grading import score_test
from ..assertions._registry import GradingContext
from ..config._loader import load_suite
from ..config._models import Suite
from ..core._errors import PrompteurError
from ..eval._api import plan_suite
from ..eval._plan import Plan
from ._candidate import Demo, PromptShape
from ._search import Splits

__all__ = ["OptimizeError", "Settings", "choose_prompt", "labelled_demos", "plan_search", "split"]

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class OptimizeError(PrompteurError):
    """Settings the optimizer cannot work with (a prompt it cannot find, too few cases)."""


@dataclass(frozen=True)
class Settings:
    """What a search was asked for: kept in the store, so that it can be resumed."""

    prompt: str | None = None
    budget: str = "300"
    method: str = "auto"
    proposer: str | None = None
    answer_var: str | None = None
    holdout: str = "30%"
    seed: int = 0
    providers: tuple[str, ...] = ()
    text_only: bool = False  # a text prompt's candidates stay text (no demonstrated turns)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "providers": list(self.providers)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["providers"] = tuple(known.get("providers") or ())
        return cls(**known)


def _as_suite(suite: Suite | str | Path | Mapping[str, Any]) -> Suite:
    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, str | Path):
        return load_suite(suite)
    return Suite.model_validate(dict(suite))


def plan_search(
    suite: Suite | str | Path | Mapping[str, Any], settings: Settings, store: Any
) -> tuple[Plan, list[int] | None]:
    """The suite's plan; with ``--holdout FILE``, the file's tests are added after the
    suite's, and their positions returned as the holdout."""
    loaded = _as_suite(suite)
    providers = list(settings.providers) or None
    if _PERCENT.match(settings.holdout):
        return plan_suite(loaded, providers=providers, store=store), None
    path = Path(settings.holdout)
    if not path.is_file():
        raise OptimizeError(f"--holdout {settings.holdout}: neither a share (30%) nor a file")
    plan = plan_suite(loaded, providers=providers, store=store)
    held_suite = loaded.model_copy(update={"tests": [f"file://{path.absolute()}"]})
    held = plan_suite(held_suite, providers=providers, store=store)
    offset = len(plan.tests)
    extra = [replace(t, index=offset + i) for i, t in enumerate(held.tests)]
    combined = replace(plan, tests=[*plan.tests, *extra], rendered={}, affixed=None)
    return combined, list(range(offset, offset + len(extra)))


def choose_prompt(plan: Plan, wanted: str | None) -> int:
    """The position of the prompt to improve: by label or id, 1-based index, or
    registered reference (name, name@label, name@vN)."""
    prompts = plan.prompts
    if wanted is None:
        if len(prompts) == 1:
            return 0
        labels = ", ".join(p.label for p in prompts)
        raise OptimizeError(
            f"the suite has {len(prompts)} prompts ({labels}): pick one with --prompt"
        )
    pinned = plan.pins().get(wanted)  # a suite's reference, resolved when it was planned
    for position, prompt in enumerate(prompts):
        if wanted in (prompt.label, prompt.id):
            return position
        registered = prompt.registry
        if pinned is not None and registered is not None and pinned == _ref(registered):
            return position
        if prompt.registry is not None:
            name, version = prompt.registry
            if wanted in (name, f"{name}@v{version}", f"{name}@{version}"):
                return position
    if wanted.isdigit() and 1 <= int(wanted) <= len(prompts):
        return int(wanted) - 1
    labels = ", ".join(p.label for p in prompts)
    raise OptimizeError(f"no prompt '{wanted}' in the suite (its prompts: {labels})")


def _ref(registry: tuple[str, int]) -> str:
    return f"{registry[0]}@v{registry[1]}"


def split(count: int, holdout: str, seed: int, held: list[int] | None) -> Splits:
    """Seeded train / validation / holdout split of the suite's cases: the holdout is a
    share of them (or the tests of a file), the rest 40% training, 60% validation."""
    cases = list(range(count))
    random.Random(seed).shuffle(cases)
    if held is None:
        match = _PERCENT.match(holdout)
        share = float(match[1]) / 100 if match else 0.3
        if not 0 < share < 1:
            raise OptimizeError(f"--holdout {holdout}: the share must be between 0% and 100%")
        size = max(1, round(share * count))
        held, cases = sorted(cases[:size]), cases[size:]
    if len(cases) < 4:
        raise OptimizeError(
            f"the suite has {count} test cases: the optimizer needs at least 4 besides the "
            "holdout (some to learn from, some to choose between candidates)"
        )
    train_size = max(1, round(0.4 * len(cases)))
    return Splits(cases[:train_size], cases[train_size:], held)


def labelled_demos(
    plan: Plan, shape: PromptShape, cases: Sequence[int], answer_var: str | None
) -> list[Demo]:
    """Demonstrations from the training cases' expected answers, kept only where the
    answer itself passes the case's own (deterministic) checks."""
    if answer_var is None:
        return []
    demos = []
    for case in cases:
        test = plan.tests[case]
        if answer_var not in test.vars:
            continue
        answer = str(test.vars[answer_var]).strip()
        if not answer or not _passes(test, answer):
            continue
        demos.append(Demo(case, shape.demo_input(test.vars), answer))
    return demos


def _passes(test: Any, answer: str) -> bool:
    if any(a.is_async or a.is_group for a in test.assertions):
        return True  # a judge would have to be called: taken as given
    context = GradingContext(
        output=answer, vars=test.vars, prompt="", provider_id="", test_description=""
    )
    try:
        graded = [a.grade_sync(context) for a in test.assertions]
        return score_test(graded, test.threshold)[0]
    except Exception:
        return False
