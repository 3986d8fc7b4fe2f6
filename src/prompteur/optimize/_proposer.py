"""The proposer: the model that writes candidate instructions (the task model unless
another is named). Its calls go through the cache and the ledger like the task's; what it
proposes is checked, and a proposal that is empty, malformed or that breaks the template
is skipped and counted, never a crash."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ..prompts._template import PromptTemplate, parse_role_markers
from ..providers._base import CompletionRequest
from ..providers._cache import CacheKeys, CompletionCache
from ..providers._retry import RunOptions, call_with_retries
from ._candidate import Demo
from ._scoring import BudgetedProvider

__all__ = ["Proposer"]

_LABEL = re.compile(r"^\s*(?:new |improved |better )?(?:instruction|prompt)s?\s*[:\-]\s*", re.I)
_MIN_CHARS, _MAX_CHARS = 12, 600


class Proposer:
    def __init__(
        self,
        provider: BudgetedProvider,
        cache: CompletionCache | None,
        options: RunOptions,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.options = options
        self.keys = CacheKeys()
        self.skipped: Counter[str] = Counter()
        self.proposed = 0

    async def ask(self, text: str) -> str | None:
        """The proposer's answer to ``text`` (from the cache when it was asked before);
        None when the budget or the provider refused."""
        request = CompletionRequest.from_text(text)
        if self.provider.ledger.affordable_calls(len(text)) < 1:
            return None  # counted alike whether the cache has it or not
        key = self.keys.key(self.provider, request) if self.cache is not None else None
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                usage = hit[0].usage
                tokens = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
                self.provider.ledger.served_from_cache("proposer", tokens, hit[0].cost or 0.0)
                return hit[0].output
        outcome = await call_with_retries(self.provider, request, self.options)
        if outcome.completion is None:
            self.skipped["proposer call failed"] += 1
            return None
        if key is not None and self.cache is not None:
            self.cache.put(key, self.provider.id, outcome.completion, outcome.latency_ms)
        return outcome.completion.output

    def clean(self, answer: str | None, known: Sequence[str]) -> str | None:
        """The instruction in a proposal, or None (counted) when there is none to use."""
        self.proposed += 1
        if answer is None:
            return None
        text = answer.strip().strip("`").strip()
        text = text.split("\n\n")[0].strip()
        text = _LABEL.sub("", text).strip().strip('"').strip()
        if len(text) < _MIN_CHARS or not re.search(r"[A-Za-z]{3}", text):
            self.skipped["empty"] += 1
            return None
        if len(text) > _MAX_CHARS or parse_role_markers(text) is not None:
            self.skipped["malformed"] += 1
            return None
        if "{{" in text or "{%" in text:
            self.skipped["breaks the template"] += 1
            return None
        if text in known:
            self.skipped["duplicate"] += 1
            return None
        return text

    def check_body(
        self, body: str | None, start: PromptTemplate, needed: set[str], sample: dict[str, object]
    ) -> str | None:
        """A rewritten prompt kept only if it compiles, renders and keeps every variable."""
        self.proposed += 1
        if body is None or len(body.strip()) < _MIN_CHARS:
            self.skipped["empty"] += 1
            return None
        from jinja2 import meta

        from ..prompts._template import environment

        try:
            used = meta.find_undeclared_variables(environment().parse(body))
            PromptTemplate.from_text(body, id=start.id, label=start.label).render(sample)
        except Exception:
            self.skipped["breaks the template"] += 1
            return None
        if not needed <= used or parse_role_markers(body) is not None:
            self.skipped["breaks the template"] += 1
            return None
        return body.strip()


def rewrite_request(instruction: str, demos: Sequence[Demo]) -> str:
    shown = "\n\n".join(f"Input: {d.input[:400]}\nCorrect answer: {d.answer}" for d in demos)
    current = instruction or "(no instruction yet)"
    return (
        "You improve instructions for a language model.\n\n"
        f"Examples of the task:\n\n{shown}\n\n"
        f"Current instruction: {current}\n\n"
        "Write one better instruction (one or two sentences) that makes the model give the "
        "correct answer in the right form. Reply with the instruction only."
    )


def induce_request(demos: Sequence[Demo]) -> str:
    shown = "\n\n".join(f"Input: {d.input[:400]}\nOutput: {d.answer}" for d in demos)
    return (
        f"Here are inputs and the outputs expected for them:\n\n{shown}\n\n"
        "Write the instruction, in one or two sentences, that tells someone how to produce "
        "such an output from such an input. Reply with the instruction only."
    )


def reflect_request(instruction: str, failures: Sequence[tuple[str, str, str]]) -> str:
    shown = "\n\n".join(
        f"Input: {given[:400]}\nModel's answer: {said[:200]}\nWhy it was wrong: {why}"
        for given, said, why in failures
    )
    current = instruction or "(no instruction yet)"
    return (
        "A language model was given this instruction:\n\n"
        f"{current}\n\nIt made these mistakes:\n\n{shown}\n\n"
        "Write one short sentence to add to the instruction so that it avoids these "
        "mistakes. Reply with the sentence only."
    )
