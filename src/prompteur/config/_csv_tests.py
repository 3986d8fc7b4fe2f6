"""CSV tests files, promptfoo's way: columns are vars, ``__expected`` columns hold
assertions in the compact form (``contains:foo``), ``__description`` and friends apply to
their row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

from ..errors import Location, SuiteError, did_you_mean
from ._source import SourceFile

__all__ = ["csv_tests", "parse_compact_assertion"]


# --- promptfoo's compact assertion strings (CSV __expected columns) ---------------------------

_COMPACT = re.compile(
    r"^(?P<type>(?:not-)?[a-z][a-z0-9-]*)(?:\((?P<threshold>\d+(?:\.\d+)?)\))?(?::(?P<value>[\s\S]*))?$"
)
_CODE_PREFIXES = {
    "python:": "python",
    "fn:": "javascript",
    "eval:": "javascript",
    "javascript:": "javascript",
    "grade:": "llm-rubric",
    "llm-rubric:": "llm-rubric",
}
_LIST_TYPES = {"contains-any", "contains-all", "icontains-any", "icontains-all"}
_NO_VALUE_TYPES = {"is-json", "contains-json"}
# promptfoo's own assertion types: in promptfoo, `rouge-n:...` is that assertion, so here it
# is an unknown type rather than an equals check of the text
_PROMPTFOO_NAMES = (
    "bleu classifier contains-html contains-sql contains-xml context-faithfulness "
    "context-recall context-relevance conversation-relevance gleu guardrails is-html is-sql "
    "is-valid-function-call is-valid-openai-function-call is-valid-openai-tools-call is-xml "
    "meteor model-graded-factuality moderation perplexity perplexity-score rouge-n ruby "
    "trace-error-spans trace-span-count trace-span-duration webhook"
)
_PROMPTFOO_TYPES = frozenset(_PROMPTFOO_NAMES.split())


def parse_compact_assertion(text: str) -> dict[str, Any]:
    """``contains:foo``, ``not-icontains:bar``, ``similar(0.8):text``, ``python:len(output)>3``;
    text that names no known type is an ``equals`` check of the whole text. A prefix that
    is a near miss of a registered type (``contians:pear``) raises SuiteError (unlocated)."""
    from ..eval._registry import find_assertion, split_negation

    stripped = text.strip()
    for prefix, kind in _CODE_PREFIXES.items():
        if stripped.startswith(prefix):
            return {"type": kind, "value": stripped[len(prefix) :].strip()}
    match = _COMPACT.match(stripped)
    if match:
        kind = match["type"]
        base, _ = split_negation(kind)
        if find_assertion(base) is None and match["value"] is not None:
            _reject_unknown_prefix(kind, base, match["value"])
        if find_assertion(base) is not None and (
            match["value"] is not None or base in _NO_VALUE_TYPES
        ):
            item: dict[str, Any] = {"type": kind}
            value = match["value"]
            if value is not None and value != "":
                item["value"] = value.strip() if base not in _LIST_TYPES else value
            if match["threshold"] is not None:
                item["threshold"] = float(match["threshold"])
            return item
    return {"type": "equals", "value": text}


def _reject_unknown_prefix(kind: str, base: str, value: str) -> None:
    """Raise for ``type:value`` whose type is promptfoo's or a near miss of a registered
    one: a typo must not quietly become an equals check that fails for the wrong reason."""
    from ..eval._registry import assertion_types

    if value.startswith("//"):  # a URL (http://...), not an assertion
        return
    names = list(assertion_types())
    hint = did_you_mean(base, names)
    if not hint and base not in _PROMPTFOO_TYPES:
        return
    if hint and kind != base:
        hint = hint.replace("'", "'not-", 1)
    raise SuiteError(
        f"unknown assertion type '{kind}'{hint}; to expect this exact text, start it with 'equals:'"
    )


# --- reading test files --------------------------------------------------------------------------


def csv_tests(source: SourceFile) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(source.text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    source.csv_columns = header
    tests: list[dict[str, Any]] = []
    line = reader.line_num + 1
    for row in reader:
        row_line, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise SuiteError(
                f"row has {len(row)} fields but the header has {len(header)}",
                Location(source.name, row_line),
            )
        source.row_lines.append(row_line)
        test, assert_columns = _csv_row(dict(zip(header, row, strict=False)), source, row_line)
        source.csv_assert_columns.append(assert_columns)
        tests.append(test)
    return tests


def _csv_row(
    row: Mapping[str, str], source: SourceFile, line: int
) -> tuple[dict[str, Any], list[str]]:
    test: dict[str, Any] = {"vars": {}}
    asserts: list[dict[str, Any]] = []
    assert_columns: list[str] = []
    metric = None
    for column, value in row.items():
        if column.startswith("__expected"):
            if value.strip():
                try:
                    asserts.append(parse_compact_assertion(value))
                except SuiteError as exc:
                    column_no = source.csv_columns.index(column) + 1
                    raise SuiteError(exc.message, Location(source.name, line, column_no)) from None
                assert_columns.append(column)
        elif column == "__description":
            test["description"] = value
        elif column == "__threshold":
            try:
                test["threshold"] = float(value) if value.strip() else None
            except ValueError:
                column_no = source.csv_columns.index(column) + 1
                raise SuiteError(
                    f"__threshold must be a number, got {value!r}",
                    Location(source.name, line, column_no),
                ) from None
        elif column == "__metric":
            metric = value or None
        elif column.startswith("__metadata:"):
            test.setdefault("metadata", {})[column.removeprefix("__metadata:")] = value
        elif column.startswith("__"):
            continue  # other promptfoo control columns (__prefix, __suffix...) do not apply
        else:
            test["vars"][column] = value
    if metric:
        for item in asserts:
            item.setdefault("metric", metric)
    if asserts:
        test["assert"] = asserts
    return test, assert_columns
