"""Hosted APIs that speak OpenAI's chat-completions protocol, by name: ``mistral:MODEL``,
``openrouter:ORG/MODEL``, ``groq:MODEL``, ``togetherai:MODEL``, ``deepseek:MODEL``... each
a base URL and the environment variable its key is read from. Azure OpenAI speaks the same
protocol under its own paths and key header: ``azure:chat:DEPLOYMENT``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from ..config._models import ProviderSpec
from ..core._errors import SuiteError
from ._base import CompletionRequest, ProviderContext, parse_provider_config
from ._http import ApiHost, configured_api_key, env_base_url
from ._openai import OpenAIConfig, OpenAIProvider, _model_name, _other_api_problem
from ._openai_responses import ResponsesConfig, ResponsesProvider

__all__ = [
    "PRESETS",
    "AzureConfig",
    "AzureProvider",
    "create_azure_provider",
    "create_preset_provider",
]

#: name: (base URL, the variable holding its key)
PRESETS: dict[str, tuple[str, str]] = {
    "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "togetherai": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "together": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "fireworks": ("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "perplexity": ("https://api.perplexity.ai", "PERPLEXITY_API_KEY"),
    "xai": ("https://api.x.ai/v1", "XAI_API_KEY"),
    "cerebras": ("https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
    "deepinfra": ("https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY"),
    "hyperbolic": ("https://api.hyperbolic.xyz/v1", "HYPERBOLIC_API_KEY"),
    "github": ("https://models.github.ai/inference", "GITHUB_TOKEN"),
}


def create_preset_provider(spec: ProviderSpec, context: ProviderContext) -> OpenAIProvider:
    """An OpenAI-compatible provider named by its preset (the id's prefix)."""
    name = spec.id.split(":", 1)[0]
    default_base, key_var = PRESETS[name]
    config = parse_provider_config(OpenAIConfig, spec.config, spec.id, context)
    if problem := _other_api_problem(spec.id):
        raise SuiteError(problem, context.origin)
    model = _model_name(spec.id)
    if not model:
        raise SuiteError(
            f"provider '{spec.id}' names no model; write e.g. '{name}:MODEL'", context.origin
        )
    if config.api_base_url:
        base_url = config.api_base_url
    elif config.api_host:
        base_url = f"https://{config.api_host}/v1"
    else:
        base_url = default_base
    api_key = configured_api_key(
        spec.id,
        config.api_key,
        config.api_key_envar,
        key_var,
        context.env,
        context.origin,
        suite_base_url=bool(config.api_base_url or config.api_host),
    )
    if not api_key and base_url == default_base:
        raise SuiteError(
            f"provider '{spec.id}' needs an API key: set {config.api_key_envar or key_var}",
            context.origin,
        )
    return OpenAIProvider(spec.id, spec.label, model, config, base_url, api_key)


AZURE_API_VERSION = "2024-10-21"


class AzureConfig(OpenAIConfig):
    """``config`` of ``azure:chat:DEPLOYMENT``: OpenAI's settings, and where the
    deployment lives (``apiHost``, e.g. ``my-resource.openai.azure.com``)."""

    api_host: ApiHost | None = Field(None, alias="apiHost")
    api_version: str = Field(AZURE_API_VERSION, alias="apiVersion")
    deployment_id: str | None = None


class AzureProvider(OpenAIProvider):
    """Azure OpenAI's chat completions: the deployment in the path, the API version in
    the query, the key in an ``api-key`` header."""

    def __init__(
        self,
        id: str,
        label: str | None,
        deployment: str,
        config: AzureConfig,
        base_url: str,
        api_key: str | None,
    ) -> None:
        super().__init__(id, label, deployment, config, base_url, api_key)
        self.path = (
            f"/openai/deployments/{deployment}/chat/completions?api-version={config.api_version}"
        )

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"api-key": api_key}

    def identity(self) -> Mapping[str, Any]:
        return {**super().identity(), "path": self.path}

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        body = super().request_body(request)
        body.pop("model", None)  # the deployment, in the path, names the model
        return body


class AzureResponsesConfig(ResponsesConfig):
    api_host: ApiHost | None = Field(None, alias="apiHost")
    api_version: str = Field("preview", alias="apiVersion")
    deployment_id: str | None = None


class AzureResponsesProvider(ResponsesProvider):
    """Azure's Responses API: the v1 path (``apiVersion: preview``, the default) or a dated
    version's, the deployment as the model, the key in ``api-key``."""

    def __init__(
        self,
        id: str,
        label: str | None,
        deployment: str,
        config: AzureResponsesConfig,
        base_url: str,
        api_key: str | None,
    ) -> None:
        super().__init__(id, label, deployment, config, base_url, api_key)
        version = config.api_version
        prefix = "/openai/v1" if version in ("preview", "latest", "v1") else "/openai"
        self.path = f"{prefix}/responses?api-version={version}"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"api-key": api_key}

    def identity(self) -> Mapping[str, Any]:
        return {**super().identity(), "path": self.path}


def create_azure_provider(
    spec: ProviderSpec, context: ProviderContext
) -> AzureProvider | AzureResponsesProvider:
    prefix, _, rest = spec.id.partition(":")
    api, colon, deployment = rest.partition(":")
    if not colon:  # azure:DEPLOYMENT
        api, deployment = "chat", rest
    if api not in ("chat", "responses"):
        raise SuiteError(
            f"provider '{spec.id}': only Azure's chat completions and Responses API are "
            f"supported; write '{prefix}:chat:{deployment or 'DEPLOYMENT'}'",
            context.origin,
        )
    config: AzureConfig | AzureResponsesConfig
    if api == "chat":
        config = parse_provider_config(AzureConfig, spec.config, spec.id, context)
    else:
        config = parse_provider_config(AzureResponsesConfig, spec.config, spec.id, context)
    deployment = config.deployment_id or deployment
    if not deployment:
        raise SuiteError(
            f"provider '{spec.id}' names no deployment; write '{prefix}:{api}:DEPLOYMENT'",
            context.origin,
        )
    base_url, api_key = _azure_endpoint(spec, config, context)
    if isinstance(config, AzureResponsesConfig):
        return AzureResponsesProvider(spec.id, spec.label, deployment, config, base_url, api_key)
    return AzureProvider(spec.id, spec.label, deployment, config, base_url, api_key)


def _azure_endpoint(
    spec: ProviderSpec, config: AzureConfig | AzureResponsesConfig, context: ProviderContext
) -> tuple[str, str]:
    """The resource's base URL and the key, from the config or the environment."""
    env = context.env
    host = config.api_host or env.get("AZURE_OPENAI_API_HOST") or env.get("AZURE_API_HOST")
    base_url = config.api_base_url or env_base_url(
        spec.id, ("AZURE_OPENAI_API_BASE_URL", "AZURE_API_BASE_URL"), env, context.origin
    )
    if base_url is None:
        if not host:
            raise SuiteError(
                f"provider '{spec.id}' needs the resource's host: set config.apiHost "
                "(e.g. my-resource.openai.azure.com) or AZURE_OPENAI_API_HOST",
                context.origin,
            )
        base_url = f"https://{host.removeprefix('https://').rstrip('/')}"
    default_var = "AZURE_OPENAI_API_KEY" if env.get("AZURE_OPENAI_API_KEY") else "AZURE_API_KEY"
    api_key = configured_api_key(
        spec.id,
        config.api_key,
        config.api_key_envar,
        default_var,
        env,
        context.origin,
        suite_base_url=bool(config.api_base_url or config.api_host),
    )
    if not api_key:
        raise SuiteError(
            f"provider '{spec.id}' needs an API key: set AZURE_OPENAI_API_KEY (or AZURE_API_KEY)",
            context.origin,
        )
    return base_url, api_key
