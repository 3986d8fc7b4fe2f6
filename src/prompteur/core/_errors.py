"""The one error hierarchy of prompteur.

Every error raised on purpose derives from :class:`PrompteurError` and carries a message that
says how to fix the problem. The CLI turns them into one line and an exit code; the library
never exits.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Location",
    "MissingDependencyError",
    "PermanentProviderError",
    "PrompteurError",
    "ProviderError",
    "ProviderUnavailableError",
    "SuiteError",
    "TemplateError",
    "TransientProviderError",
    "did_you_mean",
]


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a source file; line and column start at 1 (0 when unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class PrompteurError(Exception):
    """Base class of the errors prompteur raises on purpose."""


class SuiteError(PrompteurError):
    """The suite (or a file it names) is invalid; nothing has been run."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class TemplateError(SuiteError):
    """A prompt template does not parse or does not render for a test case."""


class MissingDependencyError(PrompteurError):
    """An optional dependency is not installed; the message names the ``pip install``."""


class ProviderUnavailableError(PrompteurError):
    """A provider cannot work on this machine, as found before the run; the message says
    why and what fixes it. Nothing has been run."""


class ProviderError(PrompteurError):
    """A model call failed. The runner records it against the cell; it never ends a run."""


class TransientProviderError(ProviderError):
    """A failure worth retrying: rate limit, server error, timeout, dropped connection,
    malformed body. ``retry_after`` is the server's requested wait in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """A failure that retrying cannot fix (bad request, authentication, unknown model)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
