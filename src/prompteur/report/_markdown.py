"""``-o summary.md``: a Markdown summary fit for a pull-request comment."""

from __future__ import annotations

import re
from pathlib import Path

from ..analysis._compare import Comparison, Outcome
from ..core._results import CellResult
from ..core._sinks import RunFinished, RunStarted
from ..core._summary import RunSummary
from ._files import write_atomically
from ._summary import excerpt, format_cost, format_ms

__all__ = ["MarkdownOutput", "no_shared_cases", "render_markdown"]


# Text from models and suites is shown as written, never read as Markdown or HTML: a
# comment on a pull request must not let an output close a block or open a tag.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_BLOCK_START = re.compile(r"^(\d*)([#+=.)-])")  # would open a heading or a list if first
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# ...nor link or notify anyone: GitHub turns URLs, www. names, e-mail addresses, @mentions
# and #123 or GH-123 references in plain text into live links (a mention notifies, a
# reference back-links). A word joiner, invisible, after the trigger keeps them plain text.
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)|(?<=#)(?=\d)|(?<=\bgh)(?=-\d)")
_WORD_JOINER = "\u2060"


def _cell(text: str, limit: int = 120) -> str:
    """Plain text, escaped for a table cell or a list item."""
    flat = _MARKDOWN_SPECIAL.sub(r"\\\1", excerpt(text, limit))
    flat = _BLOCK_START.sub(r"\1\\\2", flat)
    flat = _AUTOLINK.sub(_WORD_JOINER, flat)
    return "".join(_HTML_SPECIAL.get(c, c) for c in flat)


def _code(text: str, limit: int = 100) -> str:
    """Text as an inline code span, whatever backticks it holds: the fence is longer than
    its longest run of them (CommonMark). Not for table cells, which GitHub splits at
    pipes before it reads code spans."""
    flat = excerpt(text, limit)
    if not flat:
        return "*(empty)*"
    fence = "`" * (1 + max((len(run) for run in re.findall(r"`+", flat)), default=0))
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") else flat
    return f"{fence}{padded}{fence}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def render_markdown(
    summary: RunSummary | None,
    *,
    run_id: str | None = None,
    comparison: Comparison | None = None,
    max_failures: int = 10,
    max_cases: int = 10,
) -> str:
    """The run's summary, or a comparison (its newly failing and newly passing cases, at
    most ``max_cases`` of each), or both."""
    lines: list[str] = []
    if comparison is not None:
        lines += _comparison(comparison, max_cases)
    if summary is not None:
        title = summary.description or "evaluation"
        lines.append(f"### {_cell(title)}" + (f" · run `{run_id}`" if run_id else ""))
        lines.append("")
        rate = summary.pass_rate
        status = f"**{summary.passed}/{summary.done} passed**" + (
            f" ({rate:.1%})" if rate is not None else ""
        )
        status += f" · {summary.failed} failed · {summary.errors} errors"
        if summary.interrupted:
            status += f" · interrupted, {summary.planned - summary.done} cells not run"
        if summary.human:
            status += f" · {summary.human} human verdicts counted instead of the grades"
        if summary.cut_short:
            status += f" · {summary.cut_short} answers cut off by max_tokens"
        lines += [status, ""]
        judged = any(g.grader_tokens or g.grader_cost for g in summary.groups)
        lines.append(
            "| prompt | provider | pass rate | 95% CI | score | errors | p50 | p95 | cost |"
            + (" grader cost |" if judged else "")
        )
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if judged else ""))
        for g in summary.groups:
            low, high = g.interval()
            score = "—" if g.mean_score is None else f"{g.mean_score:.2f}"
            lines.append(
                f"| {_cell(g.prompt_label, 40)} | {_cell(g.provider_id, 30)} | "
                f"{_pct(g.pass_rate)} ({g.passed}/{g.done}) | {_pct(low)}–{_pct(high)} | {score} | "
                f"{g.errors} | {format_ms(g.latency(50))} | {format_ms(g.latency(95))} | "
                f"{format_cost(g.cost)} |" + (f" {format_cost(g.grader_cost)} |" if judged else "")
            )
        failures = summary.failures[:max_failures]
        if failures:
            lines += [
                "",
                f"<details><summary>{summary.failures_seen} failing cells"
                f" ({len(failures)} shown)</summary>",
                "",
            ]
            lines += [_failure(f) for f in failures]
            lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _failure(result: CellResult) -> str:
    case = result.test_description or ", ".join(f"{k}={v}" for k, v in result.vars.items())
    if result.error:
        why = f"error: {result.error}"
    else:
        why = (
            "; ".join(f"{a.type}: {a.reason}" for a in result.failed_assertions())
            or "below threshold"
        )
    return (
        f"- **{_cell(result.prompt_id, 40)} × {_cell(result.provider_id, 30)}** · "
        f"{_cell(case, 80)} — {_cell(why, 160)} — output: {_code(result.output or '', 100)}"
    )


def _comparison(comparison: Comparison, max_cases: int) -> list[str]:
    c = comparison
    lines = [
        f"### Comparison: {c.verdict}",
        "",
        f"- A: {_cell(c.label_a)}",
        f"- B: {_cell(c.label_b)}",
        *(f"- {_cell(note, 300)}" for note in c.notes),
    ]
    if not c.pairs:
        lines.append(f"- {no_shared_cases(c)}")
        return [*lines, ""]
    lines.append(
        f"- shared cases: {c.pairs}"
        + (f" ({c.excluded} left out for errors)" if c.excluded else "")
    )
    assert c.difference is not None
    lines.append(
        f"- pass rate: A {_pct(c.a_rate)} → B {_pct(c.b_rate)}, "
        f"difference {100 * c.difference:+.1f} points, 95% CI "
        f"[{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"
    )
    lines.append(
        f"- McNemar exact p = {c.p_value:.4g}; newly failing {c.worsened}, "
        f"newly passing {c.improved}"
    )
    if c.human_a or c.human_b:
        lines.append(
            f"- human verdicts counted instead of the grades: {c.human_a} cells in A, "
            f"{c.human_b} in B"
        )
    for title, pairs, total in (
        ("Newly failing", c.newly_failing, c.worsened),
        ("Newly passing", c.newly_passing, c.improved),
    ):
        if not total:
            continue
        lines += ["", f"**{title} ({total})**", ""]
        shown = pairs[:max_cases]
        lines += [_pair(left, right) for left, right in shown]
        if total > len(shown):
            lines.append(f"- … and {total - len(shown)} more")
    return [*lines, ""]


def no_shared_cases(comparison: Comparison) -> str:
    """Why there is nothing to compare, in one sentence."""
    c = comparison
    if c.excluded:
        return f"no cases to compare: the {c.excluded} shared cases errored on one side or both"
    return f"no shared cases to compare ({c.only_a} cells only in A, {c.only_b} only in B)"


def _pair(left: Outcome, right: Outcome) -> str:
    def side(outcome: Outcome) -> str:
        mark = " (human verdict)" if outcome.human else ""
        return f"{_code(outcome.output or '', 60)}{mark}"

    return f"- {_cell(left.label, 80)} — A: {side(left)} → B: {side(right)}"


class MarkdownOutput:
    """Writes the Markdown summary when the run ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id: str | None = None

    def on_start(self, event: RunStarted) -> None:
        self.run_id = event.run_id

    def on_result(self, result: CellResult) -> None:
        pass

    def on_finish(self, event: RunFinished) -> None:
        write_atomically(self.path, render_markdown(event.summary, run_id=self.run_id))
