"""Model-graded assertions: a judge model reads the output and returns a structured verdict.

``llm-rubric``, ``g-eval`` and ``answer-relevance`` here; ``factuality`` and
``model-graded-closedqa`` (against a reference or a criterion), ``select-best`` (one
winner among a case's outputs) and ``is-refusal`` (a deterministic heuristic, the judge
when asked) in their own modules.
Every judge answers with a JSON object that is read leniently and asked for once more when
malformed; a second malformed answer makes the cell an error. The prompts follow the
published ones (OpenAI evals' fact and closedqa templates, G-Eval's criteria and steps) in
promptfoo's vocabulary; ``options.rubricPrompt`` replaces them (see ``_judge_prompts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..prompts._template import Message
from ._judge import Judge
from ._judge_parse import as_bool, as_score, field, reason_of
from ._judge_prompts import (
    question_of,
    rubric_prompt,
    score_threshold,
    tagged,
    text_value,
    verdict_schema,
)
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

__all__ = ["GEVAL_THRESHOLD", "read_rubric_verdict"]

#: promptfoo's default for g-eval
GEVAL_THRESHOLD = 0.7

# --- llm-rubric ------------------------------------------------------------------------------

RUBRIC_SYSTEM = (
    "You grade the output of an AI system against a rubric. Decide whether the output "
    "satisfies the rubric; judge only what the rubric asks. Answer with a JSON object: "
    '{"reason": "<one sentence on what you observed>", "pass": <true or false>, '
    '"score": <a number from 0.0 to 1.0: how well the output satisfies the rubric>}.'
)
# The score is one of eleven steps: a judge held to the schema by a grammar (the embedded
# model, llama.cpp servers) cannot answer off the scale, as small models otherwise do.
SCORE_STEPS = [round(step / 10, 1) for step in range(11)]
RUBRIC_SCHEMA = verdict_schema(
    {
        "pass": {"type": "boolean"},
        "score": {"type": "number", "enum": SCORE_STEPS, "minimum": 0, "maximum": 1},
    }
)


def read_rubric_verdict(data: Mapping[str, Any]) -> tuple[bool | None, float | None, str]:
    """(pass, score, reason) from a judge's JSON; pass or score may be missing, not both.
    A score off the 0-1 scale is malformed, even beside a pass."""
    raw_pass = field(data, "pass", "passed", "verdict", "result")
    raw_score = field(data, "score", "rating")
    passed = as_bool(raw_pass, "pass") if raw_pass is not None else None
    score = as_score(raw_score, 0, 1) if raw_score is not None else None
    if passed is None and score is None:
        raise ValueError("the verdict has neither 'pass' nor 'score'")
    return passed, score, reason_of(data)


@assertion("llm-rubric", "a judge model checks the output against a rubric")
def _llm_rubric(spec: AssertionSpec) -> Any:
    custom = rubric_prompt(spec)
    # promptfoo: with a rubricPrompt that holds the criteria, the value may be left out
    no_value = spec.value is None or spec.value == ""
    rubric = "" if custom is not None and no_value else text_value(spec, "a rubric")
    judge = spec.judge()
    threshold = None if spec.threshold is None else score_threshold(spec, 0.0)

    async def grade(ctx: GradingContext) -> GradeResult:
        if custom is not None:
            messages = custom.render({**ctx.vars, "output": ctx.output, "rubric": rubric})
        else:
            messages = [
                Message("system", RUBRIC_SYSTEM),
                Message("user", f"{tagged('output', ctx.output)}\n\n{tagged('rubric', rubric)}"),
            ]
        passed, score, reason = await judge.verdict(
            messages, read_rubric_verdict, schema=RUBRIC_SCHEMA
        )
        if score is None:
            score = 1.0 if passed else 0.0
        if threshold is not None:  # as promptfoo: the judge's pass and the score both count
            passed = passed is not False and score >= threshold
        elif passed is None:
            passed = score >= 0.5
        return GradeResult(passed, score, f"{judge.label}: {reason}")

    return grade


# --- g-eval --------------------------------------------------------------------------------

GEVAL_STEPS_SYSTEM = (
    "You write evaluation steps for judging a reply against criteria. Answer with a JSON "
    'object: {"steps": ["<step 1>", "<step 2>", ...]} with 3 to 5 short, concrete steps.'
)
GEVAL_SYSTEM = (
    "You evaluate a reply against criteria by following the evaluation steps. Give a score "
    "from 1 (does not meet the criteria at all) to 5 (fully meets them). Answer with a JSON "
    'object: {"reason": "<one sentence>", "score": <an integer from 1 to 5>}.'
)
GEVAL_SCHEMA = verdict_schema({"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}})
STEPS_SCHEMA = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {"type": "string", "minLength": 3, "maxLength": 200},
            "minItems": 2,
            "maxItems": 5,
        }
    },
    "required": ["steps"],
}


def _read_steps(data: Mapping[str, Any]) -> list[str]:
    steps = field(data, "steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise ValueError("'steps' is not a list of strings")
    return [s.strip() for s in steps if s.strip()]


def read_scale(low: int, high: int) -> Any:
    """A reader of {score, reason} on the scale low..high, normalised to 0-1."""

    def read(data: Mapping[str, Any]) -> tuple[float, str]:
        raw = field(data, "score", "rating")
        if raw is None:
            raise ValueError("the verdict has no 'score'")
        score = as_score(raw, low, high)
        return (score - low) / (high - low), reason_of(data)

    return read


def _criteria_and_steps(value: Any) -> tuple[str, list[str] | None]:
    steps: list[str] | None = None
    if isinstance(value, Mapping):
        criteria = value.get("criteria")
        given = value.get("steps")
        if given is not None:
            if not isinstance(given, list) or not all(isinstance(s, str) for s in given):
                raise AssertionValueError("'steps' must be a list of strings")
            steps = [s for s in given if s.strip()]
    else:
        criteria = value
    if not isinstance(criteria, str) or not criteria.strip():
        raise AssertionValueError(
            "needs criteria: a string, a list of strings, or {criteria, steps}"
        )
    return criteria, steps


class _Criterion:
    """One criterion of a g-eval: its steps, written by the judge once when not given."""

    def __init__(self, criteria: str, steps: list[str] | None) -> None:
        self.criteria = criteria
        self.steps = steps
        self.writing = asyncio.Lock()

    async def score(self, judge: Judge, ctx: GradingContext) -> tuple[float, str]:
        async with self.writing:  # written once per assertion, then reused (and cached)
            if self.steps is None:
                self.steps = await judge.verdict(
                    [
                        Message("system", GEVAL_STEPS_SYSTEM),
                        Message("user", tagged("criteria", self.criteria)),
                    ],
                    _read_steps,
                    schema=STEPS_SCHEMA,
                    what="list of steps",
                )
        numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(self.steps, start=1))
        sections = [
            tagged("criteria", self.criteria),
            tagged("steps", numbered),
            tagged("input", question_of(ctx)),
            tagged("reply", ctx.output),
        ]
        messages = [Message("system", GEVAL_SYSTEM), Message("user", "\n\n".join(sections))]
        score, reason = await judge.verdict(messages, read_scale(1, 5), schema=GEVAL_SCHEMA)
        return score, f"{round(score * 4 + 1)}/5: {reason}"


@assertion("g-eval", "a judge scores the output 1-5 on criteria, step by step (G-Eval)")
def _g_eval(spec: AssertionSpec) -> Any:
    value = spec.value
    # a list of criteria (promptfoo's): each is scored, and their mean is the score
    items = value if isinstance(value, list) and value else [value]
    criteria = [_Criterion(*_criteria_and_steps(item)) for item in items]
    judge = spec.judge()
    threshold = score_threshold(spec, GEVAL_THRESHOLD)

    async def grade(ctx: GradingContext) -> GradeResult:
        scored = [await criterion.score(judge, ctx) for criterion in criteria]
        score = sum(s for s, _ in scored) / len(scored)
        reasons = "; ".join(reason for _, reason in scored)
        return GradeResult(score >= threshold, score, f"{judge.label}: {reasons}")

    return grade


# --- answer-relevance ------------------------------------------------------------------------

RELEVANCE_SYSTEM = (
    "You rate how relevant an answer is to a question: whether it addresses what was asked, "
    "directly and without going off topic. Correctness is not the point. Give a score from "
    "1 (unrelated) to 5 (fully on point). Answer with a JSON object: "
    '{"reason": "<one sentence>", "score": <an integer from 1 to 5>}.'
)


@assertion("answer-relevance", "a judge rates how relevant the output is to the question")
def _answer_relevance(spec: AssertionSpec) -> Any:
    if spec.value is not None and not isinstance(spec.value, str):
        raise AssertionValueError("the value, if given, is the question (a string)")
    fixed_question = spec.value or None
    judge = spec.judge()
    threshold = score_threshold(spec, 0.5)
    read = read_scale(1, 5)

    async def grade(ctx: GradingContext) -> GradeResult:
        question = fixed_question or question_of(ctx)
        messages = [
            Message("system", RELEVANCE_SYSTEM),
            Message("user", f"{tagged('question', question)}\n\n{tagged('answer', ctx.output)}"),
        ]
        score, reason = await judge.verdict(messages, read, schema=GEVAL_SCHEMA)
        return GradeResult(
            score >= threshold, score, f"{judge.label}: {round(score * 4 + 1)}/5: {reason}"
        )

    return grade
