"""CSV tests files, promptfoo's way: columns are vars, ``__expected`` columns hold
assertions in the compact form (``contains:foo``), ``__description`` and friends apply to
their row.

Nothing in a file is dropped silently: a quote left open, a column named twice, a control
column nobody knows, a row longer or shorter than the header are errors with their line.
Rows are read as they are consumed, so a large file is never held whole as parsed data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ..core._errors import Location, SuiteError, did_you_mean
from ._assertion_types import AssertionTypes
from ._csv_compact import parse_compact_assertion
from ._source import SourceFile

__all__ = ["csv_tests", "parse_compact_assertion"]


class Kind(StrEnum):
    """What a column does to its row's test case."""

    VAR = "var"
    EXPECTED = "expected"
    DESCRIPTION = "description"
    THRESHOLD = "threshold"
    METRIC = "metric"
    METADATA = "metadata"
    METADATA_LIST = "metadata[]"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    CONFIG = "config"
    NAMELESS = "nameless"


_SINGLE_COLUMNS = {
    "__description": Kind.DESCRIPTION,
    "__threshold": Kind.THRESHOLD,
    "__metric": Kind.METRIC,
    "__prefix": Kind.PREFIX,
    "__suffix": Kind.SUFFIX,
}
KNOWN_CONTROL_COLUMNS = (
    "__expected, __expected1 (and on), __description, __threshold, __metric, "
    "__metadata:KEY, __metadata:KEY[], __prefix, __suffix, __config:__expectedN:threshold"
)
_CONTROL_NAMES = [*_SINGLE_COLUMNS, "__expected", "__metadata", "__config"]
_EXPECTED_NAME = re.compile(r"^__expected\d*$")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


@dataclass(frozen=True, slots=True)
class Column:
    """One header field: its name, its kind, and for ``__metadata:KEY`` the key, for
    ``__config:__expectedN:threshold`` the assertion column it sets."""

    name: str
    kind: Kind
    number: int  # 1-based, as error locations count fields
    key: str = ""


def csv_tests(source: SourceFile, types: AssertionTypes) -> Iterator[dict[str, Any]]:
    """The test cases of a CSV file, one per row, as raw records for validation."""
    # strict: a field whose closing quote is followed by text, or a quote never closed, is
    # an error (a stray quote inside an unquoted field stays text, as in promptfoo)
    reader = csv.reader(io.StringIO(source.text, newline=""), strict=True)
    header = _next_row(reader, source, 1)
    if header is None:
        return
    columns = _columns([name.strip() for name in header], source)
    source.csv_columns = [column.name for column in columns]
    line = reader.line_num + 1
    while (row := _next_row(reader, source, line)) is not None:
        row_line, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        _check_width(row, columns, source, row_line)
        source.row_lines.append(row_line)
        test, assert_columns = _test_of_row(row, columns, source, row_line, types)
        source.csv_assert_columns.append(assert_columns)
        yield test


def _next_row(reader: Any, source: SourceFile, line: int) -> list[str] | None:
    try:
        row: list[str] = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise SuiteError(
                "a quoted field is never closed: its quote swallows the rest of the file "
                '(write "" for a quote inside a quoted field)',
                Location(source.name, line),
            ) from None
        if "expected after" in str(exc):
            raise SuiteError(
                'text after the closing quote of a quoted field (write "" for a quote '
                "inside a quoted field, or quote the whole field)",
                Location(source.name, reader.line_num),
            ) from None
        raise SuiteError(f"invalid CSV: {exc}", Location(source.name, reader.line_num)) from None
    return row


def _columns(names: Sequence[str], source: SourceFile) -> list[Column]:
    columns: list[Column] = []
    first_of: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        where = Location(source.name, 1, number)
        if name and name in first_of:
            hint = (
                "; name several assertion columns __expected1, __expected2…"
                if name.startswith("__expected")
                else ": a row would keep only its last value"
            )
            raise SuiteError(
                f"column '{name}' is named twice in the header (columns {first_of[name]} and "
                f"{number}){hint}",
                where,
            )
        first_of[name] = number
        columns.append(_column(name, number, where))
    expected = [n for n in first_of if n.startswith("__expected")]
    for position, column in enumerate(columns):
        if column.kind == Kind.CONFIG and column.key == "__expected" and expected:
            # promptfoo: __config:__expected:threshold sets the first assertion's
            column = columns[position] = replace(column, key=expected[0])
        if column.kind == Kind.CONFIG and column.key not in first_of:
            raise SuiteError(
                f"column '{column.name}' sets the threshold of '{column.key}', which is not a "
                "column of this file",
                Location(source.name, 1, column.number),
            )
    return columns


def _column(name: str, number: int, where: Location) -> Column:
    """What the header field ``name`` is; a name promptfoo would not understand either is
    an error, so that no assertion or setting is lost to a typo."""
    if not name:
        return Column(name, Kind.NAMELESS, number)
    if name.startswith("__expected"):
        return Column(name, Kind.EXPECTED, number)
    if name in _SINGLE_COLUMNS:
        return Column(name, _SINGLE_COLUMNS[name], number)
    if name.startswith("__metadata:") and len(name) > len("__metadata:"):
        key = name.removeprefix("__metadata:")
        if key.endswith("[]"):
            return Column(name, Kind.METADATA_LIST, number, key.removesuffix("[]"))
        return Column(name, Kind.METADATA, number, key)
    if name.startswith("__config:"):
        return _config_column(name, number, where)
    if name == "__metadata":
        raise SuiteError("the __metadata column needs a key: __metadata:KEY", where)
    if name == "__providerOutput":
        raise SuiteError(
            "the __providerOutput column (an output to grade instead of calling the provider) "
            "is not supported: prompteur grades what the provider answers",
            where,
        )
    if name.startswith("__"):
        raise SuiteError(
            f"unknown control column '{name}'{did_you_mean(name, _CONTROL_NAMES)}; known: "
            f"{KNOWN_CONTROL_COLUMNS} (a variable's name cannot start with '__')",
            where,
        )
    single = f"_{name}"
    if any(single.startswith(control) for control in _CONTROL_NAMES):
        raise SuiteError(
            f"column '{name}' looks like a control column written with one underscore "
            f"(did you mean '{single}'?)",
            where,
        )
    return Column(name, Kind.VAR, number)


def _config_column(name: str, number: int, where: Location) -> Column:
    """``__config:__expectedN:threshold``: the threshold of that column's assertion."""
    parts = name.removeprefix("__config:").split(":")
    if len(parts) != 2 or not _EXPECTED_NAME.match(parts[0]):
        raise SuiteError(
            f"column '{name}' should read __config:__expected:threshold or "
            "__config:__expectedN:threshold",
            where,
        )
    if parts[1] != "threshold":
        raise SuiteError(
            f"column '{name}' sets '{parts[1]}', but only 'threshold' can be set this way"
            f"{did_you_mean(parts[1], ['threshold'])}",
            where,
        )
    return Column(name, Kind.CONFIG, number, parts[0])


def _check_width(
    row: Sequence[str], columns: Sequence[Column], source: SourceFile, line: int
) -> None:
    if len(row) > len(columns):
        raise SuiteError(
            f"row has {len(row)} fields but the header has {len(columns)} (quote a field "
            'that holds a comma: "a, b")',
            Location(source.name, line, len(columns) + 1),
        )
    if len(row) < len(columns):
        missing = columns[len(row)].name or f"column {len(row) + 1}"
        raise SuiteError(
            f"row has {len(row)} field{'s' if len(row) != 1 else ''} but the header has "
            f"{len(columns)}: it has no value for '{missing}' (leave a field empty "
            "with nothing between commas: a,,b)",
            Location(source.name, line),
        )
    for column, cell in zip(columns, row, strict=True):
        if column.kind == Kind.NAMELESS and cell.strip():
            raise SuiteError(
                f"a value in column {column.number}, which has no name in the header",
                Location(source.name, line, column.number),
            )


def _number(text: str, column: Column, source: SourceFile, line: int) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise SuiteError(
            f"{column.name} must be a number, got {text!r}",
            Location(source.name, line, column.number),
        ) from None


def _test_of_row(
    row: Sequence[str],
    columns: Sequence[Column],
    source: SourceFile,
    line: int,
    types: AssertionTypes,
) -> tuple[dict[str, Any], list[str]]:
    test: dict[str, Any] = {"vars": {}}
    asserts: dict[str, dict[str, Any]] = {}  # by column name, in column order
    thresholds: dict[str, float] = {}
    options: dict[str, str] = {}
    metric = None
    for column, value in zip(columns, row, strict=True):
        kind = column.kind
        if kind == Kind.VAR:
            test["vars"][column.name] = value
        elif kind == Kind.EXPECTED:
            if value.strip():
                try:
                    asserts[column.name] = parse_compact_assertion(value, types)
                except SuiteError as exc:
                    where = Location(source.name, line, column.number)
                    raise SuiteError(exc.message, where) from None
        elif kind == Kind.DESCRIPTION:
            test["description"] = value
        elif kind == Kind.THRESHOLD:
            test["threshold"] = _number(value, column, source, line)
        elif kind == Kind.METRIC:
            metric = value or None
        elif kind == Kind.METADATA and value.strip():
            test.setdefault("metadata", {})[column.key] = value
        elif kind == Kind.METADATA_LIST and value.strip():
            items = [item.strip().replace("\\,", ",") for item in _UNESCAPED_COMMA.split(value)]
            test.setdefault("metadata", {})[column.key] = items
        elif kind in (Kind.PREFIX, Kind.SUFFIX) and value:
            options[kind.value] = value
        elif kind == Kind.CONFIG:
            threshold = _number(value, column, source, line)
            if threshold is not None:
                thresholds[column.key] = threshold
    for name, threshold in thresholds.items():
        if name in asserts:
            asserts[name]["threshold"] = threshold
    if metric:
        for item in asserts.values():
            item.setdefault("metric", metric)
    if asserts:
        test["assert"] = list(asserts.values())
    if options:
        test["options"] = options
    return test, list(asserts)
