"""The self-contained HTML report: one file, no external assets, works offline.

It holds the summary table, pass rates with their 95% intervals drawn as bars, a latency
histogram, and a results grid (prompts × providers side by side for each case) with a
failures-only filter and a text search; a comparison section when the report is of
``prompteur compare``. Charts are inline SVG; the filter and search are a few lines of
plain JavaScript.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from .._version import __version__
from ..analysis._compare import Comparison
from ..core._results import CellResult
from ..core._sinks import RunFinished, RunStarted
from ..core._summary import GroupSummary, RunSummary
from ._files import write_atomically
from ._summary import format_cost, format_ms

__all__ = ["HtmlOutput", "RunSection", "render_html", "write_atomically"]

EXCERPT = 600
PROMPT_EXCERPT = 2000  # a prompt carrying whole documents would make the page heavy


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class RunSection:
    """One run's part of a report: its summary and its grid, filled as results arrive."""

    run_id: str
    title: str
    summary: RunSummary | None = None
    columns: list[str] = field(default_factory=list)  # "prompt × provider"
    rows: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    column_index: dict[tuple[int, int], int] = field(default_factory=dict)

    def add(self, result: CellResult) -> None:
        column_key = (result.prompt_index, result.provider_index)
        if column_key not in self.column_index:
            self.column_index[column_key] = len(self.columns)
            self.columns.append(f"{result.prompt_id} × {result.provider_id}")
        row = self.rows.setdefault(
            (result.test_index, result.repeat),
            {"case": _case(result), "repeat": result.repeat, "cells": {}, "failed": False},
        )
        reasons = [f"{a.type}: {a.reason}" for a in result.failed_assertions()]
        if result.error:
            reasons = [f"error: {result.error}"]
        if result.human is not None:
            verdict = "pass" if result.human.passed else "fail"
            note = f": {result.human.comment}" if result.human.comment else ""
            reasons = [f"human verdict ({result.human.author}): {verdict}{note}", *reasons]
        output = result.output or ""
        row["cells"][self.column_index[column_key]] = {
            "status": result.status,
            "output": _excerpt(output, EXCERPT),
            "reasons": reasons,
            "score": result.final_score,
            "latency": format_ms(result.latency_ms),
            "key": result.key,
            "prompt": _excerpt(result.prompt, PROMPT_EXCERPT),
            "cut_short": result.cut_short,
        }
        row["failed"] = row["failed"] or result.status != "pass"

    def grid(self) -> list[dict[str, Any]]:
        return [self.rows[key] for key in sorted(self.rows)]


def _case(result: CellResult) -> str:
    if result.test_description:
        return result.test_description
    return ", ".join(f"{k}={v}" for k, v in result.vars.items()) or f"test {result.test_index + 1}"


def _interval_bars(groups: Sequence[GroupSummary]) -> list[dict[str, Any]]:
    bars = []
    for group in groups:
        rate = group.pass_rate
        low, high = group.interval()
        bars.append(
            {
                "label": f"{group.prompt_label} × {group.provider_id}",
                "rate": rate,
                "low": low,
                "high": high,
                "done": group.done,
            }
        )
    return bars


def _histogram(groups: Sequence[GroupSummary], bins: int = 24) -> dict[str, Any]:
    values = [v for g in groups for v in g.latencies]
    if not values:
        return {"bins": [], "max": 0}
    low, high = min(values), max(values)
    if math.isclose(low, high):
        high = low + 1.0
    width = (high - low) / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    edges = [low + i * width for i in range(bins + 1)]
    return {
        "bins": [
            {"count": c, "from": format_ms(edges[i]), "to": format_ms(edges[i + 1])}
            for i, c in enumerate(counts)
        ],
        "max": max(counts),
        "low": format_ms(low),
        "high": format_ms(high),
    }


def _environment() -> Environment:
    # Outputs and variables are untrusted text: everything is escaped.
    env = Environment(
        loader=PackageLoader("prompteur.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = format_ms
    env.filters["cost"] = format_cost
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.0%}"
    return env


# Only the report's own script and style may run: a hash of each, taken from the template
# (never from the rendered page, where an escaping bug would let a planted one be hashed
# too), and nothing may be fetched, framed or submitted.
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


@functools.cache
def content_security_policy() -> str:
    env = _environment()
    assert env.loader is not None
    source = env.loader.get_source(env, "report.html.j2")[0]
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, body in _INLINE.findall(source):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[tag].append(f"'sha256-{digest}'")
    return (
        f"default-src 'none'; script-src {' '.join(hashes['script'])}; "
        f"style-src {' '.join(hashes['style'])}; img-src data:; base-uri 'none'; "
        "form-action 'none'"
    )


def render_html(
    sections: Sequence[RunSection], *, title: str, comparison: Comparison | None = None
) -> str:
    """The whole report as one HTML document."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title,
        version=__version__,
        content_security_policy=content_security_policy(),
        sections=[
            {
                "run_id": s.run_id,
                "title": s.title,
                "summary": s.summary,
                "bars": _interval_bars(s.summary.groups) if s.summary else [],
                "histogram": _histogram(s.summary.groups) if s.summary else {"bins": []},
                "columns": s.columns,
                "grid": s.grid(),
            }
            for s in sections
        ],
        comparison=comparison,
    )


class HtmlOutput:
    """``-o report.html``: keeps what the grid needs while the run goes, writes at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.section: RunSection | None = None

    def on_start(self, event: RunStarted) -> None:
        self.section = RunSection(event.run_id, event.description or "evaluation")

    def on_result(self, result: CellResult) -> None:
        assert self.section is not None
        self.section.add(result)

    def on_finish(self, event: RunFinished) -> None:
        assert self.section is not None
        self.section.summary = event.summary
        write_atomically(self.path, render_html([self.section], title=self.section.title))


def sections_from(
    results: Iterable[CellResult], run_id: str, title: str, summary: RunSummary
) -> RunSection:
    section = RunSection(run_id, title, summary)
    for result in results:
        section.add(result)
    return section
