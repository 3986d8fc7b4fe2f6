"""What pages and the API show of the store's records: JSON-ready mappings, and the
filters templates format numbers and times with."""

from __future__ import annotations

import datetime
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..core._stats import wilson_interval

if TYPE_CHECKING:
    from ..store import RunInfo
    from ..store._grid import CellDetail, GridPage, GroupStats

__all__ = ["cell_json", "groups_json", "page_json", "run_json", "when"]


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def interval(passed: int, graded: int) -> tuple[float, float] | None:
    return wilson_interval(passed, graded) if graded else None


def run_json(info: RunInfo, cost: float | None = None) -> dict[str, Any]:
    graded = info.done - info.errors
    bounds = interval(info.final_passed, graded)
    return {
        "id": info.id,
        "suite": info.suite_name,
        "suite_path": info.suite_path,
        "description": info.description,
        "status": info.status,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "duration_s": info.duration_s,
        "cells": info.total_cells,
        "done": info.done,
        "passed": info.final_passed,
        "failed": info.done - info.final_passed - info.errors,
        "errors": info.errors,
        "pass_rate": info.final_passed / graded if graded else None,
        "interval": list(bounds) if bounds else None,
        "human_verdicts": info.human,
        "prompts": [label for _, label in info.prompts],
        "providers": [label for _, label in info.providers],
        "cost": cost,
        "who": info.author or info.host,
        "git_commit": info.git_commit,
        "tool_version": info.tool_version,
    }


def groups_json(info: RunInfo, groups: list[GroupStats]) -> list[dict[str, Any]]:
    shown = []
    for g in groups:
        bounds = interval(g.passed, g.graded)
        shown.append(
            {
                "prompt": info.prompts[g.prompt_pos][1],
                "provider": info.providers[g.provider_pos][1],
                "done": g.done,
                "passed": g.passed,
                "errors": g.errors,
                "pass_rate": g.passed / g.graded if g.graded else None,
                "interval": list(bounds) if bounds else None,
                "mean_score": g.mean_score,
                "mean_latency_ms": g.mean_latency_ms,
                "tokens": g.tokens,
                "cost": g.cost,
                "human_verdicts": g.human,
            }
        )
    return shown


def page_json(page: GridPage) -> dict[str, Any]:
    return {
        "total": page.total,
        "offset": page.offset,
        "more": page.more,
        "rows": [
            {
                "test": row.test_pos,
                "case": row.case,
                "cells": [
                    {
                        "key": c.key,
                        "prompt": c.prompt_pos,
                        "provider": c.provider_pos,
                        "repeat": c.repeat,
                        "status": c.status,
                        "automatic": c.automatic,
                        "score": c.score,
                        "output": c.output,
                        "truncated": c.truncated,
                        "error": c.error,
                        "latency_ms": c.latency_ms,
                        "human": c.human,
                    }
                    for c in row.cells
                ],
            }
            for row in page.rows
        ],
    }


def cell_json(info: RunInfo, cell: CellDetail, comments: list[Any]) -> dict[str, Any]:
    data = asdict(cell)
    data["prompt"] = info.prompts[cell.prompt_pos][1]
    data["provider"] = info.providers[cell.provider_pos][1]
    data["ratings"] = [r.to_dict() for r in cell.ratings]
    data["comments"] = [asdict(c) for c in comments]
    return data
