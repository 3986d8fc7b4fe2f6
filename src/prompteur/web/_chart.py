"""A line chart of pass rates over runs, drawn on the server as SVG: no chart library,
no script, and its text escaped like the rest of the page."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

__all__ = ["COLOURS", "line_chart"]

COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 260, 44, 16, 12, 28


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]], x_labels: Sequence[str]
) -> Markup:
    """One line per (name, rates from 0 to 1); a gap where a run has no rate."""
    count = max(len(x_labels), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'role="img" aria-label="pass rate per run" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#e5e7eb"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#6b7280">{tick:.0%}</text>'
        )
    step = max(1, count // 10)
    for index, label in enumerate(x_labels):
        if index % step == 0:
            parts.append(
                f'<text x="{x(index):.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'font-size="10" fill="#6b7280">{escape(label)}</text>'
            )
    for number, (name, rates) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        path: list[str] = []
        for index, rate in enumerate(rates):
            if rate is None:
                path.append("")
                continue
            path.append(f"{x(index):.1f},{y(rate):.1f}")
            parts.append(
                f'<circle cx="{x(index):.1f}" cy="{y(rate):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {rate:.1%}</title></circle>"
            )
        for run in " ".join(path).split("  "):
            points = run.strip()
            if " " in points:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))
