"""Candidate prompts: the starting prompt with an instruction, demonstrations, or a
rewritten body, written as ordinary prompts: demonstrations are user/assistant message
pairs in a chat prompt, and in a text prompt either an examples block or, ``turns``,
message pairs before the prompt (which makes it a chat prompt: chat models follow
demonstrated turns far better than an examples block, SmolLM2-135M on a one-word task
7 of 30 against 0 of 30)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..core._json import stable_hash
from ..prompts._template import PromptTemplate

__all__ = ["Candidate", "Demo", "PromptShape", "literal"]


@dataclass(frozen=True)
class Demo:
    """A demonstration: a case's input as the prompt shows it, and a good answer."""

    case: int
    input: str
    answer: str


@dataclass(frozen=True)
class Candidate:
    """The start prompt plus edits. ``place`` puts the instruction before the prompt or
    after it (nearest the answer, where small models heed it most)."""

    instruction: str = ""
    demos: tuple[Demo, ...] = ()
    body: str | None = None  # a rewritten text prompt; None keeps the start's
    place: str = "before"
    origin: str = "start"
    turns: bool = False  # a text prompt's demonstrations as message pairs

    @property
    def key(self) -> str:
        demos = [[d.case, d.input, d.answer] for d in self.demos]
        shape = [self.instruction, demos, self.body, self.place]
        if self.turns and self.demos:
            shape.append("turns")
        return stable_hash(shape)[:16]

    def describe(self) -> str:
        parts = [self.origin]
        if self.demos:
            parts.append(f"{len(self.demos)} demos" + (" as turns" if self.turns else ""))
        return ", ".join(parts)


def literal(text: str) -> str:
    """Text that renders as itself in a template."""
    if "{{" in text or "{%" in text or "{#" in text:
        return "{% raw %}" + text.replace("{% endraw %}", "{ % endraw % }") + "{% endraw %}"
    return text


def _demo_text(demo: Demo) -> str:
    shown = demo.input.rstrip()
    if shown.endswith(":"):  # the prompt ends where the answer starts ("Answer:")
        return f"{shown} {demo.answer}"
    return f"{shown}\nAnswer: {demo.answer}"


class PromptShape:
    """The starting prompt, and candidates written in its form."""

    def __init__(self, start: PromptTemplate) -> None:
        self.start = start
        self.chat = start.chat

    def as_messages(self, candidate: Candidate) -> bool:
        """Whether the candidate is written as messages (a chat start, or a text start
        whose demonstrations are message pairs)."""
        return self.chat or (candidate.turns and bool(candidate.demos))

    def variables_used(self) -> set[str]:
        from jinja2 import meta

        from ..prompts._template import environment

        used: set[str] = set()
        for part in self.start.parts:
            used |= meta.find_undeclared_variables(environment().parse(part.source))
        return used

    def demo_input(self, variables: Mapping[str, Any]) -> str:
        """A case's input as a demonstration shows it: the rendered prompt (text), or its
        last user message (chat)."""
        messages = self.start.render(variables)
        if not self.chat:
            return "\n".join(m.text for m in messages)
        users = [m.text for m in messages if m.role == "user"]
        return users[-1] if users else messages[-1].text

    def _text(self, candidate: Candidate) -> str:
        body = candidate.body if candidate.body is not None else self.start.raw
        pieces = []
        if candidate.instruction and candidate.place == "before":
            pieces.append(literal(candidate.instruction))
        if candidate.demos:
            shown = [
                f"Example {i}:\n{literal(_demo_text(d))}" for i, d in enumerate(candidate.demos, 1)
            ]
            pieces.append("\n\n".join(shown))
        pieces.append(body.strip("\n"))
        if candidate.instruction and candidate.place == "after":
            pieces.append(literal(candidate.instruction))
        return "\n\n".join(pieces)

    def _messages(self, candidate: Candidate) -> list[dict[str, str]]:
        if self.chat:
            parts = [{"role": p.role or "user", "content": p.source} for p in self.start.parts]
        else:  # a text prompt with its demonstrations as turns: the prompt is the user's
            text = self._text(Candidate(body=candidate.body))
            parts = [{"role": "user", "content": text}]
        last_user = max((i for i, p in enumerate(parts) if p["role"] == "user"), default=None)
        if candidate.instruction and candidate.place == "after" and last_user is not None:
            parts[last_user] = {
                "role": "user",
                "content": parts[last_user]["content"] + "\n\n" + literal(candidate.instruction),
            }
        elif candidate.instruction:
            if parts and parts[0]["role"] == "system":
                parts[0] = {
                    "role": "system",
                    "content": parts[0]["content"] + "\n\n" + literal(candidate.instruction),
                }
            else:
                parts.insert(0, {"role": "system", "content": literal(candidate.instruction)})
                last_user = None if last_user is None else last_user + 1
        pairs: list[dict[str, str]] = []
        for demo in candidate.demos:
            pairs.append({"role": "user", "content": literal(demo.input)})
            pairs.append({"role": "assistant", "content": literal(demo.answer)})
        at = last_user if last_user is not None else len(parts)
        return parts[:at] + pairs + parts[at:]

    def source(self, candidate: Candidate) -> tuple[str, str]:
        """The candidate as (template, format) for the registry: text or messages."""
        if self.as_messages(candidate):
            return json.dumps(self._messages(candidate), ensure_ascii=False, indent=2), "messages"
        return self._text(candidate), "text"

    def template(self, candidate: Candidate) -> PromptTemplate:
        """The candidate ready to render; raises TemplateError when it does not compile."""
        label = f"{self.start.label} [{candidate.key}]" if candidate.origin != "start" else None
        if candidate.origin == "start":
            return self.start
        if self.as_messages(candidate):
            made = PromptTemplate.from_messages(
                self._messages(candidate), id=self.start.id, label=label or self.start.label
            )
        else:
            made = PromptTemplate.from_text(
                self._text(candidate), id=self.start.id, label=label or self.start.label
            )
        return replace(made, defaults=self.start.defaults, params=self.start.params)
