"""Prompt templates and prompt files. The prompt registry's versions and labels are kept
in the results store: see ``prompteur.store`` (``prompteur.PromptRegistry``)."""

from ._files import load_prompt
from ._template import Message, PromptTemplate

__all__ = ["Message", "PromptTemplate", "load_prompt"]
