"""What a model, a check or a suite writes cannot act through a report: no live links or
mentions in Markdown (GitHub autolinks URLs, www. names and @mentions, and notifies the
people mentioned), no formulas in CSV (a spreadsheet evaluates =, +, -, @)."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from markdown_it import MarkdownIt

LINKY = (
    "see https://evil.example/x, HTTP://EVIL.example, WWW.evil.example, @octocat, "
    "@acme/admins, me@evil.example #12 GH-7"
)

PROVIDER = f"""
import os
def call_api(prompt, options, context):
    return "wrong" if os.environ.get("BROKEN") else "right"

def reason(output, context):
    return {{"pass": False, "score": 0, "reason": {LINKY!r}}}
"""

# GitHub's autolinks and mentions, in text outside code spans
_LIVE = re.compile(r"(?i)https?://|www\.|@[A-Za-z0-9]|#\d|\bGH-\d")


def _live_text(markdown: str) -> list[str]:
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    text = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    return _LIVE.findall(text)


def _suite(write: Callable[[str, str], Path], check: str) -> None:
    write("model.py", PROVIDER)
    write(
        "suite.yaml",
        f"""
        description: "{LINKY}"
        prompts: [{{raw: "{{{{q}}}}", label: "{LINKY}"}}]
        providers: [{{id: file://model.py, label: "@octocat www.evil.example"}}]
        tests:
          - vars: {{q: "{LINKY}"}}
            assert: [{check}]
          - description: "{LINKY}"
            vars: {{q: two}}
            assert: [{check}]
        """,
    )


def test_markdown_report_has_no_live_links_or_mentions(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    _suite(write, "{type: python, value: 'file://model.py:reason'}")
    result = run_cli("eval", "suite.yaml", "--no-progress", "-o", "summary.md")
    assert result.exit_code == 1, result.output
    text = (tmp_path / "summary.md").read_text()
    assert "evil" in text and "octocat" in text  # shown, only not live
    assert _live_text(text) == [], text


def test_compare_markdown_has_no_live_links_or_mentions(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _suite(write, "{type: equals, value: right}")
    runs = []
    for broken in ("", "1"):
        monkeypatch.setenv("BROKEN", broken)
        result = run_cli("eval", "suite.yaml", "--no-progress", "--no-cache")
        runs.append(result.stdout.split(" run ")[1].split()[0])
    result = run_cli("compare", *runs, "-o", "cmp.md")
    text = (tmp_path / "cmp.md").read_text()
    assert "Newly failing" in text and "octocat" in text, text
    assert _live_text(text) == [], text


FORMULAS = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
]

CSV_PROVIDER = """
def call_api(prompt, options, context):
    return context["vars"]["q"]
"""


def test_csv_report_neutralises_formulas_but_keeps_numbers(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("model.py", CSV_PROVIDER)
    values = [*FORMULAS, "-1.5", "+3", "-7e3"]
    tests = "".join(
        f"  - description: {json.dumps(v)}\n    vars: {{q: {json.dumps(v)}}}\n"
        "    assert: [{type: equals, value: x}]\n"
        for v in values
    )
    write(
        "suite.yaml",
        "prompts: [{raw: '{{q}}', label: '=1+1'}]\n"
        "providers: [{id: file://model.py, label: '@SUM(1)'}]\n"
        f"tests:\n{tests}",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress", "-o", "out.csv")
    assert result.exit_code == 1, result.output
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(values)
    for row in rows:
        for column, cell in row.items():
            number = re.fullmatch(r"[+-]?[\d.]+(e\d+)?", cell or "")
            assert number or not cell or cell[0] not in "=+-@\t\r", (column, cell)
        assert row["prompt"] == "'=1+1" and row["provider"] == "'@SUM(1)"
    outputs = [row["output"] for row in rows]
    assert outputs[: len(FORMULAS)] == ["'" + v for v in FORMULAS]
    # numbers stay numbers, in text columns as in numeric ones
    assert outputs[len(FORMULAS) :] == ["-1.5", "+3", "-7e3"]
    assert all(float(row["score"]) == 0 for row in rows)
    assert os.path.getsize(tmp_path / "out.csv") > 0


def test_the_html_reports_policy_allows_its_own_script_and_style_only(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    import base64
    import hashlib

    write("suite.yaml", "prompts: ['{{q}}']\nproviders: [echo]\ntests: [{vars: {q: a}}]\n")
    assert run_cli("eval", "suite.yaml", "--no-progress", "-o", "r.html").exit_code == 0
    html = (tmp_path / "r.html").read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    text = policy[1].replace("&#39;", "'")
    assert text.startswith("default-src 'none'; ")
    blocks = re.findall(r"<(script|style)>(.*?)</\1>", html, re.S)
    assert {tag for tag, _ in blocks} == {"script", "style"}
    for tag, body in blocks:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in text
    assert "unsafe-inline" not in text and "unsafe-eval" not in text
