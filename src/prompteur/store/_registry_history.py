"""Reading a prompt history file (what `prompts export NAME --all` writes), checked
whole before anything is written: numbering, lineage, labels, content hashes, templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config._reading import read_text
from ..config._source import SourceFile
from ..core._errors import SuiteError
from ._registry_records import ORIGINS, check_label
from ._registry_source import FORMATS, Place, PromptSource, check_source

__all__ = ["HISTORY_FORMAT", "HISTORY_KIND", "HistoryFile", "read_history", "record_source"]

HISTORY_KIND = "prompteur/prompt-history"
HISTORY_FORMAT = 1


@dataclass(frozen=True)
class HistoryFile:
    name: str
    versions: list[dict[str, Any]]
    labels: dict[str, int]
    moves: list[dict[str, Any]]


def read_history(path: Path) -> HistoryFile | None:
    """The history in ``path``, or None when it is not a history file (a prompt file)."""
    if path.suffix.lower() != ".json":
        return None
    text = read_text(path, None)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None  # the prompt file reader says where
    if not isinstance(data, dict) or data.get("kind") != HISTORY_KIND:
        return None
    return _validate(data, SourceFile(path, text, "json"))


def _validate(data: Mapping[str, Any], file: SourceFile) -> HistoryFile:
    def fail(message: str, *keypath: str | int) -> SuiteError:
        return SuiteError(message, file.location(keypath))

    if data.get("format") != HISTORY_FORMAT:
        raise fail(
            f"a prompt history of format {data.get('format')!r}: upgrade prompteur", "format"
        )
    name = data.get("name")
    if not isinstance(name, str):
        raise fail("the history names no prompt ('name')")
    versions = data.get("versions")
    if not isinstance(versions, list) or not versions:
        raise fail("the history holds no versions", "versions")
    types: dict[str, tuple[type, ...]] = {
        "format": (str,),
        "template": (str,),
        "params": (dict,),
        "defaults": (dict,),
        "description": (str, type(None)),
        "author": (str, type(None)),
        "message": (str, type(None)),
        "parent": (int, type(None)),
        "origin": (str,),
        "created_at": (int, float),
    }
    for index, record in enumerate(versions):
        if not isinstance(record, dict) or record.get("version") != index + 1:
            raise fail(
                f"versions must be numbered 1, 2, 3...: expected v{index + 1}", "versions", index
            )
        for key, allowed in types.items():
            value = record.get(key)
            if key not in record or not isinstance(value, allowed) or isinstance(value, bool):
                raise fail(f"v{index + 1} needs '{key}'", "versions", index)
        if record["format"] not in FORMATS or record["origin"] not in ORIGINS:
            raise fail(f"v{index + 1} has an unknown format or origin", "versions", index)
        if record["parent"] is not None and not 1 <= record["parent"] <= index:
            raise fail(
                f"v{index + 1}'s parent is not an earlier version", "versions", index, "parent"
            )
        source = record_source(record)
        if record.get("content_hash", source.content_hash) != source.content_hash:
            raise fail(
                f"v{index + 1}'s content does not match its content_hash (was it edited?)",
                "versions",
                index,
            )
        check_source(source, Place(f"{file.name} (v{index + 1})"))
    count = len(versions)
    labels = data.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(v, int) and 1 <= v <= count for v in labels.values()
    ):
        raise fail("labels must map label names to versions of the history", "labels")
    moves = data.get("label_moves", [])
    if not isinstance(moves, list):
        raise fail("label_moves must be a list", "label_moves")
    for index, move in enumerate(moves):
        if not (
            isinstance(move, dict)
            and isinstance(move.get("label"), str)
            and all(
                move.get(key) is None or (isinstance(move[key], int) and 1 <= move[key] <= count)
                for key in ("version", "previous")
            )
            and isinstance(move.get("moved_at"), int | float)
            and isinstance(move.get("author"), str | None)
        ):
            raise fail(
                "a label move needs a label, versions of the history and a time",
                "label_moves",
                index,
            )
    for label in {*labels, *(move["label"] for move in moves)}:
        check_label(label)
    return HistoryFile(name, versions, dict(labels), moves)


def record_source(record: Mapping[str, Any]) -> PromptSource:
    return PromptSource(
        record["template"],
        record["format"],
        record["params"],
        record["defaults"],
        record["description"],
    )
