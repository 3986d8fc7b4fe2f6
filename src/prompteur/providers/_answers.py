"""A provider's answer as it enters a cell: checked, so that what is graded is what the store
keeps, and a value no store can keep never loses the run."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..core._storable import MAX_STORED_INT, storable_text, text_problem
from ._base import Completion, Usage

__all__ = ["checked_completion"]


def _count(value: Any) -> int | None:
    """A token count a store can keep, else None (as the providers' parsing drops junk)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STORED_INT:
        return value
    return None


def _label(value: Any) -> str | None:
    return storable_text(value) if isinstance(value, str) else None


def checked_completion(completion: Any) -> tuple[Completion | None, str | None, str | None]:
    """``(completion, error, output)``: the answer with what cannot be kept dropped (token
    counts past 32 bits, a non-finite or negative cost, a finish reason or model that is not
    text) and no error; or, for an answer with no text to grade (not a Completion, an output
    that is not text) or with text that is not valid Unicode (lone surrogates), None, the
    cell's error, and the output kept with U+FFFD in their place. A NUL character is text
    like any other: graded as it is, and stored as it is where the store can keep it
    (SQLite), as U+FFFD where it cannot (PostgreSQL)."""
    if not isinstance(completion, Completion):
        return None, f"malformed answer: the provider returned {type(completion).__name__}", None
    output = completion.output
    if not isinstance(output, str):
        return None, f"malformed answer: its output is {type(output).__name__}, not text", None
    if not output.isascii():
        problem = text_problem(output, nul=False)
        if problem is not None:
            error = f"malformed answer: it holds {problem}; kept with U+FFFD in their place"
            return None, error, storable_text(output, nul=False)
    usage, cost = completion.usage, completion.cost
    finish, model = completion.finish_reason, completion.model
    if not isinstance(usage, Usage):
        usage = Usage()
    prompt, done = _count(usage.prompt_tokens), _count(usage.completion_tokens)
    if prompt != usage.prompt_tokens or done != usage.completion_tokens:
        usage = Usage(prompt, done)
    if cost is not None and (
        not isinstance(cost, int | float) or isinstance(cost, bool) or not 0 <= cost < math.inf
    ):
        cost = None
    if finish is not None and (not isinstance(finish, str) or not finish.isascii()):
        finish = _label(finish)
    if model is not None and (not isinstance(model, str) or not model.isascii()):
        model = _label(model)
    if (usage, cost, finish, model) != (
        completion.usage,
        completion.cost,
        completion.finish_reason,
        completion.model,
    ):
        completion = replace(completion, usage=usage, cost=cost, finish_reason=finish, model=model)
    return completion, None, None
