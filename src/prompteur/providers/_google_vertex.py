"""Gemini on Vertex AI: ``vertex:MODEL``, the generateContent protocol under a project and
a region, with an access token (``VERTEX_API_KEY``, else Application Default Credentials
through google-auth)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..config._models import ProviderSpec
from ..core._errors import MissingDependencyError, SuiteError
from ._base import ProviderContext
from ._google import GoogleProvider, _model, parse_config
from ._http import configured_api_key

__all__ = ["AccessToken", "create_vertex_provider"]

DEFAULT_REGION = "us-central1"


class AccessToken:
    """A Vertex access token: the one given, else Application Default Credentials through
    google-auth (refreshed off the event loop when it expires)."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.credentials: Any = None

    async def get(self) -> str:
        if self.token:
            return self.token
        if self.credentials is None:
            try:
                import google.auth
            except ImportError:
                raise MissingDependencyError(
                    "vertex needs an access token: set VERTEX_API_KEY (gcloud auth "
                    "print-access-token), or pip install 'prompteur[vertex]'"
                ) from None
            self.credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        if not self.credentials.valid:
            from google.auth.transport.requests import Request

            await asyncio.to_thread(self.credentials.refresh, Request())
        return str(self.credentials.token)


def create_vertex_provider(spec: ProviderSpec, context: ProviderContext) -> GoogleProvider:
    config = parse_config(spec, context)
    model = _model(spec, "vertex", context)
    env = context.env
    project = config.project_id or env.get("VERTEX_PROJECT_ID") or env.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise SuiteError(
            f"provider '{spec.id}' needs a project: set config.projectId or VERTEX_PROJECT_ID",
            context.origin,
        )
    region = config.region or env.get("VERTEX_REGION") or DEFAULT_REGION
    host = config.api_host or env.get("VERTEX_API_HOST") or f"{region}-aiplatform.googleapis.com"
    base_url = config.api_base_url or f"https://{host}"
    token = configured_api_key(
        spec.id,
        config.api_key,
        config.api_key_envar,
        "VERTEX_API_KEY",
        env,
        context.origin,
        suite_base_url=bool(config.api_base_url or config.api_host),
    )
    version = config.api_version or "v1"
    path = (
        f"/{version}/projects/{project}/locations/{region}/publishers/google/models/"
        f"{model}:generateContent"
    )
    return GoogleProvider(
        spec.id, spec.label, model, config, base_url, path, {}, AccessToken(token)
    )
