"""What a registered prompt version is made of, read from a prompt file and checked before
it is kept: its template must compile and hold something to send, and what the registry
cannot keep is named rather than dropped in silence."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config._reading import display_path, read_text
from ..config._source import SourceFile, parse_yaml
from ..core._errors import Location, PrompteurError, SuiteError
from ..core._json import canonical
from ..prompts._prompty import parse_prompty
from ..prompts._template import PromptTemplate, parse_role_markers
from ._registry_check import Place, check_source, text_parts

__all__ = [
    "FORMATS",
    "MESSAGES_MARK",
    "Place",
    "PromptFile",
    "PromptSource",
    "check_source",
    "dump_messages",
    "parse_prompt_file",
    "read_prompt_file",
    "read_prompt_source",
]

FORMATS = ("text", "messages")
# metadata.prompteur of a .prompty file exported from a message list: read back as one
MESSAGES_MARK = {"format": "messages"}
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptSource:
    """What a prompt version is made of."""

    template: str
    format: str = "text"  # "text" (role-marker lines allowed) or "messages" (a JSON list)
    params: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    name: str | None = None  # as a .prompty file names it

    @property
    def content_hash(self) -> str:
        """The identity of the content; the description and name are not part of it."""
        import hashlib

        payload = {
            "format": self.format,
            "template": self.template,
            "params": dict(self.params),
            "defaults": dict(self.defaults),
        }
        return hashlib.sha256(canonical(payload).encode()).hexdigest()

    def normalized(self) -> PromptSource:
        """The same content in its one spelling: a message list as indented JSON."""
        if self.format not in FORMATS:
            raise PrompteurError(f"a prompt's format is 'text' or 'messages', not {self.format!r}")
        if self.format != "messages":
            return self
        try:
            messages = json.loads(self.template)
        except json.JSONDecodeError as exc:
            raise PrompteurError(f"a message list must be JSON: {exc.msg}") from None
        return replace(self, template=dump_messages(messages))

    def template_for(
        self,
        *,
        id: str,
        label: str,
        origin: Location | None = None,
        registry: tuple[str, int] | None = None,
    ) -> PromptTemplate:
        if self.format == "messages":
            messages = json.loads(self.template)
            built = PromptTemplate.from_messages(messages, id=id, label=label, origin=origin)
            return replace(
                built, defaults=dict(self.defaults), params=dict(self.params), registry=registry
            )
        built = PromptTemplate.from_text(
            self.template,
            id=id,
            label=label,
            origin=origin,
            defaults=self.defaults,
            params=self.params,
        )
        return replace(built, registry=registry)


def dump_messages(messages: Any) -> str:
    try:
        return json.dumps(messages, ensure_ascii=False, indent=2)
    except (TypeError, ValueError) as exc:
        raise PrompteurError(f"a message list must hold JSON values only ({exc})") from None


@dataclass(frozen=True)
class PromptFile:
    """A prompt file read for the registry: its content, and the parts it does not keep."""

    source: PromptSource
    unkept: tuple[str, ...] = ()  # .prompty frontmatter keys (authors, model.configuration...)
    version: str | None = None  # a .prompty file's version: the one it was exported from


def read_prompt_file(path: Path) -> PromptFile:
    """A prompt file as registry content: .txt/.md (one prompt), .json/.yaml message
    lists, or .prompty (its parameters, input defaults, name and description too)."""
    return parse_prompt_file(read_text(path, None), path.suffix, display_path(path))


def read_prompt_source(path: Path) -> PromptSource:
    return read_prompt_file(path).source


def parse_prompt_file(text: str, suffix: str, name: str) -> PromptFile:
    """The content of a prompt file of type ``suffix`` (``.txt``...), named ``name`` in errors."""
    suffix = suffix.lower()
    if suffix == ".prompty":
        return _from_prompty(text, name)
    if suffix in (".json", ".yaml", ".yml"):
        return PromptFile(_from_message_file(text, suffix, name))
    separator = _SEPARATOR.search(text)
    if separator:
        line = text.count("\n", 0, separator.start()) + 1
        raise SuiteError(
            "a '---' line splits a plain prompt file into several prompts; register one "
            "prompt per file (a .prompty body may hold '---' lines)",
            Location(name, line, 1),
        )
    template = text.strip("\n")
    source = PromptSource(template, "text")
    check_source(source, Place(name, 1 + len(text) - len(text.lstrip("\n"))))
    return PromptFile(source)


def _from_prompty(text: str, name: str) -> PromptFile:
    prompty = parse_prompty(text, Location(name, 1, 1))
    if prompty.api not in (None, "chat"):
        raise SuiteError(
            f"model.api is '{prompty.api}', but prompteur sends every prompt as chat "
            "messages: set api: chat (or remove it) to register this prompt",
            Location(name, 1, 1),
        )
    if prompty.template_format not in (None, "jinja2"):
        raise SuiteError(
            f"the template format is '{prompty.template_format}', but prompteur renders "
            "Jinja2 templates only",
            Location(name, 1, 1),
        )
    body = Place(name, prompty.body_line)
    common: dict[str, Any] = {
        "params": dict(prompty.parameters),
        "defaults": dict(prompty.defaults),
        "description": prompty.description,
        "name": prompty.name,
    }
    if prompty.metadata.get("prompteur") == MESSAGES_MARK:
        pieces = parse_role_markers(prompty.template)
        if pieces is None:
            raise SuiteError(
                "metadata.prompteur.format is 'messages', but the body holds no role-marker "
                "lines (system:, user:, assistant:)",
                body.at(1, 1),
            )
        messages = [{"role": role, "content": content} for role, content in pieces]
        source = PromptSource(dump_messages(messages), "messages", **common)
        places = [body.inner(line, column) for _, line, column in text_parts(prompty.template)]
        check_source(source, body, places)
    else:
        source = PromptSource(prompty.template, "text", **common)
        check_source(source, body)
    return PromptFile(source, prompty.unread, prompty.version)


def _from_message_file(text: str, suffix: str, name: str) -> PromptSource:
    file = SourceFile(Path(name), text, "json" if suffix == ".json" else "yaml")
    data = parse_yaml(text, file)
    if not isinstance(data, list) or not data:
        raise SuiteError(
            "a chat prompt file must hold a list of {role, content} messages", file.location()
        )
    for index, message in enumerate(data):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise SuiteError(
                f"message {index + 1} must be a mapping with a role and a text content",
                file.location((index,)),
            )
    places = []
    for index in range(len(data)):
        where = file.location((index, "content"))
        places.append(Place(where.file, where.line, where.column, exact=False))
    source = PromptSource(dump_messages(data), "messages")
    check_source(source, Place(name), places)
    return source
