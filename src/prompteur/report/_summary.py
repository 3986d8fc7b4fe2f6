"""The run summary as plain data (JSON outputs) and its figures formatted for people."""

from __future__ import annotations

import unicodedata
from typing import Any

from ..core._summary import GroupSummary, RunSummary

__all__ = ["excerpt", "format_cost", "format_ms", "group_dict", "summary_dict"]


def excerpt(text: str | None, limit: int = 100) -> str:
    """Text from a model or a suite as one line fit to show: whitespace runs become one
    space, control characters (an ANSI sequence, a bell) are shown escaped rather than
    acted on by the terminal, and what exceeds ``limit`` ends in an ellipsis."""
    if not text:
        return ""
    shown = "".join(
        f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and not c.isspace() else c
        for c in text
    )
    flat = " ".join(shown.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def group_dict(group: GroupSummary) -> dict[str, Any]:
    low, high = group.interval()
    return {
        "prompt": group.prompt_id,
        "prompt_label": group.prompt_label,
        "provider": group.provider_id,
        "planned": group.planned,
        "done": group.done,
        "passed": group.passed,
        "failed": group.failed,
        "errors": group.errors,
        "pass_rate": group.pass_rate,
        "pass_rate_ci95": [low, high],
        "mean_score": group.mean_score,
        "latency_ms": {"p50": group.latency(50), "p95": group.latency(95)},
        "tokens": {
            "prompt": group.prompt_tokens,
            "completion": group.completion_tokens,
            "total": group.total_tokens,
        },
        "cost": group.cost,
        "cached": group.cached,
        "cached_tokens": group.cached_tokens,
        "cached_cost": group.cached_cost,
        "metrics": group.metric_means(),
        "grader_tokens": group.grader_tokens,
        "grader_cost": group.grader_cost,
        "human": group.human,
    }


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    return {
        "description": summary.description,
        "planned": summary.planned,
        "done": summary.done,
        "passed": summary.passed,
        "failed": summary.failed,
        "errors": summary.errors,
        "cached": summary.cached,
        "human": summary.human,
        "cut_by_max_tokens": summary.cut_short,
        "pass_rate": summary.pass_rate,
        "duration_s": round(summary.duration_s, 3),
        "interrupted": summary.interrupted,
        "groups": [group_dict(g) for g in summary.groups],
    }


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.0f} s"
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms"


def format_cost(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"
