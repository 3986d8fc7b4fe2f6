"""Recognising secrets, so that nothing the store or a report keeps holds one.

A value is a secret when its key names one (``apiKey``, ``api_token``, ``password``,
``Authorization``...) or when it looks like a credential whatever its key (``sk-...``,
``Bearer ...``). Names of environment variables (``apiKeyEnvar``) and token counts
(``max_tokens``) are not secrets. Inside longer text, credentials are found by their look
(``token=sk-...``, the password of ``https://user:password@host``) and by their value when
it is known (a key from the environment, a ``password`` var), and only they are replaced.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "REDACTED",
    "cell_secrets",
    "holds_secret",
    "is_secret_name",
    "known_secrets",
    "looks_like_secret",
    "may_hold_secret",
    "redact",
    "redact_text",
    "secret_values",
]

REDACTED = "[redacted]"

_SECRET_NAME = re.compile(
    r"(api_?key|access_?key|private_?key|secret|passw(or)?d|passphrase|credential|"
    r"authorization|auth_?token|bearer|cookie|session_?id|^key$|_key$|^token$|_token$)"
)
_NOT_SECRET_NAME = re.compile(r"(envar|env|_?env_?var|_name|_path|_file|_tokens|_length)$")
_SECRET_VALUE = re.compile(
    r"^(sk-[A-Za-z0-9_-]{8,}|sk_(live|test)_\w{8,}|bearer\s+\S{8,}|basic\s+\S{8,}|"
    r"xox[abprs]-\S{8,}|gh[pousr]_\w{16,}|AKIA[0-9A-Z]{12,}|AIza[\w-]{20,})$",
    re.IGNORECASE,
)

# Credentials inside longer text: the same looks, a URL's password, key=value pairs. Each
# pattern runs only when its trigger is in the text (a substring search, far cheaper than
# the pattern): every output of a run goes through here.
_IN_TEXT: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("sk-", "sk_"), re.compile(r"\bsk(?:-[A-Za-z0-9_-]{8,}|_(?:live|test)_\w{8,})")),
    (("xox",), re.compile(r"\bxox[abprs]-[\w-]{8,}")),
    (("_",), re.compile(r"\bgh[pousr]_\w{16,}")),
    (("AKIA",), re.compile(r"\bAKIA[0-9A-Z]{12,}")),
    (("AIza",), re.compile(r"\bAIza[\w-]{20,}")),
    (("earer", "EARER"), re.compile(r"(?i:\bbearer\s+)(?=[\w.~+/=-]*\d)[\w.~+/=-]{16,}")),
    # *** is a password masked already
    (("@",), re.compile(r"(?<=://)(?P<user>[^/\s:@]*):(?!\*+@)[^/\s@]+(?=@)")),
    (
        ("=",),
        re.compile(
            r"(?i:\b(?:passw(?:or)?d|pwd|secret|token|api_?key|access_?token|auth)=)"
            r"(?P<value>[^\s&\"',;]+)"
        ),
    ),
)
# what every credential redact_text finds holds, whole (looks_like_secret) or in text
_TRIGGERS = (*(t for triggers, _ in _IN_TEXT for t in triggers), "asic", "ASIC")
# known values shorter than this are not looked for in text: "a" would blank every a
_MIN_KNOWN = 6


def _normalised(name: str) -> str:
    """``apiKey``, ``api-key`` and ``API_KEY`` all become ``api_key``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    key = _normalised(name)
    return bool(_SECRET_NAME.search(key)) and not _NOT_SECRET_NAME.search(key)


def looks_like_secret(value: str) -> bool:
    return bool(_SECRET_VALUE.match(value.strip()))


def _in_text(match: re.Match[str]) -> str:
    groups = match.re.groupindex
    if "value" in groups:  # key=value: the key stays
        return match[0][: match.start("value") - match.start()] + REDACTED
    if "user" in groups:  # user:password@ keeps the user
        return f"{match['user']}:{REDACTED}"
    return REDACTED


def redact_text(text: str, known: Collection[str] = ()) -> str:
    """``text`` with the credentials in it replaced by ``[redacted]``: the ``known`` secret
    values (longest first), and whatever looks like one."""
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if len(text) < 256 and looks_like_secret(text):  # a credential alone is short
        return REDACTED
    for triggers, pattern in _IN_TEXT:
        for trigger in triggers:
            if trigger in text:
                text = pattern.sub(_in_text, text)
                break
    return text


def may_hold_secret(text: str) -> bool:
    """False when ``redact_text(text)`` (with no known values) surely finds nothing: one
    substring search per trigger, for the many texts that hold none."""
    return any(trigger in text for trigger in _TRIGGERS)


def known_secrets(values: Iterable[str]) -> tuple[str, ...]:
    """The values worth looking for in text, longest first (one may hold another)."""
    kept = {v for v in values if len(v) >= _MIN_KNOWN and v != REDACTED}
    return tuple(sorted(kept, key=len, reverse=True))


def secret_values(value: Any) -> set[str]:
    """The text values held under secret names anywhere in ``value`` (a ``Bearer x``
    header gives ``x`` too), to be looked for in text that carries them."""
    if isinstance(value, Mapping) and not any(
        isinstance(v, Mapping | list | tuple) or (isinstance(k, str) and is_secret_name(k))
        for k, v in value.items()
    ):
        return set()  # the common case, a case's plain vars: nothing to walk
    found: set[str] = set()
    pending = [(False, value)]
    while pending:
        secret, item = pending.pop()
        if isinstance(item, Mapping):
            pending.extend(
                (secret or (isinstance(k, str) and is_secret_name(k)), v) for k, v in item.items()
            )
        elif isinstance(item, list | tuple):
            pending.extend((secret, v) for v in item)
        elif secret and isinstance(item, str | int) and not isinstance(item, bool):
            text = str(item)
            found.add(text)
            scheme, _, rest = text.partition(" ")
            if rest and scheme.lower() in ("bearer", "basic"):
                found.add(rest)
    return found


def redact(value: Any, known: Collection[str] = ()) -> Any:
    """``value`` (mappings and lists walked through) with every secret replaced by
    ``[redacted]``: values under secret names whole, credentials in text (see
    ``redact_text``) where they are. ``known``: secret values, longest first. A copy where
    something was redacted; ``value`` itself where nothing was."""
    if isinstance(value, Mapping):
        items: dict[Any, Any] = {}
        changed = not isinstance(value, dict)
        for key, item in value.items():
            if isinstance(key, str) and is_secret_name(key) and item not in (None, ""):
                new = REDACTED
            else:
                new = redact(item, known)
            changed = changed or (new is not item and new != item)
            items[key] = new
        return items if changed else value
    if isinstance(value, list | tuple):
        redacted = [redact(item, known) for item in value]
        same = all(a is b or a == b for a, b in zip(redacted, value, strict=True))
        return value if same and isinstance(value, list) else redacted
    if isinstance(value, str):
        return redact_text(value, known)
    return value


# the secrets of the cell being graded, for the judges it asks (they know no case)
_CELL_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("prompteur_cell_secrets", default=())


@contextmanager
def cell_secrets(known: tuple[str, ...]) -> Iterator[None]:
    """Within: ``holds_secret`` also looks for ``known``, a cell's secret values."""
    token = _CELL_SECRETS.set(known)
    try:
        yield
    finally:
        _CELL_SECRETS.reset(token)


def holds_secret(text: str) -> bool:
    """Whether ``text`` holds a credential, or a secret of the cell being graded."""
    return redact_text(text, _CELL_SECRETS.get()) != text
