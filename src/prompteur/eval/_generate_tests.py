"""New test cases for a suite, written by a model (promptfoo's ``generate dataset``).

The model is shown the suite's prompts and some of its cases, and asked for one new case at
a time, as a JSON object of the same variables. A case is kept when its variables are all
there and it is not a duplicate of an existing or a new case: the same text once
normalised (case, spaces, punctuation), or a near copy (rapidfuzz's token-set ratio of at
least ``NEAR_DUPLICATE``).
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..assertions._judge_parse import parse_json_object
from ..assertions._registry import REGISTERED_TYPES
from ..config._models import ProviderSpec, Suite
from ..config._tests import resolve_tests
from ..core._errors import SuiteError
from ..providers._base import CompletionRequest, Provider, ProviderContext
from ..providers._registry import DEFAULT_PROVIDER, create_provider
from ._plan_prompts import load_prompts

__all__ = ["NEAR_DUPLICATE", "GeneratedTests", "as_yaml", "generate_tests", "normalised"]

#: rapidfuzz token-set ratio (0-100) from which two cases are one.
NEAR_DUPLICATE = 90.0
#: How many existing cases the model is shown.
EXAMPLES_SHOWN = 8
#: Sampling temperature: new cases need some randomness.
SAMPLING_TEMPERATURE = 0.9
#: Calls per case wanted before giving up (small models often repeat or break the JSON).
ATTEMPTS_PER_CASE = 4

_INSTRUCTIONS = (
    "You write test cases for prompts. A test case fills the prompt's variables with new, "
    "realistic values that differ from the examples and cover other situations, including "
    "hard and unusual ones. Answer with one JSON object, the variables as keys, and nothing "
    "else."
)


@dataclass
class GeneratedTests:
    """The cases kept, and how many answers were dropped, by reason."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    near_duplicates: int = 0
    malformed: int = 0
    calls: int = 0


def normalised(variables: Mapping[str, Any]) -> str:
    """A case's values as comparable text: lower case, words only, single spaces."""
    text = " ".join(
        v if isinstance(v, str) else json.dumps(v, sort_keys=True)
        for _, v in sorted(variables.items())
    )
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _variables(suite: Suite, existing: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for case in existing:
        names += [n for n in case if n not in names]
    if names:
        return names
    from jinja2 import meta

    from ..prompts._template import environment

    for prompt in load_prompts(suite):
        parsed = environment().parse(prompt.raw)
        names += sorted(n for n in meta.find_undeclared_variables(parsed) if n not in names)
    return names


def _request(
    prompts: Sequence[str],
    names: Sequence[str],
    examples: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
) -> CompletionRequest:
    shown = "\n".join(
        json.dumps({n: e.get(n) for n in names}, ensure_ascii=False) for e in examples
    )
    text = (
        f"{_INSTRUCTIONS}\n\nPrompts:\n"
        + "\n---\n".join(prompts)
        + f"\n\nVariables: {', '.join(names)}\n"
        + (f"\nExamples:\n{shown}\n" if shown else "")
        + "\nA new test case as JSON:"
    )
    request = CompletionRequest.from_text(text)
    return replace(request, params=dict(params))


def _params(model: Provider, names: Sequence[str], call: int) -> dict[str, Any]:
    """Sampling that varies from call to call, and JSON of the variables where the provider
    can hold its output to a schema (the embedded model can: a grammar)."""
    params: dict[str, Any] = {"temperature": SAMPLING_TEMPERATURE, "seed": call}
    json_mode = getattr(model, "json_mode", None)
    if json_mode is not None:
        schema = {
            "type": "object",
            "properties": {n: {"type": "string"} for n in names},
            "required": list(names),
            "additionalProperties": False,
        }
        params.update(json_mode(schema))
    return params


async def generate_tests(
    suite: Suite,
    count: int,
    provider: str | ProviderSpec | Provider | None = None,
    *,
    seed: int = 0,
    on_case: Callable[[dict[str, Any]], None] | None = None,
) -> GeneratedTests:
    """Ask ``provider`` (by default the embedded model) for ``count`` new cases of
    ``suite``; fewer come back when the model keeps repeating itself."""
    from rapidfuzz import fuzz, process

    existing = [dict(t.vars) for t in resolve_tests(suite, suite.base_dir, None, REGISTERED_TYPES)]
    existing = [e for e in existing if e]
    names = _variables(suite, existing)
    if not names:
        raise SuiteError("the suite's prompts use no variables: there is nothing to generate")
    prompts = [p.raw for p in load_prompts(suite)]
    model = _provider(suite, provider)
    made_here = isinstance(provider, str | ProviderSpec) or provider is None
    seen = {normalised(e) for e in existing}
    corpus = list(seen)
    result = GeneratedTests()
    chooser = random.Random(seed)
    try:
        while len(result.cases) < count and result.calls < count * ATTEMPTS_PER_CASE:
            pool = existing + result.cases
            examples = chooser.sample(pool, min(EXAMPLES_SHOWN, len(pool)))
            result.calls += 1
            request = _request(prompts, names, examples, _params(model, names, result.calls))
            completion = await model.complete(request)
            try:
                answer = parse_json_object(completion.output)
            except ValueError:
                result.malformed += 1
                continue
            case = {n: answer[n] for n in names if answer.get(n) not in (None, "", [], {})}
            if len(case) != len(names):
                result.malformed += 1
                continue
            text = normalised(case)
            if text in seen:
                result.duplicates += 1
                continue
            near = process.extractOne(text, corpus, scorer=fuzz.token_set_ratio)
            if near is not None and near[1] >= NEAR_DUPLICATE:
                result.near_duplicates += 1
                continue
            seen.add(text)
            corpus.append(text)
            result.cases.append(case)
            if on_case is not None:
                on_case(case)
    finally:
        close = getattr(model, "aclose", None)
        if close is not None and made_here:
            await close()
    return result


def _provider(suite: Suite, given: str | ProviderSpec | Provider | None) -> Provider:
    if isinstance(given, ProviderSpec):
        spec = given
    elif given is None or isinstance(given, str):
        spec = ProviderSpec(id=given or DEFAULT_PROVIDER)
    else:
        return given
    return create_provider(spec, ProviderContext(suite.base_dir, {**os.environ, **suite.env}))


def as_yaml(cases: Sequence[Mapping[str, Any]]) -> str:
    """The cases as a tests file (a YAML list of ``{vars: ...}``)."""
    import yaml

    return yaml.safe_dump(
        [{"vars": dict(c)} for c in cases], sort_keys=False, allow_unicode=True, width=100
    )
