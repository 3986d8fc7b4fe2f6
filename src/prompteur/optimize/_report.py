"""The search's report as JSON and as one self-contained HTML page (no external assets;
every text escaped): start against winner on the holdout, the prompt diff, the anytime
curve, every candidate with its score, calls and tokens by role."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ..report._files import write_atomically
from ._outcome import OptimizeResult

__all__ = ["render_html", "write_report"]

_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:1em;overflow:auto;
white-space:pre-wrap}.add{color:#070}.del{color:#a00}.num{text-align:right}"""


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _curve_svg(points: list[dict[str, Any]]) -> str:
    if not points:
        return "<p>no point</p>"
    width, height, pad = 600, 200, 30
    most = max(p["calls"] for p in points) or 1
    coords = [
        (
            pad + (width - 2 * pad) * p["calls"] / most,
            height - pad - (height - 2 * pad) * (p["best_validation"] or 0),
        )
        for p in points
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="anytime curve">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#888"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#888"/>'
        f'<polyline fill="none" stroke="#36c" stroke-width="2" points="{path}"/>'
        f'<text x="{pad}" y="{pad - 8}">best validation score (0–1)</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">calls spent ({most})</text>'
        "</svg>"
    )


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        kind = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        lines.append(f'<span class="{kind}">{escape(line)}</span>' if kind else escape(line))
    return "<pre>" + "\n".join(lines) + "</pre>"


def render_html(data: dict[str, Any]) -> str:
    holdout = data.get("holdout")
    rows = []
    if holdout:
        for who in ("start", "winner"):
            part = holdout[who]
            low, high = part["ci95"]
            rows.append(
                f"<tr><th>{who}</th><td class=num>{part['passed']}/{holdout['cases']}</td>"
                f"<td class=num>{_rate(part['rate'])}</td>"
                f"<td>{_rate(low)} – {_rate(high)}</td></tr>"
            )
        low, high = holdout["difference_ci95"]
        verdict = (
            f"McNemar exact p = {holdout['mcnemar_p']:.3g}; difference 95% interval "
            f"{100 * low:+.1f} to {100 * high:+.1f} points"
        )
    else:
        verdict = "the holdout was not scored (the search was interrupted)"
    candidates = "".join(
        f"<tr><td>{escape(c['origin'])}</td><td class=num>{c['demos']}</td>"
        f"<td class=num>{c['cases']}</td><td class=num>{_rate(c['score'])}</td>"
        f"<td class=num>{_rate(c.get('start_score'))}</td>"
        f"<td>{escape(c['instruction'][:300])}</td></tr>"
        for c in data["candidates"]
    )
    roles = "".join(
        f"<tr><th>{escape(role)}</th><td class=num>{u['calls']}</td>"
        f"<td class=num>{u['cached']}</td><td class=num>{u['prompt_tokens']}</td>"
        f"<td class=num>{u['completion_tokens']}</td></tr>"
        for role, u in data["ledger"].get("roles", {}).items()
    )
    registered = data.get("registered")
    outcome = (
        f"registered as {escape(registered)} (label candidate)"
        if registered
        else "the winner is not better than the start on validation: nothing registered"
        if not data["improved"]
        else "not registered"
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>prompteur optimize {escape(data["search_id"])}</title><style>{_STYLE}</style></head>
<body><h1>Optimizer search {escape(data["search_id"])}</h1>
<p>Method {escape(str(data["settings"]["method"]))}, seed {escape(str(data["settings"]["seed"]))},
budget {escape(str(data["settings"]["budget"]))}: {data["ledger"].get("spent", 0):g} spent.
Splits: {data["splits"]["train"]} train, {data["splits"]["validation"]} validation,
{data["splits"]["holdout"]} holdout. {outcome}.</p>
<h2>Holdout: start against winner</h2>
<table><tr><th></th><th>passed</th><th>rate</th><th>95% interval</th></tr>{"".join(rows)}</table>
<p>{escape(verdict)}</p>
<p>Validation: start {_rate(data["start"]["validation"])}, winner
{_rate(data["winner"]["validation"])} ({escape(data["winner"]["origin"])}).</p>
<h2>Prompt diff</h2>{_diff_html(data["diff"]) if data["diff"] else "<p>no change</p>"}
<h2>Winner</h2><pre>{escape(data["winner"]["prompt"])}</pre>
<h2>Anytime curve</h2>{_curve_svg(data["curve"])}
<h2>Candidates</h2><table><tr><th>origin</th><th>demos</th><th>validation cases</th>
<th>score</th><th>start on those cases</th><th>instruction</th></tr>{candidates}</table>
<p>Proposals: {data["proposals"]}; skipped: {escape(json.dumps(data["skipped_proposals"]))}</p>
<h2>Calls by role</h2><table><tr><th>role</th><th>calls charged</th><th>from cache</th>
<th>prompt tokens</th><th>completion tokens</th></tr>{roles}</table>
</body></html>
"""


def write_report(result: OptimizeResult, path: Path) -> None:
    """``optimize.json`` or ``optimize.html``."""
    data = result.to_json()
    if path.suffix.lower() == ".json":
        write_atomically(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        write_atomically(path, render_html(data))
