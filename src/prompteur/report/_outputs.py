"""Output files (``-o``), written as results stream in: JSON, JSONL, CSV and JUnit XML.

Each writes to a temporary file beside its target and moves it into place when the run
finishes (interrupted runs included), so a target is never left half-written.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from .._json import dumps
from .._version import __version__
from ..errors import PrompteurError
from ..eval._results import CellResult
from ..eval._sinks import ResultSink, RunFinished, RunStarted
from ._files import check_writable, commit_file, open_beside
from ._html import HtmlOutput
from ._markdown import MarkdownOutput
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


class CsvOutput(OutputFile):
    def on_start(self, event: RunStarted) -> None:
        self._writer = csv.writer(self._open())
        self._writer.writerow(CSV_COLUMNS)

    def on_result(self, result: CellResult) -> None:
        failed = "; ".join(f"{a.type}: {a.reason}" for a in result.failed_assertions())
        self._writer.writerow(
            [
                result.key,
                result.prompt_id,
                result.provider_id,
                result.test_index,
                result.test_description or "",
                result.repeat,
                dumps(dict(result.vars)),
                result.output or "",
                result.status,
                result.status == "pass",
                f"{result.final_score:.4f}",
                result.error or "",
                failed,
                "" if result.latency_ms is None else f"{result.latency_ms:.1f}",
                "" if result.prompt_tokens is None else result.prompt_tokens,
                "" if result.completion_tokens is None else result.completion_tokens,
                "" if result.cost is None else f"{result.cost:.8f}",
                result.finish_reason or "",
                result.cached,
            ]
        )


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


class JunitOutput(OutputFile):
    """JUnit XML for CI dashboards: a testcase per cell, classname ``prompt × provider``;
    failed assertions are failures, provider errors are errors."""

    def on_start(self, event: RunStarted) -> None:
        self._open()
        # test cases wait in an anonymous file: the header, written last, needs the counts
        self._body = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in on_finish
        self._counts = {"tests": 0, "failures": 0, "errors": 0}
        self._time = 0.0

    def on_result(self, result: CellResult) -> None:
        self._counts["tests"] += 1
        seconds = (result.latency_ms or 0.0) / 1000
        self._time += seconds
        name = result.case_label
        if result.repeat:
            name += f" (repeat {result.repeat + 1})"
        classname = f"{result.prompt_id} × {result.provider_id}"
        lines = [
            f"    <testcase classname={quoteattr(_xml_text(classname))} "
            f'name={quoteattr(_xml_text(name))} time="{seconds:.3f}">'
        ]
        status = result.status
        if status == "error":
            self._counts["errors"] += 1
            lines.append(f"      <error message={quoteattr(_xml_text(result.error or ''))}/>")
        elif status == "fail":
            self._counts["failures"] += 1
            reasons = "; ".join(f"{a.type}: {a.reason}" for a in result.failed_assertions())
            detail = f"score {result.score:.3f}\noutput: {result.output or ''}"
            lines.append(
                f"      <failure message={quoteattr(_xml_text(reasons or 'below threshold'))}>"
                f"{escape(_xml_text(detail))}</failure>"
            )
        lines.append("    </testcase>\n")
        self._body.write("\n".join(lines))

    def on_finish(self, event: RunFinished) -> None:
        assert self._handle is not None
        c = self._counts
        name = quoteattr(_xml_text(event.summary.description or "prompteur"))
        attrs = (
            f'tests="{c["tests"]}" failures="{c["failures"]}" errors="{c["errors"]}" '
            f'time="{self._time:.3f}"'
        )
        self._handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self._handle.write(f"<testsuites name={name} {attrs}>\n  <testsuite name={name} {attrs}>\n")
        self._body.seek(0)
        shutil.copyfileobj(self._body, self._handle)
        self._body.close()
        self._handle.write("  </testsuite>\n</testsuites>\n")
        self._commit()


OUTPUT_FORMATS: dict[str, Callable[[Path], ResultSink]] = {
    ".json": JsonOutput,
    ".jsonl": JsonlOutput,
    ".csv": CsvOutput,
    ".xml": JunitOutput,
    ".html": HtmlOutput,
    ".htm": HtmlOutput,
    ".md": MarkdownOutput,
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
