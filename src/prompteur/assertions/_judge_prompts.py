"""A suite's own judge prompt: promptfoo's ``options.rubricPrompt``.

The option is text, chat messages, or text holding a JSON list of chat messages (as
promptfoo suites write it, ``//`` comment lines allowed), or ``file://`` a file holding
either. Each message is a template rendered in the sandbox with the test's variables and
the grader's own: ``{{output}}`` and ``{{rubric}}`` for llm-rubric; promptfoo's
``{{input}}``, ``{{ideal}}``/``{{criteria}}`` and ``{{completion}}`` for factuality and
model-graded-closedqa (where ``{{output}}`` and ``{{rubric}}`` work too); ``{{outputs}}``
and ``{{criteria}}`` for select-best. The judge must still answer in the verdict's shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from ..core._errors import SuiteError
from ..core._trust import check_path
from ..prompts._template import Message, environment
from ..prompts._template_limits import render_bounded
from ._judge import GradingError
from ._registry import AssertionSpec, AssertionValueError, GradingContext

__all__ = ["RubricPrompt", "question_of", "rubric_prompt", "tagged", "text_value", "verdict_schema"]

ROLES = ("system", "user", "assistant")


class RubricPrompt:
    """Chat messages whose contents are templates, compiled once at planning."""

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        self.messages = messages
        try:
            self.templates = [(role, environment().from_string(text)) for role, text in messages]
        except jinja2.TemplateSyntaxError as exc:
            message = f"options.rubricPrompt is not a valid template: {exc}"
            raise AssertionValueError(message, "type") from None

    def render(self, variables: Mapping[str, Any]) -> list[Message]:
        scope = {key: _templated(value) for key, value in variables.items()}
        try:
            return [
                Message(role, render_bounded(template, scope)) for role, template in self.templates
            ]
        except jinja2.TemplateError as exc:
            raise GradingError(f"options.rubricPrompt does not render: {exc}") from None


def _templated(value: Any) -> Any:
    """Objects reach the template as JSON text, as in promptfoo."""
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return [
            json.dumps(v, ensure_ascii=False) if isinstance(v, Mapping | list) else v for v in value
        ]
    return value


def rubric_prompt(spec: AssertionSpec) -> RubricPrompt | None:
    """The suite's judge prompt for this assertion, or None for the built-in one."""
    raw = spec.options.get("rubric_prompt", spec.options.get("rubricPrompt"))
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip().startswith("file://"):
        path = spec.base_dir / raw.strip().removeprefix("file://")
        raw = _read(path)
    if isinstance(raw, str):
        raw = _chat_in_text(raw)
    if isinstance(raw, str):
        if not raw.strip():
            raise AssertionValueError("options.rubricPrompt is empty", "type")
        return RubricPrompt([("user", raw)])
    if not isinstance(raw, list) or not raw:
        raise AssertionValueError(
            "options.rubricPrompt must be text or a list of chat messages", "type"
        )
    messages = []
    for position, message in enumerate(raw, start=1):
        role = message.get("role") if isinstance(message, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if role not in ROLES or not isinstance(content, str):
            raise AssertionValueError(
                f"options.rubricPrompt: message {position} needs a role ({', '.join(ROLES)}) "
                "and text content",
                "type",
            )
        messages.append((role, content))
    return RubricPrompt(messages)


def _read(path: Path) -> str:
    try:
        check_path(path)
    except SuiteError as exc:
        raise AssertionValueError(exc.message, "type") from None
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is no part of it
    except UnicodeDecodeError:
        raise AssertionValueError(
            f"options.rubricPrompt: {path} is not a UTF-8 text file", "type"
        ) from None
    except OSError as exc:
        raise AssertionValueError(
            f"options.rubricPrompt: cannot read {path}: {exc.strerror or exc}", "type"
        ) from None


def _chat_in_text(text: str) -> Any:
    """A JSON list of messages written as text (comment lines allowed), else the text."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return text
    for candidate in (stripped, _without_comments(stripped)):
        try:
            value = json.loads(candidate, strict=False)
        except ValueError:
            continue
        if isinstance(value, list):
            return value
    return text


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


# --- pieces of the built-in judge prompts ------------------------------------------------------


def question_of(ctx: GradingContext) -> str:
    """What the output answers: the case's ``query``/``question``/``input`` variable when it
    has one, else the rendered prompt."""
    for name in ("query", "question", "input"):
        value = ctx.vars.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ctx.prompt


def tagged(label: str, text: str) -> str:
    """Data for the judge, fenced off from its instructions."""
    return f"<{label}>\n{text}\n</{label}>"


def verdict_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """A verdict's JSON schema: a short reason first, then the verdict's fields. Bounds
    keep a small judge held to the schema by a grammar from rambling past max_tokens."""
    return {
        "type": "object",
        "properties": {"reason": {"type": "string", "maxLength": 300}, **properties},
        "required": ["reason", *properties],
    }


def score_threshold(spec: AssertionSpec, default: float) -> float:
    """The assertion's threshold on a judge's score, which runs from 0 to 1 (1–5 scales are
    normalised): a threshold outside could never, or always, be reached."""
    threshold = default if spec.threshold is None else spec.threshold
    if not 0 <= threshold <= 1:
        raise AssertionValueError(
            f"the threshold is a score from 0 to 1 (4/5 is 0.75), not {threshold:g}", "threshold"
        )
    return threshold


def text_value(spec: AssertionSpec, what: str) -> str:
    if not isinstance(spec.value, str) or not spec.value.strip():
        raise AssertionValueError(f"needs {what} as its value (a non-empty string)")
    return spec.value.strip()
