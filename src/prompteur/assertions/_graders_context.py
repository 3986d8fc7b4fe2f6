"""The judges of retrieval-augmented answers, after promptfoo's (and RAGAS's) context
checks: ``context-recall`` (how much of the expected answer the context supports),
``context-relevance`` (how much of the context serves the query) and
``context-faithfulness`` (how much of the answer the context supports).

The context is the case's ``context`` variable (text, or a list of chunks), else what the
assertion's ``contextTransform`` extracts from the output (``context-recall`` falls back to
the prompt). Scores run from 0 to 1 and pass at the ``threshold``, 0 by default, as in
promptfoo. A check that has no context or no ``query`` variable where it needs one is a
grading error, not a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core._transforms import TransformError
from ..prompts._template import Message
from ._judge import GradingError
from ._judge_parse import as_bool, field
from ._judge_prompts import score_threshold, tagged, verdict_schema
from ._registry import AssertionSpec, AssertionValueError, GradeResult, GradingContext, assertion

__all__: list[str] = []

_NO_CONTEXT = (
    "needs a context: give the case a 'context' variable (text or a list of texts) or the "
    "assertion a contextTransform that extracts it from the output"
)


def resolve_context(
    spec: AssertionSpec, ctx: GradingContext, fallback: str | None
) -> str | list[str]:
    """The context a check judges against (see the module's docstring)."""
    found: Any = ctx.vars.get("context")
    if not found:
        found = fallback
    elif isinstance(found, list) and not all(isinstance(c, str) for c in found):
        raise GradingError(f"{spec.type}: the 'context' variable must be text or texts")
    if spec.context_transform is not None:
        context = {"vars": dict(ctx.vars), "prompt": {"label": ctx.prompt_label}}
        try:
            found = spec.context_transform(ctx.output, context)
        except TransformError as exc:
            raise GradingError(f"{spec.type}: contextTransform: {exc}") from None
        if not (
            isinstance(found, str)
            or (isinstance(found, list) and all(isinstance(c, str) for c in found))
        ):
            raise GradingError(
                f"{spec.type}: contextTransform must return text or a list of texts, "
                f"not {type(found).__name__}"
            )
    if isinstance(found, str) and found:
        return found
    if isinstance(found, list) and found and all(found):
        return list(found)
    raise GradingError(f"{spec.type} {_NO_CONTEXT}")


def _joined(context: str | list[str]) -> str:
    return context if isinstance(context, str) else "\n\n".join(context)


def _query(spec: AssertionSpec, ctx: GradingContext) -> str:
    query = ctx.vars.get("query")
    if not isinstance(query, str):
        raise GradingError(f"{spec.type} needs a 'query' variable: the user's question")
    return query


def _flags(items_key: str, flag: str) -> Any:
    """A reader of {reason, <items_key>: [{text, <flag>: bool}]}: the flags, in order."""

    def read(data: Mapping[str, Any]) -> tuple[list[bool], str]:
        items = field(data, items_key)
        if not isinstance(items, list):
            raise ValueError(f"the verdict has no '{items_key}' list")
        flags = []
        for item in items:
            if not isinstance(item, Mapping) or field(item, flag) is None:
                raise ValueError(f"each of '{items_key}' needs '{flag}': true or false")
            flags.append(as_bool(field(item, flag), flag))
        reason = field(data, "reason")
        return flags, reason if isinstance(reason, str) else ""

    return read


def _flags_schema(items_key: str, flag: str) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 400}, flag: {"type": "boolean"}},
        "required": ["text", flag],
    }
    return verdict_schema({items_key: {"type": "array", "items": item, "maxItems": 40}})


def _verdict(name: str, score: float, threshold: float, judge: str, reason: str) -> GradeResult:
    passed = score >= threshold - 1e-12
    sign = ">=" if passed else "<"
    return GradeResult(passed, score, f"{judge}: {name} {score:.2f} {sign} {threshold:g}: {reason}")


# --- context-recall --------------------------------------------------------------------

RECALL_SYSTEM = (
    "You check which statements of an expected answer a context supports. Split the "
    "expected answer into its statements (one sentence each); for each, say whether the "
    "context states or directly implies it. Answer with a JSON object: "
    '{"reason": "<one sentence>", "statements": [{"text": "<statement>", '
    '"supported": true or false}, ...]}.'
)


@assertion("context-recall", "a judge checks how much of the expected answer the context holds")
def _context_recall(spec: AssertionSpec) -> Any:
    if not isinstance(spec.value, str) or not spec.value.strip():
        raise AssertionValueError("the value is the expected answer (text)")
    expected, judge, threshold = spec.value, spec.judge(), score_threshold(spec, 0.0)
    read = _flags("statements", "supported")

    async def grade(ctx: GradingContext) -> GradeResult:
        context = _joined(resolve_context(spec, ctx, fallback=ctx.prompt))
        user = f"{tagged('context', context)}\n\n{tagged('expected answer', expected)}"
        messages = [Message("system", RECALL_SYSTEM), Message("user", user)]
        flags, reason = await judge.verdict(
            messages, read, schema=_flags_schema("statements", "supported")
        )
        score = sum(flags) / len(flags) if flags else 0.0
        return _verdict("recall", score, threshold, judge.label, reason)

    return grade


# --- context-relevance -----------------------------------------------------------------

RELEVANCE_SYSTEM = (
    "You check which parts of a context are needed to answer a query. For each numbered "
    "part of the context, say whether it helps answer the query. Answer with a JSON object: "
    '{"reason": "<one sentence>", "parts": [{"text": "<the part\'s number>", '
    '"relevant": true or false}, ...]}, one entry per part, in order.'
)


def context_units(context: str | list[str]) -> list[str]:
    """What relevance is counted over: the chunks of a list, else the text's non-empty
    lines (promptfoo's sentences)."""
    if isinstance(context, list):
        return [chunk for chunk in context if chunk.strip()]
    return [line for line in context.split("\n") if line.strip()]


@assertion("context-relevance", "a judge checks how much of the context serves the query")
def _context_relevance(spec: AssertionSpec) -> Any:
    judge, threshold = spec.judge(), score_threshold(spec, 0.0)
    read = _flags("parts", "relevant")

    async def grade(ctx: GradingContext) -> GradeResult:
        query = _query(spec, ctx)
        units = context_units(resolve_context(spec, ctx, fallback=None))
        numbered = "\n".join(f"{i}. {unit}" for i, unit in enumerate(units, start=1))
        user = f"{tagged('query', query)}\n\n{tagged('context', numbered)}"
        messages = [Message("system", RELEVANCE_SYSTEM), Message("user", user)]
        flags, reason = await judge.verdict(
            messages, read, schema=_flags_schema("parts", "relevant")
        )
        if len(flags) != len(units):
            raise GradingError(
                f"{spec.type}: the judge rated {len(flags)} parts of a context of {len(units)}"
            )
        score = sum(flags) / len(units) if units else 0.0
        return _verdict("context relevance", score, threshold, judge.label, reason)

    return grade


# --- context-faithfulness --------------------------------------------------------------

FAITHFULNESS_SYSTEM = (
    "You check an answer against a context. Split the answer into its factual statements "
    "(one sentence each, as the question frames them); for each, say whether the context "
    "supports it. Answer with a JSON object: "
    '{"reason": "<one sentence>", "statements": [{"text": "<statement>", '
    '"supported": true or false}, ...]}.'
)


@assertion("context-faithfulness", "a judge checks how much of the answer the context supports")
def _context_faithfulness(spec: AssertionSpec) -> Any:
    judge, threshold = spec.judge(), score_threshold(spec, 0.0)
    read = _flags("statements", "supported")

    async def grade(ctx: GradingContext) -> GradeResult:
        query = _query(spec, ctx)
        context = _joined(resolve_context(spec, ctx, fallback=None))
        sections: Sequence[str] = (
            tagged("question", query),
            tagged("answer", ctx.output),
            tagged("context", context),
        )
        messages = [Message("system", FAITHFULNESS_SYSTEM), Message("user", "\n\n".join(sections))]
        flags, reason = await judge.verdict(
            messages, read, schema=_flags_schema("statements", "supported")
        )
        if not flags:  # promptfoo's score is then undefined, and the check fails
            return GradeResult(False, 0.0, f"{judge.label}: the answer holds no statement")
        score = sum(flags) / len(flags)
        return _verdict("faithfulness", score, threshold, judge.label, reason)

    return grade
