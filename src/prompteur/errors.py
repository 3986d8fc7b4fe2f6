"""The library's errors, one hierarchy (public module; they live in ``prompteur.core``)."""

from .core._errors import (
    Location,
    MissingDependencyError,
    PermanentProviderError,
    PrompteurError,
    ProviderError,
    ProviderUnavailableError,
    SuiteError,
    TemplateError,
    TransientProviderError,
    did_you_mean,
)

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
