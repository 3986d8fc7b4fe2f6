"""What `bias` and `robustness` share: the suite's plan narrowed to the prompt under test,
the variables that carry its input, copies of its cases added beside the originals, and
the whole recorded as an ordinary run tagged with the command and its settings (so that
`compare`, `history` and `show` read it like any other)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import meta

from ..core._errors import PrompteurError, did_you_mean
from ..core._sinks import ResultSink
from ..eval._api import EvalResult, evaluate_plan, plan_suite
from ..eval._options import EvalOptions
from ..eval._plan import Plan, PlannedTest
from ..prompts._template import PromptTemplate

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "TAG",
    "Variant",
    "input_variables",
    "plan_for_prompt",
    "run_with_variants",
    "variant_tag",
    "with_variants",
]

#: the metadata key that marks a generated copy of a case (and what it was made from)
TAG = "prompteur"


@dataclass(frozen=True)
class Variant:
    """A copy of case ``of`` (its index in the plan) with other variables: a counterfactual
    or a perturbed copy, in ``category``; ``detail`` is kept with it (groups, changes)."""

    of: int
    category: str
    vars: Mapping[str, Any]
    detail: Mapping[str, Any]


def variant_tag(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The generated copy's tag in a case's (or a stored cell's) metadata, if it is one."""
    found = metadata.get(TAG) if isinstance(metadata, Mapping) else None
    return found if isinstance(found, Mapping) and "of" in found else None


def plan_for_prompt(
    suite: Path,
    *,
    prompt: str | None,
    providers: Sequence[str],
    store: Store,
) -> Plan:
    """The suite's plan with one prompt: ``prompt`` (its label or id, or a registered
    reference such as ``name@production``), or the suite's only one."""
    from ..config._loader import load_suite
    from ..config._models import PromptSpec

    loaded = load_suite(suite)
    if prompt is not None and "@" in prompt:
        loaded = loaded.model_copy(update={"prompts": [PromptSpec(prompt=prompt)]})
    plan = plan_suite(loaded, providers=list(providers) or None, store=store)
    if prompt is None or "@" in prompt:
        if len(plan.prompts) > 1:
            names = ", ".join(p.label for p in plan.prompts)
            raise PrompteurError(
                f"the suite has {len(plan.prompts)} prompts ({names}); choose one with --prompt"
            )
        return plan
    chosen = [p for p in plan.prompts if prompt in (p.label, p.id)]
    if not chosen:
        labels = [p.label for p in plan.prompts]
        raise PrompteurError(f"no prompt '{prompt}' in the suite{did_you_mean(prompt, labels)}")
    return replace(plan, prompts=chosen[:1], rendered={}, affixed=None, _fingerprint=None)


def _names_in(template: PromptTemplate) -> set[str]:
    found: set[str] = set()
    for part in template.parts:
        try:
            found |= meta.find_undeclared_variables(jinja2.Environment().parse(part.source))
        except jinja2.TemplateSyntaxError:
            continue
    return found


def input_variables(plan: Plan, chosen: Sequence[str] = ()) -> list[str]:
    """The variables that carry the input: ``chosen`` (checked to exist), else those the
    prompt renders. Others (expected answers, references the assertions read) are left
    alone."""
    seen = {name for test in plan.tests for name in test.vars}
    if chosen:
        missing = [name for name in chosen if name not in seen]
        if missing:
            raise PrompteurError(
                f"no case has a variable '{missing[0]}'{did_you_mean(missing[0], sorted(seen))}"
            )
        return list(chosen)
    rendered = set().union(*(_names_in(p) for p in plan.prompts))
    return sorted(name for name in seen if name in rendered)


def with_variants(plan: Plan, variants: Sequence[Variant], command: str) -> Plan:
    """The plan with each variant added as a case after the originals, tagged."""
    tests = list(plan.tests)
    keys = {t.key for t in tests}
    for variant in variants:
        original = plan.tests[variant.of]
        tag = {"command": command, "of": variant.of, "category": variant.category}
        copy: PlannedTest = replace(
            original,
            index=len(tests),
            vars=dict(variant.vars),
            metadata={**original.metadata, TAG: {**tag, **variant.detail}},
            description=(
                f"{original.description} [{variant.category}]" if original.description else None
            ),
            occurrence=0,
        )
        occurrence = 0
        while copy.key in keys:  # two copies alike (a swap two attributes make the same)
            occurrence += 1
            copy = replace(copy, occurrence=occurrence)
        keys.add(copy.key)
        tests.append(copy)
    return replace(plan, tests=tests, rendered={}, affixed=None, _fingerprint=None)


async def run_with_variants(
    plan: Plan,
    *,
    command: str,
    settings: Mapping[str, Any],
    store: Store,
    options: EvalOptions | None = None,
    sinks: Sequence[ResultSink] = (),
    providers: Sequence[str] = (),
) -> EvalResult:
    """Run the plan (originals and variants) as one run in ``store``, tagged with
    ``command``, the prompt and its ``settings``; every result is kept for the measure."""
    return await evaluate_plan(
        plan,
        options or EvalOptions(),
        sinks=sinks,
        store=store,
        providers=providers,
        tags={"name": command, "prompt": plan.prompts[0].label, "settings": dict(settings)},
    )
