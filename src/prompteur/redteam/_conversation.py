"""Multi-turn escalation: a provider that holds a real conversation before the attack.
The turns (test variable ``redteam_turns``) are sent one by one, each with the model's
own previous answers, and the attack comes last; the last answer is the cell's output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..prompts._template import Message
from ..providers._base import Completion, CompletionRequest, Provider, Usage, provider_identity

__all__ = ["TURNS_VAR", "ConversationProvider"]

TURNS_VAR = "redteam_turns"


class ConversationProvider:
    """Wraps a provider; a request whose variables hold turns becomes a conversation."""

    vars_in_cache_key = True  # the turns decide the output, and they are not in the prompt

    def __init__(self, inner: Provider, label: str) -> None:
        self.inner = inner
        self.label = label
        self.max_concurrency = getattr(inner, "max_concurrency", None)
        self.cacheable = getattr(inner, "cacheable", True)

    @property
    def id(self) -> str:
        return self.inner.id

    def identity(self) -> Mapping[str, Any]:
        return {**provider_identity(self.inner), "conversation": True}

    async def preflight(self) -> None:
        check = getattr(self.inner, "preflight", None)
        if check is not None:
            await check()

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    async def complete(self, request: CompletionRequest) -> Completion:
        turns = request.vars.get(TURNS_VAR) or []
        if not turns:
            return await self.inner.complete(request)
        messages = list(request.messages)
        last_user = max(
            (i for i, m in enumerate(messages) if m.role == "user"), default=len(messages)
        )
        before, attack = messages[:last_user], messages[last_user:]
        prompt_tokens = completion_tokens = 0
        for turn in turns:
            asked = (*before, Message("user", str(turn)))
            answer = await self.inner.complete(CompletionRequest(asked, True, request.vars))
            before = [*asked, Message("assistant", answer.output)]
            prompt_tokens += answer.usage.prompt_tokens or 0
            completion_tokens += answer.usage.completion_tokens or 0
        final = await self.inner.complete(
            CompletionRequest((*before, *attack), True, request.vars, request.params)
        )
        return Completion(
            final.output,
            Usage(
                prompt_tokens + (final.usage.prompt_tokens or 0),
                completion_tokens + (final.usage.completion_tokens or 0),
            ),
            final.finish_reason,
            final.cost,
            final.model,
        )
