"""Source files and positions inside them.

Files are parsed with the fast C loader; positions are only computed, by composing the YAML
node tree, when an error has to name a line and a column. A keypath such as
``("tests", 3, "assert", 0, "type")`` is the path pydantic reports for an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..core._errors import Location, SuiteError
from ._limits import MAX_DEPTH, check_storable
from ._reading import display_path, read_text

if TYPE_CHECKING:
    import yaml


def _pyyaml() -> tuple[ModuleType, Any]:
    """PyYAML and its fastest safe loader. Imported only to locate errors (or where yaml-rs
    is missing): a run that goes well never needs it."""
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


KeyPath = tuple[str | int, ...]


# test keys that come from promptfoo's CSV control columns (``__description``...)
_CSV_CONTROL_COLUMNS = {"description", "threshold"}


@dataclass(eq=False)
class SourceFile:
    """One file of a suite. ``line_offsets`` maps a record index to its line for row files."""

    path: Path
    text: str
    kind: str  # "yaml", "json", "jsonl", "csv" or "text"
    row_lines: list[int] = field(default_factory=list)
    csv_columns: list[str] = field(default_factory=list)
    # for each CSV row, the columns its assertions came from, in order
    csv_assert_columns: list[list[str]] = field(default_factory=list)
    _root: yaml.Node | None = field(default=None, repr=False)
    _composed: bool = field(default=False, repr=False)

    @classmethod
    def structured(cls, path: Path, text: str) -> SourceFile:
        """A file of data: a .json file's text read as JSON, any other's as YAML."""
        return cls(path, text, "json" if path.suffix.lower() == ".json" else "yaml")

    @cached_property
    def name(self) -> str:
        return display_path(self.path)

    def location(self, keypath: KeyPath = (), *, at_key: bool = False) -> Location:
        """The best-known position of ``keypath``; the file alone when it cannot be found."""
        try:
            if self.kind == "csv":
                return self._csv_location(keypath)
            if self.kind == "jsonl":
                return self._jsonl_location(keypath, at_key)
            return _node_location(self.name, self._root_node(), keypath, at_key, 0)
        except Exception:  # a position is a courtesy; never let it hide the real error
            return Location(self.name)

    def _root_node(self) -> yaml.Node | None:
        if not self._composed:
            self._composed = True
            pyyaml, loader = _pyyaml()
            try:
                self._root = pyyaml.compose(self.text, Loader=loader)
            except pyyaml.YAMLError:
                self._root = None
        return self._root

    def _csv_location(self, keypath: KeyPath) -> Location:
        """A row's line and, as the column, the number of the field the keypath came from
        (the row's first field for the row as a whole)."""
        if not keypath or not isinstance(keypath[0], int):
            return Location(self.name, 1, 1)
        row = keypath[0]
        name: str | int | None = keypath[1] if len(keypath) > 1 else None
        if name == "vars" and len(keypath) > 2:
            name = keypath[2]
        elif name == "assert" and len(keypath) > 2 and isinstance(keypath[2], int):
            name = self.csv_assert_columns[row][keypath[2]]
        elif name == "metadata" and len(keypath) > 2:
            name = f"__metadata:{keypath[2]}"
        elif name in _CSV_CONTROL_COLUMNS:
            name = f"__{name}"
        column = self.csv_columns.index(name) + 1 if name in self.csv_columns else 1
        return Location(self.name, self.row_lines[row], column)

    def _jsonl_location(self, keypath: KeyPath, at_key: bool) -> Location:
        if not keypath or not isinstance(keypath[0], int):
            return Location(self.name, 1)
        line = self.row_lines[keypath[0]]
        text = self.text.splitlines()[line - 1]
        pyyaml, loader = _pyyaml()
        root = pyyaml.compose(text, Loader=loader)
        inner = _node_location(self.name, root, keypath[1:], at_key, line - 1)
        return inner if inner.line else Location(self.name, line)


def _node_location(
    name: str, node: yaml.Node | None, keypath: KeyPath, at_key: bool, line_offset: int
) -> Location:
    if node is None:
        return Location(name)
    mark_node: yaml.Node = node
    for depth, key in enumerate(keypath):
        last = depth == len(keypath) - 1
        child = _child(mark_node, key, want_key=last and at_key)
        if child is None:
            break
        mark_node = child
    mark = mark_node.start_mark
    return Location(name, mark.line + 1 + line_offset, mark.column + 1)


def _child(node: yaml.Node, key: str | int, *, want_key: bool) -> yaml.Node | None:
    pyyaml, _ = _pyyaml()
    if isinstance(node, pyyaml.MappingNode):
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if str(key_node.value) == str(key):
                child: yaml.Node = key_node if want_key else value_node
                return child
            if _is_merge_key(key_node):
                merged.extend(value_node.value if _is_sequence(value_node) else [value_node])
        # a key merged in with `<<: *anchor` is written where the anchor is
        for source in merged:
            found = _child(source, key, want_key=want_key)
            if found is not None:
                return found
        return None
    if isinstance(node, pyyaml.SequenceNode) and isinstance(key, int):
        item: yaml.Node | None = node.value[key] if 0 <= key < len(node.value) else None
        return item
    return None


def _is_merge_key(node: yaml.Node) -> bool:
    return node.tag == "tag:yaml.org,2002:merge" or (
        node.value == MERGE_KEY and getattr(node, "style", None) is None
    )


def _is_sequence(node: yaml.Node) -> bool:
    pyyaml, _ = _pyyaml()
    return isinstance(node, pyyaml.SequenceNode)


MERGE_KEY = "<<"


class MergeKeyError(ValueError):
    """A ``<<`` merge key whose value is not a mapping or a list of mappings."""

    def __init__(self, message: str, keypath: KeyPath) -> None:
        super().__init__(message)
        self.keypath = keypath


def resolve_merge_keys(data: Any, keypath: KeyPath = ()) -> Any:
    """Apply YAML merge keys (``<<: *anchor`` or ``<<: [*a, *b]``), as js-yaml does for
    promptfoo: the mapping's own keys win, then the merged mappings in their order; nested
    merges are resolved first. Mappings without merge keys are kept (and updated) in place."""
    if isinstance(data, list):
        for index, item in enumerate(data):
            data[index] = resolve_merge_keys(item, (*keypath, index))
        return data
    if not isinstance(data, dict):
        return data
    for key, value in data.items():
        if key != MERGE_KEY:
            data[key] = resolve_merge_keys(value, (*keypath, key))
    if MERGE_KEY not in data:
        return data
    given = data[MERGE_KEY]
    here = (*keypath, MERGE_KEY)
    sources = given if isinstance(given, list) else [given]
    for index, source in enumerate(sources):
        if not isinstance(source, dict):
            where = (*here, index) if isinstance(given, list) else here
            raise MergeKeyError(
                "a merge key '<<' takes a mapping (<<: *anchor) or a list of mappings", where
            )
        sources[index] = resolve_merge_keys(source, here)
    # js-yaml's order: keys before '<<', then merged keys, then the rest (a local key that
    # overrides a merged one keeps the merged key's place)
    merged: dict[str, Any] = {}
    for key, value in data.items():
        if key != MERGE_KEY:
            merged[key] = value
            continue
        for source in sources:
            for merged_key, merged_value in source.items():
                merged.setdefault(merged_key, merged_value)
    return merged


def loads_yaml(text: str) -> Any:
    """Parse YAML 1.2 (what promptfoo's js-yaml reads: ``yes`` stays a string) with yaml-rs,
    a Rust parser about 25 times faster than PyYAML's C loader on large test files; PyYAML
    (YAML 1.1) stands in where yaml-rs is not installed. Raises ValueError."""
    try:
        import yaml_rs
    except ImportError:  # pragma: no cover - yaml-rs is a dependency; this keeps us running
        pyyaml, loader = _pyyaml()
        try:
            return pyyaml.load(text, Loader=loader)
        except pyyaml.YAMLError as exc:
            raise ValueError(str(exc)) from None
    try:
        data = yaml_rs.loads(text)
    except Exception as exc:  # yaml_rs.YAMLDecodeError
        raise ValueError(str(exc)) from None
    # yaml-rs leaves merge keys as plain '<<' keys; a file without one is not walked
    return resolve_merge_keys(data) if MERGE_KEY in text else data


def parse_yaml(text: str, source: SourceFile) -> Any:
    """Parse a suite or tests file; syntax errors name the line and column, and so do
    values prompteur cannot keep (see ``check_storable``)."""
    data = _parsed(text, source)
    check_storable(data, source)
    return data


def _parsed(text: str, source: SourceFile) -> Any:
    if source.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = Location(source.name, exc.lineno, exc.colno)
            raise SuiteError(f"invalid JSON: {exc.msg}", where) from None
        except RecursionError:
            raise SuiteError(
                f"invalid JSON: data nested more than {MAX_DEPTH} levels deep",
                Location(source.name),
            ) from None
    try:
        return loads_yaml(text)
    except MergeKeyError as exc:
        raise SuiteError(str(exc), source.location(exc.keypath, at_key=True)) from None
    except ValueError as exc:
        message = str(exc).strip().splitlines()
        problem = message[-1] if message else "invalid YAML"
    # PyYAML knows where the problem is
    pyyaml, loader = _pyyaml()
    try:
        root = pyyaml.compose(text, Loader=loader)
    except pyyaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        located = Location(source.name, mark.line + 1, mark.column + 1) if mark else None
        raise SuiteError(f"invalid YAML: {exc.problem or problem}", located) from None
    except pyyaml.YAMLError:
        root = None
    # ...except of a key written twice, which PyYAML lets through (the last one winning)
    duplicate = _duplicate_key(root) if root is not None else None
    if duplicate is not None:
        first, second = duplicate
        mark = first.start_mark
        raise SuiteError(
            f"invalid YAML: the key '{second.value}' is written twice (first at "
            f"{mark.line + 1}:{mark.column + 1}); a mapping holds each key once",
            Location(source.name, second.start_mark.line + 1, second.start_mark.column + 1),
        ) from None
    raise SuiteError(f"invalid YAML: {problem}", Location(source.name))


def _duplicate_key(root: yaml.Node) -> tuple[yaml.Node, yaml.Node] | None:
    """The scalar key written twice in one mapping that comes first in the file, as its
    two key nodes."""
    pyyaml, _ = _pyyaml()
    pending = [root]
    visited: set[int] = set()
    found: list[tuple[yaml.Node, yaml.Node]] = []
    while pending:
        node = pending.pop()
        if id(node) in visited:  # an alias makes the tree a graph
            continue
        visited.add(id(node))
        if isinstance(node, pyyaml.MappingNode):
            keys: dict[str, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, pyyaml.ScalarNode) and not _is_merge_key(key):
                    if key.value in keys:
                        found.append((keys[key.value], key))
                    keys[key.value] = key
                pending.append(value)
        elif isinstance(node, pyyaml.SequenceNode):
            pending.extend(node.value)
    if not found:
        return None
    return min(found, key=lambda pair: (pair[1].start_mark.line, pair[1].start_mark.column))


def read_structured(path: Path, referrer: Location | None) -> Any:
    """A .json, .yaml or .yml file's data, with located errors."""
    source = SourceFile.structured(path, read_text(path, referrer))
    return parse_yaml(source.text, source)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a suite element came from: a source file and its keypath there."""

    source: SourceFile
    keypath: KeyPath

    def location(self, *more: str | int, at_key: bool = False) -> Location:
        return self.source.location(self.keypath + more, at_key=at_key)

    def child(self, *more: str | int) -> Origin:
        return Origin(self.source, self.keypath + more)


def join_keypath(prefix: Sequence[str | int], rest: Sequence[str | int]) -> KeyPath:
    return tuple(prefix) + tuple(rest)
