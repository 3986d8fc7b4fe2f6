"""Writing a registered version to a prompt file that reads back as the same content.

Every export is read back before it is handed out: what a format cannot carry is refused
with the reason and a format that can, never dropped.
"""

from __future__ import annotations

import json
from typing import Any

from ..core._errors import PrompteurError
from ..prompts._template import _ROLE_LINE, ROLES
from ._registry import PromptVersion, RegistryError
from ._registry_source import MESSAGES_MARK, parse_prompt_file

__all__ = ["EXPORT_KINDS", "export_text", "messages_as_role_text"]

EXPORT_KINDS = {".prompty": "prompty", ".txt": "text", ".md": "text", ".json": "json"}
_SUFFIX = {"prompty": ".prompty", "text": ".txt", "json": ".json"}
_WHOLE = "export its whole history to .json with --all"


def export_text(version: PromptVersion, kind: str) -> str:
    """The file content of ``version`` as ``kind`` (prompty, text or json)."""
    text = _write(version, kind)
    try:
        back = parse_prompt_file(text, _SUFFIX[kind], f"{version.ref}{_SUFFIX[kind]}").source
    except PrompteurError as exc:
        raise RegistryError(f"{version.ref} cannot be exported: read back, {exc}") from None
    if back.content_hash != version.content_hash:
        raise RegistryError(
            f"{version.ref} would not read back unchanged from a {_SUFFIX[kind]} file; {_WHOLE}"
        )
    return text


def _write(version: PromptVersion, kind: str) -> str:
    source = version.source
    ref = version.ref
    extras = source.params or source.defaults
    if source.format == "messages":
        messages = json.loads(source.template)
        if kind == "text":
            raise RegistryError(
                f"{ref} is a list of chat messages, which a plain file would read back as "
                "text: export it to .json or .prompty"
            )
        body, reason = messages_as_role_text(messages)
        if kind == "json":
            if not extras:
                return source.template.rstrip("\n") + "\n"
            where = "export it to .prompty" if body is not None else _WHOLE
            raise RegistryError(
                f"{ref} has model parameters or input defaults, which a .json message list "
                f"cannot hold: {where}"
            )
        if body is None:
            where = _WHOLE if extras else "export it to .json"
            raise RegistryError(f"{ref} cannot be written as role-marker lines ({reason}): {where}")
        return _prompty(version, body, messages=True)
    if kind == "json":
        raise RegistryError(
            f"{ref} is a text prompt, which a .json file would read back as a message list: "
            "export it to .txt or .prompty"
        )
    _check_text(version)
    if kind == "text":
        if extras:
            raise RegistryError(
                f"{ref} has model parameters or input defaults, which a plain file cannot "
                "hold: export it to .prompty"
            )
        if any(line.rstrip(" \t") == "---" for line in source.template.splitlines()):
            raise RegistryError(
                f"{ref} holds a '---' line, which splits a plain prompt file into several "
                "prompts: export it to .prompty"
            )
        return source.template + "\n"
    return _prompty(version, source.template, messages=False)


def _check_text(version: PromptVersion) -> None:
    template = version.source.template
    if "\r" in template:
        raise RegistryError(
            f"{version.ref} holds carriage returns, which files do not keep; {_WHOLE}"
        )
    if template != template.strip("\n"):
        raise RegistryError(
            f"{version.ref} begins or ends with blank lines, which files do not keep; {_WHOLE}"
        )


def messages_as_role_text(messages: Any) -> tuple[str | None, str]:
    """A message list as role-marker lines that split back into the same messages, or
    (None, why it cannot be)."""
    lines = []
    for number, message in enumerate(messages, start=1):
        role, content = message.get("role"), message.get("content")
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            return None, f"message {number} has keys a role marker cannot carry: {', '.join(extra)}"
        if role not in ROLES:
            return None, f"message {number} has the role '{role}'"
        if content != content.strip() or "\r" in content:
            return None, f"message {number} begins or ends with white space"
        if any(_ROLE_LINE.match(line) for line in content.splitlines()):
            return None, f"message {number} holds a line that reads as a role marker"
        if not content:
            lines.append(f"{role}:")
        elif "\n" in content:
            lines.append(f"{role}:\n{content}")
        else:
            lines.append(f"{role}: {content}")
    return "\n\n".join(lines), ""


def _prompty(version: PromptVersion, body: str, *, messages: bool) -> str:
    import yaml

    source = version.source
    meta: dict[str, Any] = {"name": version.name}
    if source.description:
        meta["description"] = source.description
    meta["version"] = f"v{version.version}"
    model: dict[str, Any] = {"api": "chat"}
    if source.params:
        model["parameters"] = dict(source.params)
    meta["model"] = model
    if source.defaults:
        meta["inputs"] = [{"name": k, "default": v} for k, v in source.defaults.items()]
    if messages:
        meta["metadata"] = {"prompteur": dict(MESSAGES_MARK)}
    frontmatter = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{frontmatter}---\n{body}\n"
