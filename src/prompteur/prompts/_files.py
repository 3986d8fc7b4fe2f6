"""Reading prompts from a suite: inline text, .txt/.md files (several prompts split by
``---`` lines), JSON or YAML chat-message lists, and .prompty files."""

from __future__ import annotations

import glob
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config._reading import display_path, read_text
from ..config._source import SourceFile, parse_yaml
from ..core._errors import Location, SuiteError
from ._prompty import parse_prompty
from ._template import PromptTemplate, message_problem

__all__ = ["load_prompt"]

_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def short_label(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def content_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_prompt(
    *,
    file_ref: str | None,
    raw: str | None,
    label: str | None,
    base_dir: Path,
    origin: Location | None,
) -> Iterator[PromptTemplate]:
    """Yield the prompts one suite entry stands for (a file may hold several)."""
    if raw is not None:
        yield PromptTemplate.from_text(
            raw, id=label or raw, label=label or short_label(raw), origin=origin
        )
        return
    assert file_ref is not None
    pattern = file_ref.removeprefix("file://")
    if glob.has_magic(pattern):
        paths = sorted(Path(p) for p in glob.glob(str(base_dir / pattern), recursive=True))
        if not paths:
            raise SuiteError(f"no prompt file matches {pattern}", origin)
        for path in paths:
            yield from _from_file(path, None, origin)
        return
    yield from _from_file(base_dir / pattern, label, origin)


def _from_file(path: Path, label: str | None, origin: Location | None) -> Iterator[PromptTemplate]:
    text = read_text(path, origin)
    name = display_path(path)
    file_origin = Location(name, 1, 1)
    suffix = path.suffix.lower()
    if suffix == ".prompty":
        prompty = parse_prompty(text, file_origin)
        if not prompty.template.strip():
            raise SuiteError(f"prompt file {name} has no prompt after its frontmatter", origin)
        yield PromptTemplate.from_text(
            prompty.template,
            id=label or name,
            label=label or prompty.name or name,
            origin=Location(name, prompty.body_line, 1),
            defaults=prompty.defaults,
            params=prompty.parameters,
        )
        return
    if suffix == ".json" and _is_json_template(text):
        yield PromptTemplate.from_json_template(
            text, id=label or name, label=label or name, origin=file_origin
        )
        return
    if suffix in {".json", ".yaml", ".yml"}:
        messages = _structured_messages(path, text)
        yield PromptTemplate.from_messages(
            messages, id=label or name, label=label or name, origin=file_origin
        )
        return
    pieces = _split_prompts(text)
    if not pieces:
        raise SuiteError(f"prompt file {name} is empty", origin)
    for number, (line, piece) in enumerate(pieces, start=1):
        ident = name if len(pieces) == 1 else f"{name}:{number}"
        piece_label = (
            label if label and len(pieces) == 1 else (f"{label}:{number}" if label else ident)
        )
        yield PromptTemplate.from_text(
            piece, id=piece_label, label=piece_label, origin=Location(name, line, 1)
        )


def _is_json_template(text: str) -> bool:
    """Whether a .json prompt file is a template of JSON rather than JSON: it has template
    tags, or template expressions where JSON allows none (``"content": {{ x | dump }}``)."""
    if "{%" in text:
        return True
    if "{{" not in text:
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return True
    return False


def _split_prompts(text: str) -> list[tuple[int, str]]:
    """Split a text file on lines made of ``---``; returns (first line, text) pairs."""
    pieces: list[tuple[int, str]] = []
    start = 0
    line = 1
    for match in _SEPARATOR.finditer(text):
        pieces.append((line, text[start : match.start()]))
        line += text.count("\n", start, match.end()) + 1
        start = match.end() + 1
    pieces.append((line, text[start:]))
    return [(ln, piece.strip("\n")) for ln, piece in pieces if piece.strip()]


def _structured_messages(path: Path, text: str) -> list[dict[str, Any]]:
    source = SourceFile.structured(path, text)
    data = parse_yaml(text, source)
    first_line = Location(source.name, 1, 1)
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise SuiteError(
            "a chat prompt file must hold a list of {role, content} messages", first_line
        )
    if not data:
        raise SuiteError(f"prompt file {source.name} holds no messages", first_line)
    for index, message in enumerate(data):
        problem = message_problem(message)
        if problem is not None:
            key, text = problem
            where = source.location((index, key) if key in message else (index,))
            raise SuiteError(f"message {index + 1} of prompt '{source.name}' {text}", where)
    return data
