"""Compare two runs (or two prompts of one run) and follow a suite's history over time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from ._auth import Role, User, require
from ._chart import COLOURS, line_chart
from ._diff import word_diff
from ._errors import REFUSALS
from ._templates import ViewError, render, store_of
from ._views import run_json, when

router = APIRouter(responses=REFUSALS)

Viewer = Annotated[User, Depends(require(Role.VIEWER))]
SHOWN_CASES = 50


def comparison(
    request: Request, a: str, b: str, prompt_a: str | None, prompt_b: str | None
) -> dict[str, Any]:
    from ..analysis._run_comparison import compare_chosen, compare_runs

    store = store_of(request)
    run_a, run_b = store.run(a), store.run(b)
    if (prompt_a is None) != (prompt_b is None):
        raise ViewError(400, "name both prompts (prompt_a and prompt_b), or neither")
    if prompt_a is not None and prompt_b is not None:
        c = compare_chosen(store, run_a, run_b, "prompt", (prompt_a, prompt_b))
    elif run_a.id == run_b.id:
        raise ViewError(400, "one run against itself: name two prompts of it to compare")
    else:
        c = compare_runs(store, run_a, run_b)

    def cases(pairs: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "case": left.label,
                "a": left.output,
                "b": right.output,
                "diff": word_diff(left.output, right.output),
            }
            for left, right in pairs[:SHOWN_CASES]
        ]

    return {
        "a": run_json(run_a),
        "b": run_json(run_b),
        "label_a": c.label_a,
        "label_b": c.label_b,
        "pairs": c.pairs,
        "excluded": c.excluded,
        "only_a": c.only_a,
        "only_b": c.only_b,
        "a_rate": c.a_rate,
        "b_rate": c.b_rate,
        "difference": c.difference,
        "interval": [c.ci_low, c.ci_high],
        "p_value": c.p_value,
        "verdict": c.verdict,
        "newly_failing_count": c.worsened,
        "newly_passing_count": c.improved,
        "newly_failing": cases(c.newly_failing),
        "newly_passing": cases(c.newly_passing),
        "notes": list(c.notes),
        "human_a": c.human_a,
        "human_b": c.human_b,
    }


@router.get("/api/compare", tags=["analysis"])
def api_compare(
    request: Request,
    user: Viewer,
    a: Annotated[str, Query(min_length=1)],
    b: Annotated[str, Query(min_length=1)],
    prompt_a: str | None = None,
    prompt_b: str | None = None,
) -> dict[str, Any]:
    """Run A against run B, or one prompt against another (of one run or two): the verdict
    with the difference's 95% paired-bootstrap interval and McNemar's p-value, and the cases
    newly failing and newly passing with both outputs and a word diff."""
    return comparison(request, a, b, prompt_a, prompt_b)


@router.get("/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(
    request: Request,
    user: Viewer,
    a: str | None = None,
    b: str | None = None,
    prompt_a: str | None = None,
    prompt_b: str | None = None,
) -> HTMLResponse:
    result = comparison(request, a, b, prompt_a or None, prompt_b or None) if a and b else None
    runs = [run_json(info) for info in store_of(request).runs(limit=50)]
    return render(
        request,
        "compare.html",
        {
            "user": user,
            "result": result,
            "runs": runs,
            "form": {"a": a, "b": b, "prompt_a": prompt_a, "prompt_b": prompt_b},
        },
    )


def history(request: Request, suite: str, limit: int) -> dict[str, Any]:
    from ..analysis._history import drift_alarms, run_history

    store = store_of(request)
    runs = list(
        reversed(store.runs(suite=suite, limit=limit, statuses=["finished", "interrupted"]))
    )
    if not runs:
        raise ViewError(404, f"no recorded runs of suite '{suite}'")
    groups = run_history(store, runs)
    lines, alarms = [], []
    for key, group in groups.items():
        lines.append(
            {
                "prompt": group.shown(key[0]),
                "provider": key[1],
                "rates": group.rates,
                "models": [sorted(m) for m in group.models],
                "versions": [sorted(v) for v in group.versions],
                "human_verdicts": group.human,
            }
        )
        alarms.extend(drift_alarms(key, group, runs))
    return {
        "suite": suite,
        "runs": [
            {"id": r.id, "started_at": r.started_at, "git_commit": r.git_commit} for r in runs
        ],
        "lines": lines,
        "alarms": alarms,
    }


@router.get("/api/history", tags=["analysis"])
def api_history(
    request: Request,
    user: Viewer,
    suite: Annotated[str, Query(min_length=1)],
    limit: Annotated[int, Query(ge=2, le=200)] = 30,
) -> dict[str, Any]:
    """Pass rate per prompt × provider over a suite's runs, with the drift alarms and where
    a prompt's version or a provider's model changed."""
    return history(request, suite, limit)


@router.get("/history", response_class=HTMLResponse, include_in_schema=False)
def history_page(
    request: Request,
    user: Viewer,
    suite: str | None = None,
    limit: Annotated[int, Query(ge=2, le=200)] = 30,
) -> HTMLResponse:
    store = store_of(request)
    suites = sorted({info.suite_name for info in store.runs(limit=200) if info.suite_name})
    data = history(request, suite, limit) if suite else None
    chart = legend = None
    if data is not None:
        series = [
            (f"{line['prompt']} × {line['provider']}", line["rates"]) for line in data["lines"]
        ]
        chart = line_chart(series, [when(r["started_at"])[5:] for r in data["runs"]])
        legend = [(name, COLOURS[i % len(COLOURS)]) for i, (name, _) in enumerate(series)]
    return render(
        request,
        "history.html",
        {
            "user": user,
            "suites": suites,
            "suite": suite,
            "history": data,
            "chart": chart,
            "legend": legend,
        },
    )
