"""Comparing runs, prompts and providers with paired statistics; history and drift alarms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from prompteur.analysis._compare import Outcome, compare_outcomes, mcnemar_exact, paired_bootstrap


def test_mcnemar_exact_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 10) == pytest.approx(2 * 0.5**10)
    assert mcnemar_exact(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(8, 2) == mcnemar_exact(2, 8)
    assert 0 < mcnemar_exact(400, 600) < 1e-9  # large samples stay finite


def test_paired_bootstrap_interval() -> None:
    low, high = paired_bootstrap(improved=18, worsened=0, pairs=20)
    assert 0.7 <= low <= 0.9 <= high <= 1.0
    assert paired_bootstrap(18, 0, 20) == (low, high), "seeded: reproducible"
    low, high = paired_bootstrap(improved=5, worsened=5, pairs=100)
    assert low < 0 < high


def sides(a: str, b: str) -> tuple[dict[object, Outcome | None], dict[object, Outcome | None]]:
    def side(marks: str) -> dict[object, Outcome | None]:
        return {
            i: None if m == "e" else Outcome(m == "1", f"case {i}") for i, m in enumerate(marks)
        }

    return side(a), side(b)


def test_verdicts() -> None:
    better = compare_outcomes(*sides("0" * 15 + "1" * 5, "1" * 20))
    assert (better.pairs, better.improved, better.worsened) == (20, 15, 0)
    assert better.verdict == "B is better"
    assert better.difference == pytest.approx(0.75)
    worse = compare_outcomes(*sides("1" * 20, "0" * 15 + "1" * 5))
    assert worse.verdict == "B is worse"
    same = compare_outcomes(*sides("1100110011", "1010101010"))
    assert same.verdict == "no significant difference at this sample size"
    small = compare_outcomes(*sides("000", "111"))  # 3 of 3 improved: p = 0.25
    assert small.verdict == "no significant difference at this sample size"
    errors = compare_outcomes(*sides("1e1", "11e"))
    assert (errors.pairs, errors.excluded) == (1, 2)
    assert compare_outcomes({}, {}).verdict == "no shared cases to compare"


PROVIDER = """
import os

def call_api(prompt, options, context):
    broken = int(os.environ.get("BROKEN", "0"))
    n = context["vars"]["n"]
    answer = "wrong" if n < broken else "right"
    return {"output": answer, "model": os.environ.get("MODEL", "m-1")}
"""


@pytest.fixture
def any_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The commands' store (PROMPTEUR_DB) on each backend: SQLite, then PostgreSQL."""
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    return store_url


@pytest.fixture
def project(write: Callable[[str, str], Path], any_store: str) -> Path:
    write("model.py", PROVIDER)
    tests = "\n".join(f"  - vars: {{n: {n}}}" for n in range(20))
    return write(
        "suite.yaml",
        "description: drift\n"
        "prompts: [{raw: 'Q{{n}}', label: plain}, {raw: 'Answer Q{{n}}', label: polite}]\n"
        "providers: [{id: file://model.py, label: m}]\n"
        "defaultTest: {assert: [{type: equals, value: right}]}\n"
        f"tests:\n{tests}\n",
    )


def run(
    run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, broken: int, model: str = "m-1"
) -> str:
    monkeypatch.setenv("BROKEN", str(broken))
    monkeypatch.setenv("MODEL", model)
    result = run_cli("eval", "suite.yaml", "--no-progress", "--no-cache")
    return result.stdout.split(" run ")[1].split()[0]


def test_compare_two_runs(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = run(run_cli, monkeypatch, broken=0)
    bad = run(run_cli, monkeypatch, broken=12)
    worse = run_cli("compare", good, bad, "-o", "cmp.html", "-o", "cmp.md")
    assert worse.exit_code == 1, worse.output
    out = worse.stdout
    assert "shared cases: 40" in out
    assert "pass rate: A 100.0% → B 40.0%" in out
    assert "newly failing 24" in out
    assert "verdict: B is worse" in out
    assert "newly failing (10 of 24 shown)" in out
    better = run_cli("compare", bad, good)
    assert better.exit_code == 0
    assert "verdict: B is better" in better.stdout
    markdown = (tmp_path / "cmp.md").read_text()
    assert markdown.startswith("### Comparison: B is worse")
    assert "McNemar exact p = " in markdown
    # a pull-request comment names the cases that changed, ten of each at most
    assert "**Newly failing (24)**" in markdown and "Newly passing" not in markdown
    assert "- n=0 — A: `right` → B: `wrong`" in markdown
    assert markdown.count(" → B: `wrong`") == 10
    assert "- … and 14 more" in markdown
    run_cli("compare", bad, good, "--max-cases", "3", "-o", "back.md")
    back = (tmp_path / "back.md").read_text()
    assert "**Newly passing (24)**" in back and "- … and 21 more" in back
    assert back.count(" → B: `right`") == 3
    html = (tmp_path / "cmp.html").read_text()
    assert "B is worse" in html
    assert html.count('class="run"') == 2


def test_runs_that_share_no_case_are_not_compared(
    run_cli: Callable[..., Result],
    project: Path,
    tmp_path: Path,
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = run(run_cli, monkeypatch, broken=0)
    write(
        "other.yaml",
        "description: other\nprompts: ['Q{{n}}']\nproviders: [{id: file://model.py, label: m}]\n"
        "tests: [{vars: {n: 100}}, {vars: {n: 101}}, {vars: {n: 102}}]\n",
    )
    other = run_cli("eval", "other.yaml", "--no-progress", "--no-cache")
    second = other.stdout.split(" run ")[1].split()[0]
    result = run_cli("compare", first, second)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: run {first} (drift) and run {second} (other): no shared cases to compare "
        "(40 cells only in A, 3 only in B)\n"
    )
    reported = run_cli("compare", first, second, "-o", "none.md", "-o", "none.html")
    assert reported.exit_code == 2
    markdown = (tmp_path / "none.md").read_text()
    assert "no shared cases to compare (40 cells only in A, 3 only in B)" in markdown
    assert "McNemar" not in markdown
    html = (tmp_path / "none.html").read_text()
    assert "no shared cases to compare" in html
    assert "McNemar" not in html


def test_compare_prompts_and_providers_within_a_run(
    run_cli: Callable[..., Result],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = run(run_cli, monkeypatch, broken=0)
    same = run_cli("compare", run_id, "--prompts", "plain", "polite")
    assert same.exit_code == 0
    assert "shared cases: 20" in same.stdout
    assert "no significant difference at this sample size" in same.stdout
    by_position = run_cli("compare", run_id, "--prompts", "1", "2")
    assert "A plain (run" in by_position.stdout
    unknown = run_cli("compare", run_id, "--providers", "m", "other")
    assert unknown.exit_code == 2
    assert "no provider 'other' in run " in unknown.stderr
    assert "(it has 1: m)" in unknown.stderr


def test_history_flags_a_significant_drop_and_a_model_change(
    run_cli: Callable[..., Result],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(run_cli, monkeypatch, broken=0)
    run(run_cli, monkeypatch, broken=1)
    latest = run(run_cli, monkeypatch, broken=14, model="m-2")
    result = run_cli("history", "suite.yaml")
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "drift: 3 runs" in out
    assert "plain × m" in out and "polite × m" in out
    assert "100% 95% 30%" in out
    assert "██▁" in out  # the sparkline, on the line's own range
    assert f"run {latest}: plain × m dropped 95% → 30% on 20 shared cases" in out
    assert "the model changed: m-1 → m-2" in out
    by_name = run_cli("history", "drift")
    assert by_name.stdout == out


def test_history_of_a_steady_suite(
    run_cli: Callable[..., Result], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(run_cli, monkeypatch, broken=0)
    run(run_cli, monkeypatch, broken=1)
    result = run_cli("history", "suite.yaml")
    assert result.exit_code == 0
    assert "no significant drop between consecutive runs" in result.stdout


def test_runs_and_show(
    run_cli: Callable[..., Result], project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(run_cli, monkeypatch, broken=0)
    second = run(run_cli, monkeypatch, broken=3)
    listing = run_cli("runs").stdout
    assert listing.index(second) < listing.index(first), "newest first"
    assert "finished" in listing and "37/40" not in listing and "40/40" in listing
    shown = run_cli("show", second, "-o", "again.html", "-o", "again.md")
    assert shown.exit_code == 1
    assert "34/40 passed (85.0%)" in shown.stdout
    assert "status finished" in shown.stdout
    assert (tmp_path / "again.html").read_text().count('class="row failed"') == 3
    assert "**34/40 passed**" in (tmp_path / "again.md").read_text()
    assert run_cli("show", first).exit_code == 0
