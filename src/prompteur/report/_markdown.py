"""``-o summary.md``: a Markdown summary fit for a pull-request comment."""

from __future__ import annotations

from pathlib import Path

from ..eval._compare import Comparison
from ..eval._results import CellResult
from ..eval._sinks import RunFinished, RunStarted
from ..eval._summary import RunSummary
from ._html import write_atomically
from ._summary import format_cost, format_ms

__all__ = ["MarkdownOutput", "render_markdown"]


def _cell(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def render_markdown(
    summary: RunSummary | None,
    *,
    run_id: str | None = None,
    comparison: Comparison | None = None,
    max_failures: int = 10,
) -> str:
    lines: list[str] = []
    if comparison is not None:
        lines += _comparison(comparison)
    if summary is not None:
        title = summary.description or "evaluation"
        lines.append(f"### {title}" + (f" · run `{run_id}`" if run_id else ""))
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
        f"{_cell(case, 80)} — {_cell(why, 160)} — output: `{_cell(result.output or '', 100)}`"
    )


def _comparison(comparison: Comparison) -> list[str]:
    lines = [
        f"### Comparison: {comparison.verdict}",
        "",
        f"- A: {comparison.label_a}",
        f"- B: {comparison.label_b}",
        f"- shared cases: {comparison.pairs}"
        + (f" ({comparison.excluded} left out for errors)" if comparison.excluded else ""),
    ]
    if comparison.difference is not None:
        lines.append(
            f"- pass rate: A {_pct(comparison.a_rate)} → B {_pct(comparison.b_rate)}, "
            f"difference {100 * comparison.difference:+.1f} points, 95% CI "
            f"[{100 * comparison.ci_low:+.1f}, {100 * comparison.ci_high:+.1f}]"
        )
    lines.append(
        f"- McNemar exact p = {comparison.p_value:.4g}; newly failing "
        f"{comparison.worsened}, newly passing {comparison.improved}"
    )
    return [*lines, ""]


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
