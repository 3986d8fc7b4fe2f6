"""How planning names cases and prompts: every case has its own key, so comparisons pair
them one to one; two references to one registered version stay apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.store import PromptRegistry, PromptSource, Store

ANSWER = """
import os

def call_api(prompt, options, context):
    return os.environ.get("ANSWER", "pear")
"""

# Three cases ask the same thing with other checks: same vars, no description.
SUITE = """
prompts: ["Q {{q}}"]
providers: [file://model.py]
tests:
  - vars: {q: fruit}
    assert: [{type: contains, value: pear}]
  - vars: {q: fruit}
    assert: [{type: contains, value: pea}]
  - vars: {q: fruit}
    assert: [{type: contains, value: apple}]
"""


def test_cases_with_the_same_vars_have_distinct_keys() -> None:
    plan = prompteur.plan_suite(
        {"prompts": ["{{q}}"], "providers": ["echo"], "tests": [{"vars": {"q": "a"}}] * 3}
    )
    keys = [test.key for test in plan.tests]
    assert len(set(keys)) == 3
    # the first of them keeps the key it always had: stored runs still pair with new ones
    single = prompteur.plan_suite(
        {"prompts": ["{{q}}"], "providers": ["echo"], "tests": [{"vars": {"q": "a"}}]}
    )
    assert keys[0] == single.tests[0].key


def test_compare_counts_every_case_once(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write("model.py", ANSWER)
    write("suite.yaml", SUITE)
    monkeypatch.setenv("ANSWER", "pear")
    first = run_cli("eval", "suite.yaml", "--no-progress", "--no-cache")
    assert "2/3 passed" in first.stdout
    monkeypatch.setenv("ANSWER", "pear apple")
    second = run_cli("eval", "suite.yaml", "--no-progress", "--no-cache")
    assert "3/3 passed" in second.stdout
    older, newer = (run.id for run in reversed(Store().runs(limit=2)))
    compared = run_cli("compare", older, newer)
    assert "shared cases: 3" in compared.stdout, compared.stdout
    assert "A 66.7% → B 100.0%" in compared.stdout
    assert "newly passing 1" in compared.stdout


def test_two_references_to_one_version_are_told_apart(hermetic: Path) -> None:
    store = Store()
    registry = PromptRegistry(store)
    registry.add("answer", PromptSource("Answer: {{q}}"), labels=["production"])
    registry.add("answer", PromptSource("Answer briefly: {{q}}"))
    suite = {
        "prompts": ["prompt://answer", "prompt://answer@production"],
        "providers": ["echo"],
        "tests": [{"vars": {"q": "tea"}}],
    }
    before = prompteur.plan_suite(suite, store=store)
    assert [p.id for p in before.prompts] == ["answer@v2", "answer@v1"]
    # promoting the latest version makes both references point at it: the suite still runs
    registry.tag("answer@v2", "production")
    after = prompteur.plan_suite(suite, store=store)
    assert [p.id for p in after.prompts] == ["answer", "answer@production"]
    assert [p.registry for p in after.prompts] == [("answer", 2), ("answer", 2)]
    result = prompteur.evaluate(suite, store=store)
    assert [r.output for r in result.results] == ["Answer briefly: tea"] * 2
