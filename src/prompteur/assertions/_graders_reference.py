"""``factuality`` (is the output consistent with a reference answer? OpenAI evals' fact
template, its five categories scored as promptfoo does) and ``model-graded-closedqa``
(does the answer meet a criterion? OpenAI evals' closedqa). With a suite's own
``rubricPrompt``, an answer in those templates' own form ("(D)", a final "Y") is read too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..prompts._template import Message
from ._judge_parse import as_bool, field, reason_of
from ._judge_prompts import (
    question_of,
    rubric_prompt,
    score_threshold,
    tagged,
    text_value,
    verdict_schema,
)
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

__all__ = ["CATEGORY_NAMES", "DEFAULT_CATEGORY_SCORES"]

# --- factuality ----------------------------------------------------------------------------

FACTUALITY_SYSTEM = (
    "You compare the factual content of a submitted answer with an expert answer to the "
    "same question. Ignore differences of style, grammar and punctuation. Choose one "
    "category:\n"
    "(A) the submission is a subset of the expert answer and fully consistent with it;\n"
    "(B) the submission is a superset of the expert answer and fully consistent with it;\n"
    "(C) the submission contains all the same details as the expert answer;\n"
    "(D) there is a disagreement between the submission and the expert answer;\n"
    "(E) the answers differ, but these differences don't matter for factuality.\n"
    'Answer with a JSON object: {"reason": "<one sentence>", "category": "<A, B, C, D or E>"}.'
)
FACTUALITY_SCHEMA = verdict_schema(
    {"category": {"type": "string", "enum": ["A", "B", "C", "D", "E"]}}
)
CATEGORY_NAMES = {
    "A": "subset",
    "B": "superset",
    "C": "agree",
    "D": "disagree",
    "E": "differButFactual",
}
DEFAULT_CATEGORY_SCORES = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 0.0, "E": 1.0}


def _read_category(data: Mapping[str, Any]) -> tuple[str, str]:
    raw = field(data, "category", "choice", "answer")
    match = re.fullmatch(r"\(?([A-Ea-e])\)?", str(raw).strip()) if raw is not None else None
    if match is None:
        raise ValueError(f"'category' must be one of A-E, got {raw!r}")
    return match.group(1).upper(), reason_of(data)


def _category_in_text(text: str) -> tuple[str, str] | None:
    """OpenAI's fact template answers "(A)".."(E)" in prose (for suites' own prompts)."""
    match = re.search(r"\(([A-Ea-e])\)", text)
    return (match.group(1).upper(), " ".join(text.split())[:300]) if match else None


def _scores_of(spec: AssertionSpec) -> dict[str, float]:
    scores = dict(DEFAULT_CATEGORY_SCORES)
    custom = spec.options.get("factuality")
    if isinstance(custom, Mapping):  # promptfoo: {subset: 1, disagree: 0, ...}
        by_name = {name: letter for letter, name in CATEGORY_NAMES.items()}
        for name, score in custom.items():
            if name not in by_name or not isinstance(score, int | float):
                raise AssertionValueError(
                    f"options.factuality: '{name}' must be one of "
                    f"{', '.join(CATEGORY_NAMES.values())} with a number",
                )
            scores[by_name[name]] = float(score)
    return scores


@assertion("factuality", "a judge checks the output is consistent with a reference answer")
def _factuality(spec: AssertionSpec) -> Any:
    reference = text_value(spec, "the reference answer")
    judge = spec.judge()
    scores = _scores_of(spec)
    threshold = score_threshold(spec, 0.5)
    custom = rubric_prompt(spec)

    async def grade(ctx: GradingContext) -> GradeResult:
        question = question_of(ctx)
        if custom is not None:
            messages = custom.render(
                {
                    **ctx.vars,
                    "input": question,
                    "ideal": reference,
                    "completion": ctx.output,
                    "output": ctx.output,
                    "rubric": reference,
                }
            )
        else:
            sections = [
                tagged("question", question),
                tagged("expert", reference),
                tagged("submission", ctx.output),
            ]
            messages = [
                Message("system", FACTUALITY_SYSTEM),
                Message("user", "\n\n".join(sections)),
            ]
        category, reason = await judge.verdict(
            messages,
            _read_category,
            schema=FACTUALITY_SCHEMA,
            what="category",
            fallback=_category_in_text if custom is not None else None,
        )
        score = scores[category]
        return GradeResult(
            score >= threshold,
            score,
            f"{judge.label}: ({category}) {CATEGORY_NAMES[category]}: {reason}",
        )

    return grade


# --- model-graded-closedqa -------------------------------------------------------------------

CLOSEDQA_SYSTEM = (
    "You assess a submitted answer to a task against a criterion. Decide whether the "
    "submission meets the criterion. Answer with a JSON object: "
    '{"reason": "<one sentence>", "pass": <true if it meets the criterion, else false>}.'
)
CLOSEDQA_SCHEMA = verdict_schema({"pass": {"type": "boolean"}})


def _read_pass(data: Mapping[str, Any]) -> tuple[bool, str]:
    raw = field(data, "pass", "passed", "verdict", "meets")
    if raw is None:
        raise ValueError("the verdict has no 'pass'")
    return as_bool(raw, "pass"), reason_of(data)


def _yes_no_in_text(text: str) -> tuple[bool, str] | None:
    """OpenAI's closedqa template ends its reasoning with a lone Y or N."""
    match = re.search(r"\b([YN])\W*$", text.strip())
    return (match.group(1) == "Y", " ".join(text.split())[:300]) if match else None


@assertion("model-graded-closedqa", "a judge checks the answer meets a criterion")
def _closedqa(spec: AssertionSpec) -> Any:
    criterion = text_value(spec, "a criterion")
    judge = spec.judge()
    custom = rubric_prompt(spec)

    async def grade(ctx: GradingContext) -> GradeResult:
        question = question_of(ctx)
        if custom is not None:
            messages = custom.render(
                {
                    **ctx.vars,
                    "input": question,
                    "criteria": criterion,
                    "completion": ctx.output,
                    "output": ctx.output,
                    "rubric": criterion,
                }
            )
        else:
            sections = [
                tagged("task", question),
                tagged("submission", ctx.output),
                tagged("criterion", criterion),
            ]
            messages = [Message("system", CLOSEDQA_SYSTEM), Message("user", "\n\n".join(sections))]
        passed, reason = await judge.verdict(
            messages,
            _read_pass,
            schema=CLOSEDQA_SCHEMA,
            fallback=_yes_no_in_text if custom is not None else None,
        )
        return GradeResult(passed, 1.0 if passed else 0.0, f"{judge.label}: {reason}")

    return grade
