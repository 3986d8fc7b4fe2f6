"""Prompt templates, prompt files, and the prompt registry.

The registry is imported on first use: most runs never touch it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._files import load_prompt
from ._template import Message, PromptTemplate

if TYPE_CHECKING:
    from ..store._registry import PromptRegistry, PromptSource, PromptVersion, RegistryError

__all__ = [
    "Message",
    "PromptRegistry",
    "PromptSource",
    "PromptTemplate",
    "PromptVersion",
    "RegistryError",
    "load_prompt",
]

_LAZY = {"PromptRegistry", "PromptSource", "PromptVersion", "RegistryError"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("prompteur.store._registry"), name)
    globals()[name] = value
    return value
