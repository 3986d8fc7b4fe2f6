"""``conversation-relevance``, after promptfoo's (itself after DeepEval's): a judge reads a
conversation window by window (each turn with up to ``windowSize - 1`` turns before it, 5
by default) and says whether the assistant's last reply is relevant to it; the score is
the share of relevant windows, passing at the ``threshold`` (0 by default).

The conversation is the case's ``_conversation`` variable (a list of ``{input, output}``
turns, as promptfoo writes it), else the prompt and the output as one turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..prompts._template import Message, render_string
from ._judge import GradingError
from ._judge_parse import as_bool, field
from ._judge_prompts import score_threshold, tagged, verdict_schema
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

__all__: list[str] = []

DEFAULT_WINDOW = 5

SYSTEM = (
    "You check whether the assistant's last reply in a conversation is relevant: whether it "
    "answers or follows up on what the user said, given the turns before it. Answer with a "
    'JSON object: {"reason": "<one sentence>", "relevant": true or false}.'
)
_SCHEMA = verdict_schema({"relevant": {"type": "boolean"}})


def _read(data: Mapping[str, Any]) -> tuple[bool, str]:
    found = field(data, "relevant", "verdict")
    if found is None:
        raise ValueError("the verdict needs 'relevant': true or false")
    reason = field(data, "reason")
    return as_bool(found, "relevant"), reason if isinstance(reason, str) else ""


def _as_text(value: Any, variables: Mapping[str, Any]) -> str:
    if isinstance(value, str):
        return render_string(value, variables) if "{{" in value or "{%" in value else value
    import json

    return json.dumps(value, ensure_ascii=False)


def _turns(ctx: GradingContext) -> list[tuple[str, str]]:
    conversation = ctx.vars.get("_conversation")
    if not conversation:
        return [(ctx.prompt, ctx.output)]
    if not isinstance(conversation, list) or not all(
        isinstance(t, Mapping) and "input" in t and "output" in t for t in conversation
    ):
        raise GradingError(
            "conversation-relevance: the '_conversation' variable must be a list of "
            "{input, output} turns"
        )
    others = {k: v for k, v in ctx.vars.items() if k != "_conversation"}
    return [(_as_text(t["input"], others), _as_text(t["output"], others)) for t in conversation]


def _window_size(spec: AssertionSpec) -> int:
    size = (spec.config or {}).get("windowSize", DEFAULT_WINDOW)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise AssertionValueError("config.windowSize is a number of turns, 1 or more", "config")
    return size


@assertion("conversation-relevance", "a judge checks that each reply of a conversation is relevant")
def _conversation_relevance(spec: AssertionSpec) -> Any:
    if spec.options.get("rubric_prompt") is not None:
        raise AssertionValueError(
            "conversation-relevance does not take a rubricPrompt here", "rubricPrompt"
        )
    window, judge, threshold = _window_size(spec), spec.judge(), score_threshold(spec, 0.0)

    async def grade(ctx: GradingContext) -> GradeResult:
        turns = _turns(ctx)
        relevant, reasons = 0, []
        for end in range(len(turns)):
            shown = turns[max(0, end - window + 1) : end + 1]
            text = "\n\n".join(f"{tagged('user', u)}\n{tagged('assistant', a)}" for u, a in shown)
            messages = [Message("system", SYSTEM), Message("user", text)]
            ok, reason = await judge.verdict(messages, _read, schema=_SCHEMA)
            relevant += ok
            if not ok and reason:
                reasons.append(f"turn {end + 1}: {reason}")
        score = relevant / len(turns)
        passed = score >= threshold - 1e-12
        sign = ">=" if passed else "<"
        said = f"; {' '.join(reasons[:3])}" if reasons else ""
        return GradeResult(
            passed,
            score,
            f"{judge.label}: {relevant} of {len(turns)} windows relevant, "
            f"{score:.2f} {sign} {threshold:g}{said}",
        )

    return grade
