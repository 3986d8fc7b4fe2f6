"""Prompt optimization: candidate prompts searched under a call budget, raced on validation
cases through the same runner as ``eval``, and proved on a holdout the search never saw."""
