"""What counts as a secret: the store and the reports keep none."""

from __future__ import annotations

import pytest

from prompteur.config import ProviderSpec
from prompteur.core._secrets import (
    REDACTED,
    is_secret_name,
    known_secrets,
    redact,
    redact_text,
    secret_values,
)
from prompteur.providers import ProviderContext
from prompteur.providers._python import create_python_provider


@pytest.mark.parametrize(
    "name",
    [
        "apiKey",
        "api_key",
        "API-KEY",
        "openai_api_key",
        "token",
        "auth_token",
        "password",
        "Authorization",
        "secret",
        "client_secret",
        "x-api-key",
        "private_key",
        "key",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "apiKeyEnvar",
        "max_tokens",
        "maxTokens",
        "temperature",
        "model",
        "keywords",
        "token_limit",
        "api_key_env",
        "monkey",
    ],
)
def test_names_that_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_walks_nested_values_and_spots_credentials_by_their_look() -> None:
    config = {
        "apiKey": "sk-live-0123456789",
        "max_tokens": 32,
        "nested": {"token": "abc", "list": [{"password": "p"}, "Bearer abcdefghijkl"]},
        "note": "sk-proj-abcdefghijklmnop",
        "apiKeyEnvar": "MY_KEY",
        "empty_key": "",
    }
    assert redact(config) == {
        "apiKey": REDACTED,
        "max_tokens": 32,
        "nested": {"token": REDACTED, "list": [{"password": REDACTED}, REDACTED]},
        "note": REDACTED,
        "apiKeyEnvar": "MY_KEY",
        "empty_key": "",
    }
    assert config["apiKey"] == "sk-live-0123456789", "the original is left alone"


def test_a_python_providers_identity_holds_no_secret(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "p.py").write_text("def call_api(prompt, options, context):\n    return prompt\n")
    spec = ProviderSpec(
        id="file://p.py", config={"apiKey": "sk-abcdefghijkl", "nested": {"token": "t0k"}, "n": 1}
    )
    provider = create_python_provider(spec, ProviderContext(base_dir=folder))
    identity = provider.identity()
    assert "sk-abcdefghijkl" not in repr(identity) and "t0k" not in repr(identity)
    assert identity["config"]["n"] == 1
    assert provider.config["apiKey"] == "sk-abcdefghijkl", "the function still gets its key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token=sk-proj-abcdefghij123", "token=[redacted]"),
        ("call with sk-proj-abcdefghij123 now", "call with [redacted] now"),
        ("https://user:tok-123@host/v1", "https://user:[redacted]@host/v1"),
        ("GET /x?api_key=abc123&n=2", "GET /x?api_key=[redacted]&n=2"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: [redacted]"),
        # prose and masked passwords stay as they are
        ("the bearer authentication scheme", "the bearer authentication scheme"),
        ("a desk-abcdefghijkl and a task-123456789", "a desk-abcdefghijkl and a task-123456789"),
        ("postgresql://nobody:***@127.0.0.1/x", "postgresql://nobody:***@127.0.0.1/x"),
    ],
)
def test_credentials_inside_text_are_replaced_where_they_are(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_known_values_are_replaced_wherever_they_are_echoed() -> None:
    known = known_secrets(secret_values({"vars": {"password": "hunter22", "q": "x"}}) | {"ab"})
    assert known == ("hunter22",)  # too short a value is not looked for
    assert redact_text("HTTP 401: bad key hunter22 given", known) == (
        "HTTP 401: bad key [redacted] given"
    )
    assert redact({"echo": ["my hunter22"]}, known) == {"echo": ["my [redacted]"]}
