"""``select-best``: a judge reads every output of a case and picks one; it passes, the
others fail, and every reason names the winner by its prompt and provider."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..prompts._template import Message
from ._judge import Judge
from ._judge_parse import as_score, field, reason_of
from ._judge_prompts import (
    RubricPrompt,
    question_of,
    rubric_prompt,
    tagged,
    text_value,
    verdict_schema,
)
from ._registry import AssertionSpec, GradeResult, GradingContext, assertion

__all__ = ["SelectBest", "output_name"]

SELECT_BEST_SYSTEM = (
    "You compare several outputs produced for the same input and choose the one that best "
    "meets the criteria. Answer with a JSON object: "
    '{"reason": "<one sentence>", "best": <the number of the best output>}.'
)


def output_name(ctx: GradingContext) -> str:
    """How a reason names an output: its prompt's label and its provider (the rendered
    prompt, shortened, where the context carries no label)."""
    prompt = ctx.prompt_label
    if not prompt:
        prompt = " ".join(ctx.prompt.split())
        prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    provider = ctx.provider_label or ctx.provider_id
    return f"prompt '{prompt}' on {provider}"


class SelectBest:
    """Grades a case's outputs together: the judge's pick passes, the others fail."""

    def __init__(self, criteria: str, judge: Judge, custom: RubricPrompt | None = None) -> None:
        self.criteria = criteria
        self.judge = judge
        self.custom = custom

    async def __call__(self, ctx: GradingContext) -> GradeResult:
        return (await self.grade_group([ctx]))[0]

    def _messages(self, contexts: Sequence[GradingContext]) -> list[Message]:
        if self.custom is not None:
            outputs = [ctx.output for ctx in contexts]
            return self.custom.render(
                {**contexts[0].vars, "outputs": outputs, "criteria": self.criteria}
            )
        outputs_text = "\n\n".join(tagged(f"output {i}", c.output) for i, c in enumerate(contexts))
        sections = [
            tagged("criteria", self.criteria),
            tagged("input", question_of(contexts[0])),
            outputs_text,
        ]
        return [Message("system", SELECT_BEST_SYSTEM), Message("user", "\n\n".join(sections))]

    async def grade_group(self, contexts: Sequence[GradingContext]) -> list[GradeResult]:
        if len(contexts) == 1:
            return [GradeResult(True, 1.0, "the only output of this case: nothing to compare")]
        count = len(contexts)

        def read(data: Mapping[str, Any]) -> tuple[int, str]:
            raw = field(data, "best", "choice", "winner", "index")
            if isinstance(raw, str):  # "output 1", "#1"
                found = re.fullmatch(r"\s*(?:output\s*)?#?\s*(\d+)\s*", raw, re.IGNORECASE)
                raw = found.group(1) if found else raw
            if raw is None:
                raise ValueError("the verdict has no 'best'")
            best = as_score(raw, 0, count - 1, "best")
            if best != int(best):
                raise ValueError(f"'best' must be an output number from 0 to {count - 1}")
            return int(best), reason_of(data)

        def number_in_text(text: str) -> tuple[int, str] | None:
            found = re.search(r"\b(\d+)\b", text)
            if found is None or not 0 <= int(found.group(1)) < count:
                return None
            return int(found.group(1)), " ".join(text.split())[:300]

        schema = verdict_schema({"best": {"type": "integer", "enum": list(range(count))}})
        best, reason = await self.judge.verdict(
            self._messages(contexts),
            read,
            schema=schema,
            what="choice",
            fallback=number_in_text if self.custom is not None else None,
        )
        label = self.judge.label
        winner = output_name(contexts[best])
        return [
            GradeResult(
                i == best,
                1.0 if i == best else 0.0,
                f"{label}: {'chosen' if i == best else f'{winner} was chosen'} "
                f"among {count}: {reason}",
            )
            for i in range(count)
        ]


@assertion("select-best", "a judge picks the best of a case's outputs; the others fail")
def _select_best(spec: AssertionSpec) -> Any:
    return SelectBest(text_value(spec, "the criteria"), spec.judge(), rubric_prompt(spec))
