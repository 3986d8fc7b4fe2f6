"""JUnit XML output for CI dashboards."""

from __future__ import annotations

import re
import shutil
import tempfile
from xml.sax.saxutils import escape, quoteattr

from ..core._results import CellResult
from ..core._sinks import RunFinished, RunStarted
from ._outputs import OutputFile

__all__ = ["JunitOutput"]


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
            if result.cut_short:
                detail += "\nthe answer was cut off by max_tokens"
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
