"""Prompt templates: Jinja2 in its sandbox, as plain text or as chat messages.

A chat prompt is split into messages *before* rendering (role-marker lines or a JSON message
list), so a variable's value can never open a new message. Undefined variables are errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import jinja2

from ..core._errors import Location, TemplateError, did_you_mean
from ._nunjucks import NUNJUCKS_FILTERS, js_text, nunjucks_source
from ._template_errors import syntax_error_location
from ._template_limits import BoundedEnvironment, render_bounded

__all__ = [
    "Content",
    "Message",
    "PromptTemplate",
    "parse_role_markers",
    "part_text",
    "render_string",
]

ROLES = ("system", "user", "assistant")
_ROLE_LINE = re.compile(r"^(system|user|assistant):[ \t]*(.*)$")


#: A chat message's content: text, or content parts (``{"type": "text", "text": ...}``,
#: ``image_url``, ``input_audio``, ``file``...) as OpenAI's chat API writes them.
Content = str | tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: str
    content: Content

    def to_dict(self) -> dict[str, Any]:
        content = self.content
        return {
            "role": self.role,
            "content": content if isinstance(content, str) else list(content),
        }

    @property
    def text(self) -> str:
        """The content as text: its text parts, and a short mark for each other part (a
        report shows the prompt as sent without megabytes of base64)."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part_text(part) for part in self.content)


def part_text(part: Mapping[str, Any]) -> str:
    """A content part as text: its text, or ``[image: image/png, 12,345 bytes]``. Parts
    written as ``{modality, value}`` (Adaline's gateway) are read alike."""
    kind = part.get("type", part.get("modality"))
    if kind is None:  # Bedrock's blocks: {text} or {image: {format, source: {bytes}}}
        if isinstance(part.get("text"), str):
            return str(part["text"])
        kind = next((key for key in ("image", "document", "video") if key in part), "part")
        return f"[{kind}]"
    if kind == "text":
        return str(part.get("text", part.get("value", "")))
    inner = part.get(kind, part.get("value")) if isinstance(kind, str) else None
    value = ""
    if isinstance(inner, Mapping):
        for key in ("url", "file_data", "data"):
            if isinstance(inner.get(key), str):
                value = inner[key]
                break
    elif isinstance(inner, str):
        value = inner
    if value.startswith("data:"):
        header, _, data = value.partition(",")
        mime = header[5:].split(";")[0] or "data"
        return f"[{kind}: {mime}, {len(data) * 3 // 4:,} bytes]"
    return f"[{kind}: {value}]" if value else f"[{kind}]"


_environment: BoundedEnvironment | None = None


def environment() -> BoundedEnvironment:
    """The one sandboxed Jinja2 environment: strict undefined, no autoescape, tojson works,
    values written as nunjucks writes them (``true``, not ``True``), within the limits of
    ``_template_limits`` (time, size)."""
    global _environment
    if _environment is None:
        env = BoundedEnvironment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            # the vars keep their Python values (filters and tests see them as they are);
            # only the text a {{ }} writes follows nunjucks
            finalize=js_text,
        )
        env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
        # nunjucks' truncate cuts at the length it is given; Jinja2 lets 5 characters past
        env.policies["truncate.leeway"] = 0
        env.filters.update(NUNJUCKS_FILTERS)
        _environment = env
    return _environment


def parse_role_markers(text: str) -> list[tuple[str, str]] | None:
    """Split text into (role, body) pairs when its first non-blank line is a role marker
    (``system:``, ``user:``, ``assistant:`` at the start of a line); None otherwise."""
    lines = text.splitlines(keepends=True)
    first = next((line for line in lines if line.strip()), None)
    if first is None or not _ROLE_LINE.match(first.rstrip("\r\n")):
        return None
    parts: list[tuple[str, list[str]]] = []
    for line in lines:
        match = _ROLE_LINE.match(line.rstrip("\r\n"))
        if match:
            rest = match.group(2)
            parts.append((match.group(1), [rest + "\n"] if rest else []))
        elif parts:
            parts[-1][1].append(line)
    return [(role, "".join(body).strip()) for role, body in parts]


def _compile(source: str, origin: Location | None, label: str) -> jinja2.Template:
    try:
        return environment().from_string(nunjucks_source(source))
    except jinja2.TemplateSyntaxError as exc:
        where = syntax_error_location(source, origin, exc.lineno or 1)
        raise TemplateError(
            f"template syntax error in prompt '{label}': {exc.message}", where
        ) from None


def render_string(source: str, variables: Mapping[str, Any]) -> str:
    """Render a one-off template string (assertion values) with the same environment;
    whatever goes wrong is a jinja2.TemplateError."""
    return render_bounded(environment().from_string(nunjucks_source(source)), variables)


@dataclass(frozen=True, slots=True)
class PromptPart:
    role: str | None  # None for a plain-text prompt
    source: str  # the template's text
    template: jinja2.Template
    static: str | None  # the text itself when it contains no template syntax
    # (is a variable, text) pieces when the template only substitutes variables: most
    # prompts are, and joining pieces costs a tenth of a Jinja2 render
    pieces: tuple[tuple[bool, str], ...] | None = None
    #: content parts (a message whose content is a list): each text in them a template
    content_parts: tuple[dict[str, Any], ...] | None = None

    def render_content(self, scope: Mapping[str, Any]) -> Content:
        if self.content_parts is None:
            return self.render(scope)
        return tuple(_render_leaves(part, scope) for part in self.content_parts)

    def render(self, scope: Mapping[str, Any]) -> str:
        if self.static is not None:
            return self.static
        if self.pieces is None:
            return render_bounded(self.template, scope)
        out = []
        for is_variable, text in self.pieces:
            if not is_variable:
                out.append(text)
                continue
            try:
                value = scope[text]
            except KeyError:
                raise jinja2.UndefinedError(f"'{text}' is undefined") from None
            out.append(value if isinstance(value, str) else js_text(value))
        return "".join(out)


def _render_leaves(value: Any, scope: Mapping[str, Any]) -> Any:
    """A content part with each of its texts rendered as a template."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        return render_bounded(environment().from_string(nunjucks_source(value)), scope)
    if isinstance(value, Mapping):
        return {key: _render_leaves(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_leaves(item, scope) for item in value]
    return value


def _substitution_pieces(source: str) -> tuple[tuple[bool, str], ...] | None:
    """The template as literal text and plain ``{{ name }}`` lookups, or None if it uses
    anything else (filters, attributes, blocks...)."""
    from jinja2 import nodes

    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError:
        return None
    pieces: list[tuple[bool, str]] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append((False, node.data))
            elif isinstance(node, nodes.Name) and node.ctx == "load":
                pieces.append((True, node.name))
            else:
                return None
    return tuple(pieces)


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt ready to render. ``chat`` prompts render to several messages."""

    id: str
    label: str
    raw: str
    chat: bool
    parts: tuple[PromptPart, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    origin: Location | None = None
    registry: tuple[str, int] | None = None  # (name, version) of a registered prompt
    #: a JSON prompt file written as a template (``{% for %}``, ``{{ x | dump }}``): its one
    #: part renders to the JSON list of messages, as promptfoo reads such a file
    json_template: bool = False

    @classmethod
    def from_text(
        cls,
        raw: str,
        *,
        id: str,
        label: str,
        origin: Location | None = None,
        defaults: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> PromptTemplate:
        """A text prompt; role-marker lines make it a chat prompt."""
        pieces = parse_role_markers(raw)
        if pieces is None:
            parts: tuple[PromptPart, ...] = (_part(None, raw, origin, label),)
            chat = False
        else:
            parts = tuple(_part(role, body, origin, label) for role, body in pieces)
            chat = True
        return cls(id, label, raw, chat, parts, defaults or {}, params or {}, origin)

    @classmethod
    def from_messages(
        cls,
        messages: Sequence[Mapping[str, Any]],
        *,
        id: str,
        label: str,
        origin: Location | None = None,
    ) -> PromptTemplate:
        """A chat prompt from a list of {role, content} mappings (a JSON prompt file)."""
        parts = []
        for index, message in enumerate(messages):
            problem = message_problem(message)
            if problem is not None:
                raise TemplateError(f"message {index + 1} of prompt '{label}' {problem[1]}", origin)
            content = message["content"]
            if isinstance(content, str):
                parts.append(_part(str(message["role"]), content, origin, label))
            else:
                parts.append(_parts_message(str(message["role"]), content, origin, label))
        raw = json.dumps(list(messages), ensure_ascii=False, indent=2)
        return cls(id, label, raw, True, tuple(parts), {}, {}, origin)

    @classmethod
    def from_json_template(
        cls, raw: str, *, id: str, label: str, origin: Location | None = None
    ) -> PromptTemplate:
        """A chat prompt whose whole text is a template that renders to a JSON list of
        {role, content} messages (a variable's value may add messages, as in promptfoo)."""
        part = _part(None, raw, origin, label)
        return cls(id, label, raw, True, (part,), {}, {}, origin, json_template=True)

    def with_affixes(self, prefix: str, suffix: str) -> PromptTemplate:
        """The prompt with text (templates too) added before and after it: promptfoo's
        ``options.prefix`` and ``options.suffix``. In a chat they go at the start of its
        first user message and the end of its last one."""
        if not prefix and not suffix:
            return self
        if self.json_template:
            raise TemplateError(
                "a prefix or suffix cannot be added to a prompt written as a JSON template",
                self.origin,
            )
        users = [i for i, part in enumerate(self.parts) if part.role in (None, "user")]
        first, last = (users[0], users[-1]) if users else (0, len(self.parts) - 1)
        parts = list(self.parts)
        for position in {first, last}:
            part = parts[position]
            if part.content_parts is not None:  # text parts before and after the others
                before = ({"type": "text", "text": prefix},) if position == first and prefix else ()
                after = ({"type": "text", "text": suffix},) if position == last and suffix else ()
                content = [*before, *part.content_parts, *after]
                parts[position] = _parts_message(part.role or "user", content, None, self.label)
                continue
            source = part.source
            if position == first:
                source = prefix + source
            if position == last:
                source += suffix
            parts[position] = _part(part.role, source, None, self.label)
        return replace(self, parts=tuple(parts))

    def render(self, variables: Mapping[str, Any]) -> tuple[Message, ...]:
        """Render every part; raises jinja2.UndefinedError for an undefined variable."""
        scope = {**self.defaults, **variables} if self.defaults else variables
        if self.json_template:
            return _json_messages(self.parts[0].render(scope), self.label)
        return tuple(
            Message(part.role or "user", part.render_content(scope)) for part in self.parts
        )

    @property
    def has_content_parts(self) -> bool:
        """Whether some message's content is a list of parts (images, audio, files...)."""
        return any(part.content_parts is not None for part in self.parts)

    def render_text(self, variables: Mapping[str, Any]) -> str:
        return as_text(self.render(variables), chat=self.chat)


CHAT_ROLES = (*ROLES, "developer", "tool")


def _json_messages(text: str, label: str) -> tuple[Message, ...]:
    """The messages a JSON template rendered to; a ValueError says what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"the JSON template of prompt '{label}' renders to invalid JSON: {exc}"
        ) from None
    if not isinstance(data, list) or not data or not all(isinstance(m, dict) for m in data):
        raise ValueError(
            f"the JSON template of prompt '{label}' must render to a list of "
            "{role, content} messages"
        )
    messages = []
    for index, message in enumerate(data):
        problem = message_problem(message)
        if problem is not None:
            raise ValueError(f"message {index + 1} of prompt '{label}' {problem[1]}")
        content = message["content"]
        role = str(message["role"])
        messages.append(Message(role, content if isinstance(content, str) else tuple(content)))
    return tuple(messages)


def message_problem(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """What keeps a {role, content} mapping from being a chat message, as (the key at
    fault, the problem), or None."""
    role, content = message.get("role"), message.get("content")
    if role not in CHAT_ROLES:
        hint = did_you_mean(str(role), CHAT_ROLES) if isinstance(role, str) else ""
        shown = f", not {role!r}" if role is not None else ""
        return "role", f"needs a role of {', '.join(CHAT_ROLES)}{shown}{hint}"
    if isinstance(content, list):
        # a part of a shape no provider here reads ({modality, value}...) goes to the
        # provider as written, as promptfoo sends it; one that cannot read it says so
        for index, part in enumerate(content):
            if not isinstance(part, Mapping):
                return "content", f"has a content part ({index + 1}) that is not a mapping"
        return None
    if not isinstance(content, str):
        return "content", "needs a text 'content' or a list of content parts"
    return None


def as_text(messages: Sequence[Message], *, chat: bool) -> str:
    """The rendered prompt as one string: plain text, or role-marked lines for a chat."""
    if not chat and len(messages) == 1:
        return messages[0].text
    return "\n".join(f"{m.role}: {m.text}" for m in messages)


def _part(role: str | None, source: str, origin: Location | None, label: str) -> PromptPart:
    template = _compile(source, origin, label)
    static = source if "{" not in source else None
    pieces = _substitution_pieces(source) if static is None else None
    return PromptPart(role, source, template, static, pieces)


def _parts_message(
    role: str, content: list[Any], origin: Location | None, label: str
) -> PromptPart:
    """A message whose content is a list of parts; each text in them is compiled now, so
    a syntax error is found at planning."""
    source = json.dumps(content, ensure_ascii=False)
    _check_leaves(content, origin, label)
    parts = tuple(dict(part) for part in content)
    return PromptPart(role, source, _compile("", origin, label), None, None, parts)


def _check_leaves(value: Any, origin: Location | None, label: str) -> None:
    if isinstance(value, str) and "{" in value:
        _compile(value, origin, label)
    elif isinstance(value, Mapping):
        for item in value.values():
            _check_leaves(item, origin, label)
    elif isinstance(value, list):
        for item in value:
            _check_leaves(item, origin, label)
