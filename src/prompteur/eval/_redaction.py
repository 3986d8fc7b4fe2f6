"""What a run hands to its store and reports, without secrets.

A model is sent what the prompt asks for, a ``password`` var included; what is kept of the
cell (its vars, metadata, prompt, output, error, assertion values and reasons) has the
secrets it carries replaced by ``[redacted]``: values under secret names, the provider's
keys (from the environment or its config) wherever they are echoed, and whatever looks
like a credential (see ``prompteur.core._secrets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from ..core._results import AssertionResult, CellResult
from ..core._secrets import known_secrets, may_hold_secret, redact, redact_text, secret_values
from ..providers._base import Provider
from ._plan import Plan

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
    """Redacts a plan's cell results (see the module's docstring). Every cell goes through
    it, so what is shared is redacted once: a case's data for each provider, labels,
    assertion values."""

    def __init__(self, plan: Plan, limit: int = 4096) -> None:
        # a judge's key may be echoed in any cell it grades
        judges = plan.judges.judges if plan.judges is not None else []
        common = set().union(*(provider_secrets(j.provider) for j in judges))
        self._providers = [provider_secrets(p) | common for p in plan.providers]
        self._limit = limit
        self._cases: dict[tuple[int, int, int], _Case] = {}
        self._labels: dict[str, str] = {}
        self._values: dict[str, str] = {}

    def known(
        self, variables: Mapping[str, Any], metadata: Mapping[str, Any], provider: int
    ) -> tuple[str, ...]:
        """The secret values a cell may echo: its provider's and its test's."""
        values = secret_values(variables) | secret_values(metadata)
        if 0 <= provider < len(self._providers):
            values |= self._providers[provider]
        return known_secrets(values)

    def case_secrets(
        self, variables: Mapping[str, Any], metadata: Mapping[str, Any], provider: int
    ) -> tuple[str, ...]:
        """The secret values a cell of this case and provider may echo."""
        return self._case(variables, metadata, provider).known

    def carries_secret(
        self, variables: Mapping[str, Any], metadata: Mapping[str, Any], provider: int, text: str
    ) -> bool:
        """Whether ``text`` (a completion's output) holds a secret: it is then not cached."""
        return redact_text(text, self._case(variables, metadata, provider).known) != text

    def _case(
        self, variables: Mapping[str, Any], metadata: Mapping[str, Any], provider: int
    ) -> _Case:
        key = (id(variables), id(metadata), provider)
        found = self._cases.get(key)
        if found is None or found.variables is not variables or found.metadata is not metadata:
            if len(self._cases) >= self._limit:
                self._cases.clear()
            known = self.known(variables, metadata, provider)
            found = _Case(
                variables,
                metadata,
                known,
                redact(variables, known),
                redact(metadata, known),
            )
            self._cases[key] = found
        return found

    def _label(self, label: str) -> str:
        found = self._labels.get(label)
        if found is None:
            if len(self._labels) >= self._limit:
                self._labels.clear()
            found = self._labels[label] = redact_text(label)
        return found

    def result(self, result: CellResult) -> CellResult:
        """``result`` without its secrets; the same object when it holds none."""
        case = self._case(result.vars, result.metadata, result.provider_index)
        known = case.known
        changes: dict[str, Any] = {}
        for name in ("prompt_id", "provider_id"):
            before = getattr(result, name)
            if (after := self._label(before)) != before:
                changes[name] = after
        if case.redacted_vars is not result.vars:
            changes["vars"] = case.redacted_vars
        if case.redacted_metadata is not result.metadata:
            changes["metadata"] = case.redacted_metadata
        if known or not self._plain(result):
            self._redact_texts(result, known, changes)
        return replace(result, **changes) if changes else result

    @staticmethod
    def _plain(result: CellResult) -> bool:
        """Whether the cell's texts surely hold no credential (one scan of them all)."""
        texts = [result.prompt, result.output or "", result.error or ""]
        texts.append(result.test_description or "")
        for assertion in result.assertions:
            if assertion.value is not None and not isinstance(assertion.value, str):
                return False
            texts.append(assertion.value or "")
            texts.append(assertion.reason)
        return not may_hold_secret("\n".join(texts))

    def _redact_texts(
        self, result: CellResult, known: tuple[str, ...], changes: dict[str, Any]
    ) -> None:
        for name in ("prompt", "output", "error", "test_description"):
            before = getattr(result, name)
            if before is not None and (after := redact_text(before, known)) != before:
                changes[name] = after
        assertions = tuple(self._assertion(a, known) for a in result.assertions)
        if any(a is not b for a, b in zip(assertions, result.assertions, strict=True)):
            changes["assertions"] = assertions

    def _assertion(self, assertion: AssertionResult, known: tuple[str, ...]) -> AssertionResult:
        value = assertion.value
        if isinstance(value, str):
            if known:
                value = redact_text(value, known)
            else:
                value = self._values.get(value) or self._value(value)
        elif isinstance(value, Mapping | list | tuple):
            value = redact(value, known)
        reason = redact_text(assertion.reason, known)
        if value == assertion.value and reason == assertion.reason:
            return assertion
        return replace(assertion, value=value, reason=reason)

    def _value(self, value: str) -> str:
        if len(self._values) >= self._limit:
            self._values.clear()
        redacted = self._values[value] = redact_text(value)
        return redacted


@dataclass(frozen=True, slots=True)
class _Case:
    """A case's data as seen from one provider: the secrets its cells may echo, and its
    vars and metadata redacted."""

    variables: Mapping[str, Any]
    metadata: Mapping[str, Any]
    known: tuple[str, ...]
    redacted_vars: Any
    redacted_metadata: Any
