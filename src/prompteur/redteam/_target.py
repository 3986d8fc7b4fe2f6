"""The prompt under attack: which one (``--prompt REF``), where user input enters it (the
variable rendered last in its last user message, or ``--input-var``), which variables carry
context (documents, history), and the prompt with our secret planted in it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config._models import PromptSpec, Suite, TestCase
from ..core._errors import PrompteurError, did_you_mean
from ..prompts._template import PromptTemplate

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["Target", "find_target"]

#: names that say a variable holds context rather than the user's words
_CONTEXT_NAMES = re.compile(
    r"context|document|doc|history|article|passage|source|knowledge|email|page|text|notes"
    r"|record|data|background|retrieved|snippet",
    re.IGNORECASE,
)
_LONG = 80  # a value this long is a document, whatever its name


@dataclass(frozen=True)
class Target:
    """The prompt under attack, its variables, and the values its other variables take."""

    template: PromptTemplate
    input_var: str
    context_vars: tuple[str, ...]
    base_vars: Mapping[str, Any]
    base_dir: Path

    @property
    def label(self) -> str:
        return self.template.label

    def system_text(self) -> str:
        """What the user must not see: the system messages, or in a plain prompt the text
        before the user's input."""
        parts = self.template.parts
        system = [p.source for p in parts if p.role == "system"]
        if system:
            return "\n".join(system)
        if self.template.chat:
            return ""
        source = parts[0].source
        cut = re.search(r"\{\{\s*" + re.escape(self.input_var) + r"\b", source)
        return source[: cut.start()] if cut else ""

    def planted(self, note: str) -> str:
        """The prompt's text with ``note`` added to its system message (one is made in a
        chat prompt that has none), or put at the top of a plain prompt."""
        parts = self.template.parts
        if not self.template.chat:
            return f"{note}\n\n{parts[0].source}"
        lines = []
        added = False
        for part in parts:
            source = part.source
            if part.role == "system" and not added:
                source, added = f"{source}\n\n{note}", True
            lines.append(f"{part.role}: {source}")
        if not added:
            lines.insert(0, f"system: {note}")
        return "\n".join(lines)


def _variables_in_order(source: str) -> list[str]:
    from jinja2 import nodes

    from ..prompts._template import environment

    tree = environment().parse(source)
    names = [n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"]
    return list(dict.fromkeys(names))


def _choose(prompts: list[PromptTemplate], specs: list[PromptSpec], ref: str | None) -> int:
    if ref is None:
        if len(prompts) == 1:
            return 0
        shown = ", ".join(p.label for p in prompts)
        raise PrompteurError(
            f"the suite has {len(prompts)} prompts: name one with --prompt ({shown})"
        )
    for index, prompt in enumerate(prompts):
        if ref in (prompt.label, prompt.id, prompt.id.removeprefix("file://")):
            return index
        if index < len(specs) and ref in (specs[index].prompt, specs[index].id):
            return index
        if prompt.registry is not None and ref == prompt.registry[0]:
            return index
    labels = [p.label for p in prompts]
    raise PrompteurError(
        f"no prompt '{ref}' in the suite{did_you_mean(ref, labels)} (its prompts: "
        f"{', '.join(labels)})"
    )


def _base_vars(suite: Suite) -> dict[str, Any]:
    """The values of the suite's first test case (and defaultTest), as context for attacks."""
    found: dict[str, Any] = {}
    if isinstance(suite.default_test, TestCase):
        found.update(suite.default_test.vars)
    first = next((t for t in suite.tests if isinstance(t, TestCase)), None)
    if first is not None:
        found.update(first.vars)
    return found


def find_target(
    suite_file: Path | None, ref: str | None, input_var: str | None, store: Store | None
) -> Target:
    """The prompt to attack from a suite file, or (no suite) a prompt file or a registered
    prompt's reference."""
    from ..config._loader import load_suite
    from ..eval._plan_prompts import load_prompts

    registry = None
    if store is not None:
        from ..store._registry import PromptRegistry

        registry = PromptRegistry(store)
    if suite_file is not None:
        suite = load_suite(suite_file)
    elif ref is None:
        raise PrompteurError("name the prompt to attack with --prompt (or give a suite)")
    else:
        is_file = Path(ref.removeprefix("file://")).is_file()
        spec = PromptSpec(id=f"file://{ref.removeprefix('file://')}") if is_file else None
        suite = Suite(prompts=[spec or PromptSpec(prompt=ref)])
        ref = None
    prompts = load_prompts(suite, registry)
    chosen = _choose(prompts, list(suite.prompts), ref)
    template = prompts[chosen]
    if template.has_content_parts:  # attacks are written into the text of its messages
        raise PrompteurError(
            f"the prompt '{template.label}' has image, audio or file parts: "
            "red-teaming such a prompt is not supported yet"
        )
    users = [p for p in template.parts if p.role in (None, "user")]
    if input_var is None:
        last = _variables_in_order(users[-1].source) if users else []
        if not last:
            raise PrompteurError(
                f"the prompt '{template.label}' takes no variable in its last user message: "
                "name the one that carries user input with --input-var"
            )
        input_var = last[-1]
    every = [v for part in template.parts for v in _variables_in_order(part.source)]
    if input_var not in every:
        raise PrompteurError(
            f"the prompt '{template.label}' has no variable '{input_var}'"
            f"{did_you_mean(input_var, every)}"
        )
    base = _base_vars(suite)
    context = tuple(
        v
        for v in dict.fromkeys(every)
        if v != input_var and (_CONTEXT_NAMES.search(v) or len(str(base.get(v, ""))) >= _LONG)
    )
    return Target(template, input_var, context, base, suite.base_dir)
