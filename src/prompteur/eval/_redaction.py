"""What a run hands to its store and reports, without secrets.

A model is sent what the prompt asks for, a ``password`` var included; what is kept of the
cell (its vars, metadata, prompt, output, error, assertion values and reasons) has the
secrets it carries replaced by ``[redacted]``: values under secret names, the provider's
keys (from the environment or its config) wherever they are echoed, and whatever looks
like a credential (see ``prompteur._secrets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from .._secrets import known_secrets, redact, redact_text, secret_values
from ..providers._base import Provider
from ._grading import AssertionResult
from ._plan import Plan
from ._results import CellResult

__all__ = ["Redactor", "provider_secrets"]


def provider_secrets(provider: Provider) -> set[str]:
    """The credentials a provider holds: secret headers (its API key, from the environment
    or its config), secret config values, the password of its base URL."""
    found: set[str] = set()
    headers = getattr(getattr(provider, "client", None), "headers", None)
    if isinstance(headers, Mapping):
        found |= secret_values(headers)
    config = getattr(provider, "config", None)
    if isinstance(config, BaseModel):
        config = config.model_dump(by_alias=True)
    if isinstance(config, Mapping):
        found |= secret_values(config)
    base_url = getattr(provider, "base_url", None)
    if isinstance(base_url, str):
        try:
            password = urlsplit(base_url).password
        except ValueError:
            password = None
        if password:
            found.add(password)
    return found


class Redactor:
    """Redacts a plan's cell results (see the module's docstring)."""

    def __init__(self, plan: Plan) -> None:
        # a judge's key may be echoed in any cell it grades
        judges = plan.judges.judges if plan.judges is not None else []
        common = set().union(*(provider_secrets(j.provider) for j in judges))
        self._providers = [provider_secrets(p) | common for p in plan.providers]

    def known(
        self, variables: Mapping[str, Any], metadata: Mapping[str, Any], provider: int
    ) -> tuple[str, ...]:
        """The secret values a cell may echo: its provider's and its test's."""
        values = secret_values(variables) | secret_values(metadata)
        if 0 <= provider < len(self._providers):
            values |= self._providers[provider]
        return known_secrets(values)

    def carries_secret(
        self, variables: Mapping[str, Any], metadata: Mapping[str, Any], provider: int, text: str
    ) -> bool:
        """Whether ``text`` (a completion's output) holds a secret: it is then not cached."""
        return redact_text(text, self.known(variables, metadata, provider)) != text

    def result(self, result: CellResult) -> CellResult:
        """``result`` without its secrets; the same object when it holds none."""
        known = self.known(result.vars, result.metadata, result.provider_index)

        def text(value: str | None) -> str | None:
            return None if value is None else redact_text(value, known)

        changes: dict[str, Any] = {}
        for name in ("prompt", "output", "error", "test_description", "prompt_id", "provider_id"):
            before = getattr(result, name)
            after = text(before)
            if after != before:
                changes[name] = after
        for name in ("vars", "metadata"):
            before = getattr(result, name)
            after = redact(before, known)
            if after != before:
                changes[name] = after
        assertions = tuple(_assertion(a, known) for a in result.assertions)
        if any(a is not b for a, b in zip(assertions, result.assertions, strict=True)):
            changes["assertions"] = assertions
        return replace(result, **changes) if changes else result


def _assertion(assertion: AssertionResult, known: tuple[str, ...]) -> AssertionResult:
    value = redact(assertion.value, known)
    reason = redact_text(assertion.reason, known)
    if value == assertion.value and reason == assertion.reason:
        return assertion
    return replace(assertion, value=value, reason=reason)
