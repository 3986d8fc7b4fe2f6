"""Providers by id prefix, imported lazily.

Built-in and third-party providers are found the same way: the ``prompteur.providers``
entry-point group maps a prefix (``openai`` in ``openai:chat:gpt-4o-mini``) to a factory
``(spec, context) -> Provider``. :func:`register_provider` adds one at run time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from ..config._models import ProviderSpec
from ..core._errors import MissingDependencyError, SuiteError, did_you_mean
from ._base import Provider, ProviderContext

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["ProviderFactory", "create_provider", "provider_names", "register_provider"]

ProviderFactory: TypeAlias = Callable[[ProviderSpec, ProviderContext], Provider]

ENTRY_POINT_GROUP = "prompteur.providers"
DEFAULT_PROVIDER = "local"

_registered: dict[str, ProviderFactory] = {}


def register_provider(prefix: str, factory: ProviderFactory) -> None:
    """Make ``prefix:...`` ids create providers with ``factory``."""
    _registered[prefix] = factory


def provider_prefix(provider_id: str) -> str:
    if provider_id.startswith("file://"):
        return "python"
    return provider_id.split(":", 1)[0]


def provider_names() -> list[str]:
    """Every known provider prefix."""
    from importlib.metadata import entry_points

    names = set(_registered) | set(BUILTIN)
    names |= {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


# The built-in providers, also declared in the entry-point group: looking them up here
# spares a run the scan of every installed package's metadata.
BUILTIN = {
    "local": "prompteur.providers._local:create_local_provider",
    "openai": "prompteur.providers._openai:create_openai_provider",
    "ollama": "prompteur.providers._openai:create_ollama_provider",
    "anthropic": "prompteur.providers._anthropic:create_anthropic_provider",
    "python": "prompteur.providers._python:create_python_provider",
    "echo": "prompteur.providers._echo:create_echo_provider",
    "azure": "prompteur.providers._openai_presets:create_azure_provider",
    "azureopenai": "prompteur.providers._openai_presets:create_azure_provider",
    "google": "prompteur.providers._google:create_google_provider",
    "vertex": "prompteur.providers._google_vertex:create_vertex_provider",
    "bedrock": "prompteur.providers._bedrock:create_bedrock_provider",
    "http": "prompteur.providers._http_provider:create_http_provider",
    "https": "prompteur.providers._http_provider:create_http_provider",
    **dict.fromkeys(
        (
            "mistral",
            "openrouter",
            "groq",
            "togetherai",
            "together",
            "deepseek",
            "fireworks",
            "perplexity",
            "xai",
            "cerebras",
            "deepinfra",
            "hyperbolic",
            "github",
        ),
        "prompteur.providers._openai_presets:create_preset_provider",
    ),
}


def _factory(prefix: str) -> ProviderFactory | None:
    if prefix in _registered:
        return _registered[prefix]
    if prefix in BUILTIN:
        module, _, attribute = BUILTIN[prefix].partition(":")
        factory: ProviderFactory = getattr(importlib.import_module(module), attribute)
        _registered[prefix] = factory
        return factory
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP, name=prefix):
        try:
            factory = ep.load()
        # importing a plugin runs its code: any error there is the plugin's, not a crash
        except Exception as exc:
            raise MissingDependencyError(
                f"provider '{prefix}' cannot be imported ({_describe(exc)}); "
                f"reinstall the package that provides it{_package(ep)}"
            ) from exc
        _registered[prefix] = factory
        return factory
    return None


def create_provider(spec: ProviderSpec, context: ProviderContext) -> Provider:
    """Instantiate the provider a spec names. Every error is a :class:`SuiteError` located
    at the spec: a provider that cannot be made is found before any model is called."""
    prefix = provider_prefix(spec.id)
    try:
        factory = _factory(prefix)
    except MissingDependencyError as exc:
        raise SuiteError(str(exc), context.origin) from exc
    if factory is None:
        known = provider_names()
        raise SuiteError(
            f"unknown provider '{spec.id}'{did_you_mean(prefix, known)}; "
            f"known providers: {', '.join(known)}",
            context.origin,
        )
    try:
        provider = factory(spec, context)
    except SuiteError as exc:
        if exc.location is not None or context.origin is None:
            raise
        raise SuiteError(exc.message, context.origin) from exc
    except MissingDependencyError as exc:
        raise SuiteError(str(exc), context.origin) from exc
    except Exception as exc:
        if _is_builtin(factory):
            raise  # a bug of ours: its traceback is worth more than one line
        # a plugin's factory refuses its settings as it sees fit (ValueError, KeyError...)
        raise SuiteError(
            f"provider '{spec.id}' cannot be set up: {_describe(exc)}", context.origin
        ) from exc
    if not isinstance(provider, Provider):
        raise SuiteError(
            f"provider '{spec.id}': its factory returned {type(provider).__name__}, "
            "not a provider (an object with an id and an async complete method)",
            context.origin,
        )
    return provider


def _is_builtin(factory: ProviderFactory) -> bool:
    return str(getattr(factory, "__module__", "")).startswith(f"{__package__}.")


def _package(ep: EntryPoint) -> str:
    return f" ({ep.dist.name})" if ep.dist is not None else ""


def _describe(exc: BaseException) -> str:
    """An exception as one line: its message, with its type where the message alone would
    not say what went wrong (``KeyError: 'url'``)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError | ImportError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
