"""One value no store can keep as it is never loses a run: a NaN or infinite score, a lone
surrogate or a NUL character in a model's answer, token counts past what a column holds,
junk in a suite's own data. The cell that carries it is stored in a form the store can keep
and says so (as its error when its output could not be judged), every other cell is stored,
and the run ends finished, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result
from sqlalchemy import update

import prompteur
from prompteur.store import Store
from prompteur.store import _schema as tables

CASES = 200

PROVIDER = """
def call_api(prompt, options, context):
    n = context["vars"]["n"]
    if n == 40:
        return "half an emoji: \\ud83d"
    if n == 60:
        return "a NUL \\x00 byte"
    if n == 50:
        return {"output": "a big count", "tokenUsage": {"prompt": 2**63, "completion": 2**70}}
    return f"answer {n}"
"""

# the poisoned cases: their assertions, and what their cell's error says
POISONED: dict[int, tuple[list[dict[str, Any]], str]] = {
    10: ([{"type": "python", "value": "float('nan')"}], "its score is nan, not a finite number"),
    20: ([{"type": "python", "value": "float('inf')"}], "its score is inf, not a finite number"),
    # (an infinite weight is refused when the suite is planned: see test_input_limits)
    40: ([], "malformed answer: it holds 1 lone surrogate (not valid Unicode)"),
    70: ([{"type": "python", "value": "{'pass': 'maybe'}"}], "'pass' is 'maybe'"),
}


def _suite() -> dict[str, Any]:
    tests = []
    for n in range(CASES):
        asserts = POISONED[n][0] if n in POISONED else []
        tests.append({"vars": {"n": n}, "assert": [*asserts, {"type": "contains", "value": "a"}]})
    return {"prompts": ["case {{n}}"], "providers": ["python:prov.py:call_api"], "tests": tests}


def test_poisoned_cells_never_lose_the_run(
    store_url: str, write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("prov.py", PROVIDER)
    result = prompteur.evaluate(_suite(), store=store_url, keep_results=False)
    store = Store(store_url)
    try:
        info = store.run(result.run_id)
        assert (info.status, info.done, info.total_cells) == ("finished", CASES, CASES)
        cells = {c.test_index: c for c in store.results(result.run_id)}
    finally:
        store.close()
    assert len(cells) == CASES
    for n, (_, reason) in POISONED.items():
        assert cells[n].status == "error", n
        assert cells[n].error is not None and reason in cells[n].error, (n, cells[n].error)
        assert cells[n].assertions == ()
    # the answers that could not be kept as they were are kept as they can be
    assert cells[40].output == "half an emoji: \ufffd"
    # NUL is text: graded as it is, stored as it is where the store can keep it
    nul = "\ufffd" if store_url.startswith("postgresql") else "\x00"
    assert (cells[60].status, cells[60].output) == ("pass", f"a NUL {nul} byte")
    # counts past what a store holds are unusable, like any junk count: dropped
    assert (cells[50].status, cells[50].prompt_tokens, cells[50].completion_tokens) == (
        "pass",
        None,
        None,
    )
    healthy = [c for n, c in cells.items() if n not in POISONED]
    assert all(c.status == "pass" for c in healthy)
    assert info.errors == len(POISONED)
    shown = run_cli("show", result.run_id, "--db", store_url)
    assert shown.exit_code == 1, shown.output  # errors, reported, not a traceback
    assert f"{CASES - len(POISONED)}/{CASES} passed" in shown.output


def test_a_suites_own_junk_is_stored_as_the_store_can_keep_it(
    store_url: str, write: Callable[[str, str], Path]
) -> None:
    """Lone surrogates (a JSON file can hold them) and NUL characters (PostgreSQL's text
    cannot) in vars, metadata, descriptions and the prompts they render into: kept with
    U+FFFD in their place (NUL only on PostgreSQL; JSON holds it escaped)."""
    write("prov.py", "def call_api(prompt, options, context):\n    return 'fine'\n")
    tests = [
        {"vars": {"t": "\ud83d"}, "metadata": {"m": "\x00 \udc00"}, "description": "a \x00"},
        {"vars": {"t": "\x00"}, "description": "b \ud83d"},
        {"vars": {"t": "ok"}},
    ]
    write("tests.json", json.dumps(tests))
    write(
        "suite.yaml",
        """
        prompts: ["say {{t}}"]
        providers: ["python:prov.py:call_api"]
        tests: file://tests.json
        """,
    )
    result = prompteur.evaluate("suite.yaml", store=store_url, keep_results=False)
    store = Store(store_url)
    try:
        info = store.run(result.run_id)
        cells = list(store.results(result.run_id))
    finally:
        store.close()
    assert (info.status, info.done, info.passed) == ("finished", 3, 3)
    assert cells[0].vars == {"t": "\ufffd"}
    assert cells[0].metadata["m"].endswith("\ufffd")
    assert cells[1].test_description == "b \ufffd"
    assert cells[0].prompt == "say \ufffd"
    assert "\ud83d" not in cells[0].prompt
    assert cells[1].prompt == ("say \ufffd" if store_url.startswith("postgresql") else "say \x00")
    assert cells[1].vars == {"t": "\x00"}  # JSON holds it


FORMATS = ["json", "jsonl", "csv", "xml", "md", "html"]


def test_a_check_returning_inf_leaves_a_run_every_report_reads(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write(
        "suite.yaml",
        """
        prompts: ["say {{n}}"]
        providers: [echo]
        tests:
          - vars: {n: 1}
            assert: [{type: python, value: "float('inf')"}]
          - vars: {n: 2}
            assert: [{type: python, value: "-float('inf')"}]
          - vars: {n: 3}
        """,
    )
    ran = run_cli("eval", "-c", "suite.yaml", "--no-progress")
    assert ran.exit_code == 1, ran.output
    assert "2 errors" in ran.output
    shown = run_cli("show")
    assert shown.exit_code == 1, shown.output
    for kind in FORMATS:
        written = run_cli("show", "-o", f"report.{kind}")
        assert written.exit_code == 1, (kind, written.output)
        assert Path(f"report.{kind}").stat().st_size > 0


def test_runs_stored_with_non_finite_scores_stay_readable(
    store_url: str, write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    """Earlier versions stored a check's infinite score as is, and null for it in the
    assertion's JSON: such runs show, and make every report."""
    write("prov.py", "def call_api(prompt, options, context):\n    return 'fine'\n")
    suite = {
        "prompts": ["say {{n}}"],
        "providers": ["python:prov.py:call_api"],
        "tests": [{"vars": {"n": n}, "assert": [{"type": "python", "value": "1"}]} for n in (1, 2)],
    }
    result = prompteur.evaluate(suite, store=store_url, keep_results=False)
    assertion = {
        "type": "python",
        "value": "float('inf')",
        "passed": True,
        "score": None,
        "reason": "python returned score inf",
        "weight": 1.0,
        "metric": None,
    }
    store = Store(store_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                update(tables.results)
                .where(tables.results.c.cell_key == "0:0:0:0")
                .values(score=math.inf, assertions=[assertion])
            )
    finally:
        store.close()
    shown = run_cli("show", result.run_id, "--db", store_url)
    assert shown.exit_code == 0, shown.output
    assert "2/2 passed" in shown.output
    for kind in FORMATS:
        written = run_cli("show", result.run_id, "--db", store_url, "-o", f"report.{kind}")
        assert written.exit_code == 0, (kind, written.output)
    saved = json.loads(Path("report.json").read_text())
    assert saved is not None


def test_a_data_files_lone_surrogates_reach_every_report_as_text(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    tests = [{"vars": {"t": "half \ud83d"}, "description": "case \udc00"}, {"vars": {"t": "ok"}}]
    write("tests.json", json.dumps(tests))
    write(
        "suite.yaml",
        """
        prompts: ["say {{t}}"]
        providers: [echo]
        tests: file://tests.json
        defaultTest: {assert: [{type: equals, value: nope}]}
        """,
    )
    outputs = [arg for kind in FORMATS for arg in ("-o", f"report.{kind}")]
    ran = run_cli("eval", "-c", "suite.yaml", "--no-progress", *outputs)
    assert ran.exit_code == 1, ran.output  # the cells failed: reported, no traceback
    assert "case \ufffd" in ran.output
    for kind in FORMATS:
        assert "half \ufffd" in Path(f"report.{kind}").read_text(encoding="utf-8"), kind


JUDGE = """
def call_api(prompt, options, context):
    # a verdict as a JSON text whose reason holds half an emoji, escaped or not
    return '{"pass": false, "score": 0, "reason": "wrong \\\\ud83d"}' + "\\ud83d"
"""


def test_a_judges_lone_surrogates_are_kept_as_u_fffd(
    store_url: str, write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("judge.py", JUDGE)
    write(
        "suite.yaml",
        """
        prompts: ["{{q}}"]
        providers: [echo]
        defaultTest: {options: {provider: file://judge.py}}
        tests: [{vars: {q: one}, assert: [{type: llm-rubric, value: says one}]}]
        """,
    )
    ran = run_cli("eval", "-c", "suite.yaml", "--no-progress", "--db", store_url, "-o", "r.md")
    assert ran.exit_code == 1, ran.output  # a failure, reported with its reason
    assert "wrong \ufffd" in ran.output
    store = Store(store_url)
    try:
        (cell,) = store.results(store.run("latest").id)
    finally:
        store.close()
    assert cell.status == "fail"
    assert cell.assertions[0].reason.endswith(": wrong \ufffd")
    assert "wrong \ufffd" in Path("r.md").read_text(encoding="utf-8")


class Odd(prompteur.BaseProvider):
    """A provider object answering each case with what its ``kind`` var names."""

    async def complete(self, request: prompteur.CompletionRequest) -> Any:
        kind = request.vars["kind"]
        if kind == "text":
            return "a plain string"
        if kind == "number":
            return prompteur.Completion(42)  # type: ignore[arg-type]
        return prompteur.Completion(
            "fine",
            prompteur.Usage(2**63, -1),
            finish_reason=7,  # type: ignore[arg-type]
            cost=math.nan,
            model="m \ud800",
        )


def test_a_provider_objects_odd_answers_are_checked_as_they_enter() -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["{{kind}}"],
            "tests": [{"vars": {"kind": k}} for k in ("text", "number", "odd")],
        },
        providers=[Odd("odd")],
    )
    text, number, odd = result.results
    assert (text.status, text.error) == ("error", "malformed answer: the provider returned str")
    assert (number.status, number.error) == (
        "error",
        "malformed answer: its output is int, not text",
    )
    assert odd.status == "pass"
    assert (odd.prompt_tokens, odd.completion_tokens, odd.cost) == (None, None, None)
    assert (odd.finish_reason, odd.model) == (None, "m \ufffd")
