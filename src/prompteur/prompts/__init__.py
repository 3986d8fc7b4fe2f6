"""Prompt templates and prompt files."""

from ._files import load_prompt
from ._template import Message, PromptTemplate

__all__ = ["Message", "PromptTemplate", "load_prompt"]
