"""``echo``: returns the rendered prompt. For trying suites and testing assertions."""

from __future__ import annotations

from ..config._models import ProviderSpec
from ._base import BaseProvider, Completion, CompletionRequest, ProviderContext, Usage

__all__ = ["EchoProvider", "create_echo_provider"]


class EchoProvider(BaseProvider):
    cacheable = False  # answering costs nothing; a cache lookup would cost more
    accepts_media = True  # echoes the text, with a mark for each image, audio or file

    async def complete(self, request: CompletionRequest) -> Completion:
        text = request.text
        words = len(text.split())
        return Completion(text, Usage(words, words), finish_reason="stop", cost=0.0, model="echo")


def create_echo_provider(spec: ProviderSpec, context: ProviderContext) -> EchoProvider:
    return EchoProvider(spec.id, spec.label)
