"""The reports of ``redteam``, ``bias`` and ``robustness``, made from one SafetyResult: a
table in the terminal, and ``-o`` files (``.json``, ``.md``, ``.html``, self-contained and
escaped) with the rate per category, its interval and attempts, the worst examples, and the
change against the previous run of the same command, suite and prompt found in the store."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..core._errors import PrompteurError
from ..core._results import CellResult
from ..report._files import check_writable, write_atomically
from ..report._markdown import _cell as md_cell
from ..report._summary import excerpt
from ._outcomes import CategoryOutcome, SafetyResult, gate_failures

if TYPE_CHECKING:
    from rich.console import Console

    from ..store import RunInfo, Store

__all__ = [
    "SAFETY_SUFFIXES",
    "check_safety_outputs",
    "previous_result",
    "print_safety_summary",
    "render_safety_html",
    "render_safety_markdown",
    "write_safety_outputs",
]

SAFETY_SUFFIXES = (".json", ".md", ".html")
_HITS = {"redteam": "successes", "bias": "flips", "robustness": "broken"}

Measure = Callable[["RunInfo", Iterable[CellResult]], SafetyResult]


# --- the previous run -------------------------------------------------------------------------


def previous_result(store: Store, current: SafetyResult, measure: Measure) -> SafetyResult | None:
    """The same measurement of the newest finished run before ``current`` made by the same
    command on the same suite and prompt (a run's options hold the command's name under
    ``"command"`` and, under that name, its prompt: ``{"bias": {"prompt": ...}}``), computed
    by ``measure`` from its stored results; None when there is none."""
    this = store.find_run(current.run_id)
    candidates = store.runs(suite=current.suite, limit=None) if current.suite else store.runs()
    for info in candidates:  # newest first
        tags = info.options.get(current.kind)
        tags = tags if isinstance(tags, dict) else {}
        if (
            info.id == current.run_id
            or info.status != "finished"
            or info.options.get("command") != current.kind
            or tags.get("prompt") != current.prompt
            or (this is not None and info.started_at > this.started_at)
        ):
            continue
        return measure(info, store.results(info.id))
    return None


def _change(category: CategoryOutcome, previous: SafetyResult | None) -> float | None:
    if previous is None:
        return None
    before = next((c for c in previous.categories if c.category == category.category), None)
    return None if before is None or not before.attempts else category.rate - before.rate


def _pct(value: float) -> str:
    value = 0.0 if abs(value) < 0.0005 else value
    return f"{value:.1%}" if 0 < abs(value) < 0.1 else f"{value:.0%}"


def _change_text(change: float | None) -> str:
    if change is None:
        return "—"
    return "=" if abs(change) < 0.0005 else f"{change * 100:+.1f} pts"


def _gap_text(category: CategoryOutcome) -> str:
    gap = category.gap
    if gap is None:
        return "—"
    return (
        f"{gap.high_group} − {gap.low_group}: {_pct(gap.difference)} "
        f"[{_pct(gap.low)}, {_pct(gap.high)}]"
    )


# --- terminal ---------------------------------------------------------------------------------


def print_safety_summary(
    result: SafetyResult, console: Console, *, limit: float | None = None, examples: int = 3
) -> None:
    """The rate per category as a table (with the change since the previous run), then
    the worst examples; ``limit`` marks the categories above the gate."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{result.kind}: {result.metric} of {escape(result.prompt)}")
    table.add_column("category")
    table.add_column("attempts", justify="right")
    table.add_column(_HITS[result.kind], justify="right")
    table.add_column(result.metric, justify="right")
    table.add_column("95% interval", justify="right")
    if any(c.gap is not None for c in result.categories):
        table.add_column("pass-rate gap [95%]")
    table.add_column("skipped", justify="right")
    if result.previous is not None:
        table.add_column("since last run", justify="right")
    for c in result.categories:
        above = limit is not None and c.attempts and c.rate > limit
        style = "bold red" if above else "green" if c.attempts else "dim"
        row = [
            escape(c.category),
            str(c.attempts),
            str(c.hits),
            f"[{style}]{_pct(c.rate) if c.attempts else '—'}[/]",
            f"{_pct(c.low)}–{_pct(c.high)}" if c.attempts else "—",
        ]
        if any(x.gap is not None for x in result.categories):
            row.append(escape(_gap_text(c)))
        row.append(str(c.skipped + c.errors) if c.errors else str(c.skipped))
        if result.previous is not None:
            row.append(_change_text(_change(c, result.previous)))
        table.add_row(*row)
    console.print(table)
    for c in result.categories:
        for example in c.examples[:examples]:
            console.print(
                f"[bold]{escape(c.category)}[/] {escape(example.cell)}: "
                f"{escape(excerpt(example.reason, 160))}\n"
                f"  sent: {escape(excerpt(example.sent, 120))}\n"
                f"  got:  {escape(excerpt(example.output, 120))}",
                highlight=False,
            )
    console.print(f"run {result.run_id}", style="dim", highlight=False)


# --- files --------------------------------------------------------------------------------------


def check_safety_outputs(paths: Sequence[Path]) -> None:
    """Refuse, before any model is called, an output this command cannot write."""
    for path in paths:
        if path.suffix.lower() not in SAFETY_SUFFIXES:
            raise PrompteurError(
                f"cannot write {path}: use a .json, .md or .html file for this command's report"
            )
        check_writable(path)


def write_safety_outputs(
    result: SafetyResult, paths: Sequence[Path], *, limit: float | None = None
) -> None:
    """Write the report to each path, by its suffix (.json, .md, .html), whole or not at
    all; the JSON says which categories are above the gate's ``limit``, when one is set."""
    check_safety_outputs(paths)
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".json":
            data = result.to_json()
            if limit is not None:
                failed = [c.category for c in gate_failures(result, limit)]
                data["gate"] = {"max_rate": limit, "failed": failed}
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        elif suffix == ".md":
            text = render_safety_markdown(result)
        else:
            text = render_safety_html(result)
        write_atomically(path, text)


def render_safety_markdown(result: SafetyResult, examples: int = 3) -> str:
    hits = _HITS[result.kind]
    head = ["category", "attempts", hits, result.metric, "95% interval", "skipped"]
    gaps = any(c.gap is not None for c in result.categories)
    if gaps:
        head.insert(5, "pass-rate gap [95%]")
    if result.previous is not None:
        head.append("since last run")
    lines = [
        f"## prompteur {result.kind}: {md_cell(result.prompt)}",
        "",
        f"Run `{result.run_id}`"
        + (f" of {md_cell(Path(result.suite).name)}" if result.suite else "")
        + (f"; previous run `{result.previous.run_id}`." if result.previous else "."),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for c in result.categories:
        row = [
            md_cell(c.category),
            str(c.attempts),
            str(c.hits),
            _pct(c.rate) if c.attempts else "—",
            f"{_pct(c.low)}–{_pct(c.high)}" if c.attempts else "—",
            str(c.skipped),
        ]
        if gaps:
            row.insert(5, md_cell(_gap_text(c)))
        if result.previous is not None:
            row.append(_change_text(_change(c, result.previous)))
        lines.append("| " + " | ".join(row) + " |")
    shown = [(c, e) for c in result.categories for e in c.examples[:examples]]
    if shown:
        lines += ["", "### Worst examples", ""]
        for c, e in shown:
            lines.append(
                f"- **{md_cell(c.category)}** {md_cell(e.cell)}: {md_cell(e.reason, 200)}<br>"
                f"sent: {md_cell(e.sent, 160)}<br>got: {md_cell(e.output, 160)}"
            )
    return "\n".join(lines) + "\n"


_STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    "svg{vertical-align:middle}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}"
)


def render_safety_html(result: SafetyResult, examples: int = 5) -> str:
    """A self-contained page: no script, no fetch, no inline style attribute (the policy
    admits only the page's own style sheet); every text from a model or a suite is
    escaped."""
    e = html.escape
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    policy = f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'"
    gaps = any(c.gap is not None for c in result.categories)
    head = ["category", "attempts", _HITS[result.kind], result.metric, "95% interval"]
    head += ["pass-rate gap [95%]"] if gaps else []
    head += ["skipped"] + (["since last run"] if result.previous is not None else [])
    rows = []
    for c in result.categories:
        left, width = max(0.0, c.low) * 100, max(0.5, (c.high - max(0.0, c.low)) * 100)
        cells = [
            e(c.category),
            str(c.attempts),
            str(c.hits),
            _pct(c.rate) if c.attempts else "—",
            (
                f"{_pct(c.low)}–{_pct(c.high)} "
                '<svg width="100" height="8" role="img"><rect width="100" height="8" '
                f'fill="#eee"/><rect x="{left:.1f}" width="{width:.1f}" height="8" '
                'fill="#89b"/></svg>'
                if c.attempts
                else "—"
            ),
        ]
        cells += [e(_gap_text(c))] if gaps else []
        cells += [str(c.skipped)]
        if result.previous is not None:
            cells.append(e(_change_text(_change(c, result.previous))))
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    shown = []
    for c in result.categories:
        for ex in c.examples[:examples]:
            shown.append(
                f"<h3>{e(c.category)}: {e(ex.cell)}</h3><p>{e(ex.reason)}</p>"
                f"<p>sent:</p><pre>{e(ex.sent)}</pre><p>got:</p><pre>{e(ex.output)}</pre>"
            )
    previous = (
        f"; compared with run <code>{e(result.previous.run_id)}</code>" if result.previous else ""
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        f"<title>prompteur {e(result.kind)}: {e(result.prompt)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>prompteur {e(result.kind)}: {e(result.metric)} of {e(result.prompt)}</h1>"
        f"<p>run <code>{e(result.run_id)}</code>"
        + (f" of {e(result.suite)}" if result.suite else "")
        + f"{previous}</p><table><tr>"
        + "".join(f"<th>{e(h)}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
        + ("<h2>Worst examples</h2>" + "".join(shown) if shown else "")
        + "</body></html>\n"
    )
