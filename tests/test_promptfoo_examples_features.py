"""promptfoo features its example configs use: the run's grader in place of defaultTest's,
is-sql, storeOutputAs, prompts sharing a label, extension hooks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import prompteur

RUBRIC = {"type": "llm-rubric", "value": "is polite"}


def test_the_runs_grader_takes_the_place_of_the_default_tests_grader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    suite = {
        "prompts": ["{{q}}"],
        "providers": ["echo"],
        "defaultTest": {
            "assert": [RUBRIC],
            "options": {"provider": {"text": "openai:chat:gpt-4o-mini"}},
        },
        "tests": [
            {"vars": {"q": "a"}},
            {"vars": {"q": "b"}, "options": {"provider": "openai:chat:own-grader"}},
        ],
    }
    plan = prompteur.plan_suite(suite, grader="echo")
    assert plan.judges is not None
    assert sorted(j.label for j in plan.judges.judges) == ["echo", "openai:chat:own-grader"]
    plan = prompteur.plan_suite(suite)  # without a grader, defaultTest's judges
    assert plan.judges is not None
    labels = sorted(j.label for j in plan.judges.judges)
    assert labels == ["openai:chat:gpt-4o-mini", "openai:chat:own-grader"]


def test_options_providers_is_ignored_with_a_warning_as_promptfoo_ignores_it(
    write: Callable[[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['{{q}}']\n"
        "providers: [echo]\n"
        "defaultTest:\n"
        "  options:\n"
        "    providers: {text: 'openai:chat:gpt-4o-mini'}\n"
        "tests:\n"
        "  - vars: {q: a}\n",
    )
    loaded = prompteur.load_suite(suite)
    assert loaded.default_test is not None
    assert "'providers' is not part of" in caplog.text
    assert "did you mean 'provider'" in caplog.text
