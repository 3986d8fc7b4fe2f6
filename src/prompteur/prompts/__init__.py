"""Prompt templates, prompt files, and the prompt registry."""

from ._files import load_prompt
from ._registry import PromptRegistry, PromptSource, PromptVersion, RegistryError
from ._template import Message, PromptTemplate

__all__ = [
    "Message",
    "PromptRegistry",
    "PromptSource",
    "PromptTemplate",
    "PromptVersion",
    "RegistryError",
    "load_prompt",
]
