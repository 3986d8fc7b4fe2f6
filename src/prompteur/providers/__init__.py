"""Model providers: one async protocol, registered by id prefix, imported lazily."""

from ._base import BaseProvider, Completion, CompletionRequest, Provider, ProviderContext, Usage
from ._registry import ProviderFactory, create_provider, provider_names, register_provider

__all__ = [
    "BaseProvider",
    "Completion",
    "CompletionRequest",
    "Provider",
    "ProviderContext",
    "ProviderFactory",
    "Usage",
    "create_provider",
    "provider_names",
    "register_provider",
]
