"""Output files (``-o``), written as results stream in: JSON, JSONL, CSV here; JUnit XML,
HTML and Markdown in their own modules.

Each writes to a temporary file beside its target and moves it into place when the run
finishes (interrupted runs included), so a target is never left half-written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .._version import __version__
from ..core._errors import PrompteurError
from ..core._json import dumps
from ..core._results import CellResult
from ..core._sinks import ResultSink, RunFinished, RunStarted
from ._files import check_writable, commit_file, open_beside
from ._summary import summary_dict

__all__ = ["OUTPUT_FORMATS", "OutputFile", "output_sink"]


class OutputFile:
    """Base of the file outputs: a temporary file, moved into place at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._tmp: str | None = None

    def _open(self) -> IO[str]:
        self._handle, self._tmp = open_beside(self.path)
        return self._handle

    def _commit(self) -> None:
        if self._handle is not None and self._tmp is not None:
            handle, self._handle = self._handle, None
            commit_file(handle, self._tmp, self.path)

    def on_start(self, event: RunStarted) -> None:
        self._open()

    def on_result(self, result: CellResult) -> None:
        raise NotImplementedError

    def on_finish(self, event: RunFinished) -> None:
        self._commit()


def _header(event: RunStarted) -> dict[str, Any]:
    return {
        "tool": f"prompteur {__version__}",
        "run_id": event.run_id,
        "description": event.description,
        "started_at": event.started_at,
        "prompts": [{"id": pid, "label": label} for pid, label in event.prompts],
        "providers": [{"id": pid, "label": label} for pid, label in event.providers],
        "total_cells": event.total_cells,
    }


class JsonOutput(OutputFile):
    """One JSON document: the run, ``results`` (streamed), then ``summary``."""

    def on_start(self, event: RunStarted) -> None:
        handle = self._open()
        head = dumps(_header(event))
        handle.write(head[:-1] + ', "results": [')
        self._first = True

    def on_result(self, result: CellResult) -> None:
        assert self._handle is not None
        self._handle.write(("\n" if self._first else ",\n") + dumps(result.to_dict()))
        self._first = False

    def on_finish(self, event: RunFinished) -> None:
        assert self._handle is not None
        tail = {"summary": summary_dict(event.summary), "finished_at": event.finished_at}
        self._handle.write("\n], " + dumps(tail)[1:] + "\n")
        self._commit()


class JsonlOutput(OutputFile):
    """One JSON object per line: a ``run`` line, a ``result`` line per cell, a ``summary``."""

    def on_start(self, event: RunStarted) -> None:
        self._open().write(dumps({"type": "run", **_header(event)}) + "\n")

    def on_result(self, result: CellResult) -> None:
        assert self._handle is not None
        self._handle.write(dumps({"type": "result", **result.to_dict()}) + "\n")

    def on_finish(self, event: RunFinished) -> None:
        assert self._handle is not None
        self._handle.write(dumps({"type": "summary", **summary_dict(event.summary)}) + "\n")
        self._commit()


CSV_COLUMNS = [
    "key",
    "prompt",
    "provider",
    "test",
    "description",
    "repeat",
    "vars",
    "output",
    "status",
    "pass",
    "score",
    "error",
    "failed_assertions",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "finish_reason",
    "cached",
]


# A cell a spreadsheet would read as a formula (OWASP's list of first characters) is
# prefixed with an apostrophe, which spreadsheets take as "text" and do not show; a number
# such as -1.5 is left as it is, since it evaluates to itself.
_FORMULA_START = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _text(value: str) -> str:
    if value and value[0] in _FORMULA_START and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvOutput(OutputFile):
    def on_start(self, event: RunStarted) -> None:
        self._writer = csv.writer(self._open())
        self._writer.writerow(CSV_COLUMNS)

    def on_result(self, result: CellResult) -> None:
        failed = "; ".join(f"{a.type}: {a.reason}" for a in result.failed_assertions())
        self._writer.writerow(
            [
                _text(result.key),
                _text(result.prompt_id),
                _text(result.provider_id),
                result.test_index,
                _text(result.test_description or ""),
                result.repeat,
                dumps(dict(result.vars)),
                _text(result.output or ""),
                result.status,
                result.status == "pass",
                f"{result.final_score:.4f}",
                _text(result.error or ""),
                _text(failed),
                "" if result.latency_ms is None else f"{result.latency_ms:.1f}",
                "" if result.prompt_tokens is None else result.prompt_tokens,
                "" if result.completion_tokens is None else result.completion_tokens,
                "" if result.cost is None else f"{result.cost:.8f}",
                _text(result.finish_reason or ""),
                result.cached,
            ]
        )


def _junit_output(path: Path) -> ResultSink:
    from ._junit import JunitOutput

    return JunitOutput(path)


def _html_output(path: Path) -> ResultSink:
    from ._html import HtmlOutput

    return HtmlOutput(path)


def _markdown_output(path: Path) -> ResultSink:
    from ._markdown import MarkdownOutput

    return MarkdownOutput(path)


# The JUnit, HTML and Markdown writers are imported when a file of theirs is asked for:
# they bring XML escaping (urllib, http), templates and comparisons along, 20 ms that a
# run writing none of them would pay.
OUTPUT_FORMATS: dict[str, Callable[[Path], ResultSink]] = {
    ".json": JsonOutput,
    ".jsonl": JsonlOutput,
    ".csv": CsvOutput,
    ".xml": _junit_output,
    ".html": _html_output,
    ".htm": _html_output,
    ".md": _markdown_output,
}


def output_sink(path: str | Path) -> ResultSink:
    """The output writer for a file name, chosen by its extension."""
    target = Path(path)
    writer = OUTPUT_FORMATS.get(target.suffix.lower())
    if writer is None:
        raise PrompteurError(
            f"unsupported output {target.name}: use one of "
            f"{', '.join(OUTPUT_FORMATS)} (JUnit XML is .xml)"
        )
    check_writable(target)
    return writer(target)
