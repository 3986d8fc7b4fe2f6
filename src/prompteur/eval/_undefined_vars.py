"""promptfoo renders a variable no test defines as empty text; prompteur's own suites call it
an error (a typo caught before any call). A promptfoo config (a suite file named
``promptfooconfig*``) gets promptfoo's rendering, and one warning line per such variable."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import jinja2
from jinja2 import meta

from ..config._tests import ResolvedTest
from ..prompts._template import PromptTemplate, environment

__all__ = ["assertion_variables", "prompt_variables", "with_undefined_as_empty"]

_LOG = logging.getLogger("prompteur.suite")


def _names(source: str) -> set[str]:
    if "{" not in source:
        return set()
    env = environment()
    try:
        found = meta.find_undeclared_variables(env.parse(source))
    except jinja2.TemplateSyntaxError:  # reported where the template is compiled
        return set()
    return {name for name in found if name not in env.globals}


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)


def _prompt_names(prompts: Iterable[PromptTemplate]) -> set[str]:
    names: set[str] = set()
    for prompt in prompts:
        for part in prompt.parts:
            sources = _leaves(list(part.content_parts)) if part.content_parts else [part.source]
            for source in sources:
                names |= _names(source)
        names -= set(prompt.defaults)
    return names


def prompt_variables(prompt: PromptTemplate) -> set[str]:
    """The variables the prompt's templates use and its defaults do not give."""
    return _prompt_names([prompt])


def assertion_variables(test: ResolvedTest) -> set[str]:
    """The variables the test's assertion values use (python code is no template)."""
    used: set[str] = set()
    for assertion in test.assertions:
        if not assertion.type.endswith("python"):
            for text in _leaves(assertion.value):
                used |= _names(text)
    return used


def with_undefined_as_empty(
    prompts: Sequence[PromptTemplate],
    tests: Iterable[ResolvedTest],
    stored: Collection[str] = (),
) -> Iterator[ResolvedTest]:
    """The tests with each variable their prompts or assertion values use but they do not
    define set to empty text, as promptfoo renders it; warns once per variable. Outputs
    ``stored`` (storeOutputAs) are defined for assertion values: they get them per cell."""
    in_prompts = _prompt_names(prompts)
    warned: set[str] = set()
    for test in tests:
        used = in_prompts | (assertion_variables(test) - set(stored))
        missing = sorted(used - set(test.vars))
        if not missing:
            yield test
            continue
        conversation: dict[str, list[Any]] = {}
        if "_conversation" in missing:  # the turns so far, given as the cells run
            missing.remove("_conversation")
            conversation = {"_conversation": []}
        for name in missing:
            if name not in warned:
                warned.add(name)
                where = f"{test.location}: " if test.location else ""
                _LOG.warning(
                    "warning: %sundefined variable '%s' renders as empty text, as "
                    "promptfoo renders it (in a suite not named promptfooconfig*, an error)",
                    where,
                    name,
                )
        yield replace(test, vars={**test.vars, **dict.fromkeys(missing, ""), **conversation})
