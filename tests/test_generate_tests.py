"""``prompteur generate tests``: new cases from a model, without duplicates of old ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

import prompteur
from prompteur.config import load_suite
from prompteur.eval._generate_tests import generate_tests, normalised

Write = Callable[[str, str], Path]

SUITE = """
prompts: ["Translate '{{text}}' into {{language}}"]
providers: [echo]
tests:
  - vars: {text: Good morning, language: French}
  - vars: {text: Where is the station?, language: German}
"""

# A python provider (promptfoo's call_api) that writes cases as a model would, repeats and all
WRITER = """
import itertools, json
N = itertools.count()
ANSWERS = [
    {"text": "Good morning", "language": "French"},
    {"text": "good  MORNING!", "language": "french"},
    {"text": "Where is the station, please?", "language": "German"},
    "I cannot think of one",
    {"text": "Two coffees, please", "language": "Italian"},
    {"text": "two coffees please", "language": "Italian"},
    {"text": "The museum opens at nine", "language": "Spanish"},
]
def call_api(prompt, options, context):
    answer = ANSWERS[next(N) % len(ANSWERS)]
    return {"output": answer if isinstance(answer, str) else "Here: " + json.dumps(answer)}
"""


def test_normalised_text_ignores_case_spacing_and_punctuation() -> None:
    assert normalised({"a": "Good  MORNING!", "b": "x"}) == normalised(
        {"b": "x", "a": "good morning"}
    )


def test_new_cases_are_kept_and_repeats_dropped(
    write: Write, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    write("suite.yaml", SUITE)
    write("writer.py", WRITER)
    result = run_cli(
        "generate", "tests", "suite.yaml", "-n", "2", "-p", "file://writer.py", "-o", "more.yaml"
    )
    assert result.exit_code == 0, result.output
    cases = yaml.safe_load((tmp_path / "more.yaml").read_text())
    assert cases == [
        {"vars": {"text": "Two coffees, please", "language": "Italian"}},
        {"vars": {"text": "The museum opens at nine", "language": "Spanish"}},
    ]
    assert (
        "2 new cases from 7 calls; dropped 5 (duplicates 3, near copies 1, malformed 1)"
        in result.stderr
    )
    # the written file is a tests file the suite can take as it is
    plan = prompteur.plan_suite(
        {"prompts": ["{{text}} {{language}}"], "providers": ["echo"], "tests": "file://more.yaml"}
    )
    assert len(plan.tests) == 2


def test_a_suite_without_variables_is_one_line(
    write: Write, run_cli: Callable[..., Result]
) -> None:
    write("suite.yaml", "prompts: [Hello]\nproviders: [echo]\n")
    result = run_cli("generate", "tests", "suite.yaml", "-p", "echo")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "error: the suite's prompts use no variables: there is nothing to generate"
    )


@pytest.mark.slow
def test_the_embedded_model_writes_cases_offline(write: Write) -> None:
    suite = load_suite(write("suite.yaml", SUITE))
    made = asyncio.run(generate_tests(suite, 2))
    assert made.calls >= 1
    existing = {
        normalised({"text": "Good morning", "language": "French"}),
        normalised({"text": "Where is the station?", "language": "German"}),
    }
    assert made.cases, "the model made no new case"
    for case in made.cases:
        assert set(case) == {"text", "language"}
        assert normalised(case) not in existing
