"""Where a promptfoo config used to run differently here, or to be refused wrongly: vars,
prompts, graders, CSV thresholds, rubric prompts, g-eval criteria and test generators."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import prompteur
from prompteur.core._errors import SuiteError

Write = Callable[[str, str], Path]


def _prompts(write: Write, suite: str) -> list[str]:
    result = prompteur.evaluate(write("suite.yaml", suite))
    return [cell.prompt for cell in result.results]


def test_a_block_var_loses_one_trailing_newline(write: Write) -> None:
    prompts = _prompts(
        write,
        """
        prompts: ['{"text": "{{text}}"}']
        providers: [echo]
        tests:
          - vars:
              text: |
                two lines
                here
        """,
    )
    assert prompts == ['{"text": "two lines\nhere"}']


def test_a_var_that_names_other_vars_is_filled_in(write: Write) -> None:
    prompts = _prompts(
        write,
        """
        prompts: ["Write {{sentence}}"]
        providers: [echo]
        tests:
          - vars:
              sentence: 'a tweet about {{topic}} for {{ audience }}'
              topic: bananas
              audience: '{{who}} people'
              who: hungry
        """,
    )
    assert prompts == ["Write a tweet about bananas for hungry people"]


def test_a_python_var_file_is_asked_for_its_get_var(write: Write) -> None:
    write(
        "load_context.py",
        """
        def get_var(var_name, prompt, other_vars):
            return {"output": f"  facts on {other_vars['question']} for {var_name}\\n"}
        """,
    )
    prompts = _prompts(
        write,
        """
        prompts: ["{{context}} | {{question}}"]
        providers: [echo]
        tests:
          - vars: {question: tides, context: file://load_context.py}
        """,
    )
    assert prompts == ["facts on tides for context | tides"]


def test_a_get_var_error_is_one_located_line(write: Write) -> None:
    write(
        "bad.py", "def get_var(var_name, prompt, other_vars):\n    return {'error': 'no index'}\n"
    )
    with pytest.raises(SuiteError, match=r"bad\.py: get_var says: no index") as caught:
        _prompts(
            write, "prompts: ['{{c}}']\nproviders: [echo]\ntests:\n  - vars: {c: file://bad.py}\n"
        )
    assert caught.value.location is not None and caught.value.location.line == 4


def test_a_get_var_past_its_time_limit_is_one_located_line(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prompteur.config import _var_files

    monkeypatch.setattr(_var_files, "GET_VAR_SECONDS", 0.2)
    write("slow.py", "def get_var(var_name, prompt, other_vars):\n    while True:\n        pass\n")
    with pytest.raises(SuiteError, match=r"slow\.py: .*time limit") as caught:
        _prompts(
            write, "prompts: ['{{c}}']\nproviders: [echo]\ntests:\n  - vars: {c: file://slow.py}\n"
        )
    assert caught.value.location is not None and caught.value.location.line == 4


@pytest.mark.parametrize("scheme", ["portkey://", "langfuse://"])
def test_remote_prompt_references_are_refused(write: Write, scheme: str) -> None:
    with pytest.raises(SuiteError, match=f"{scheme} prompt references are not supported"):
        _prompts(write, f"prompts: ['{scheme}my-prompt']\nproviders: [echo]\n")


def test_a_prompt_object_whose_id_is_its_text(write: Write) -> None:
    result = prompteur.evaluate(
        write(
            "suite.yaml",
            """
            prompts:
              - id: 'You are a pirate. Tell me about {{topic}}'
                label: pirate
            providers: [echo]
            tests: [{vars: {topic: ships}}]
            """,
        )
    )
    (cell,) = result.results
    assert (cell.prompt_id, cell.prompt) == ("pirate", "You are a pirate. Tell me about ships")


def test_default_test_var_files_are_the_suites_and_globs_make_cases(write: Write) -> None:
    write("shared/system.txt", "Be brief.\n")
    write("articles/a.txt", "Alpha story\n")
    write("articles/b.txt", "Beta story\n")
    write("cases/tests.yaml", "- vars: {article: file://../articles/*.txt}\n")
    prompts = _prompts(
        write,
        """
        prompts: ["{{system}} {{article}}"]
        providers: [echo]
        defaultTest:
          vars: {system: file://shared/system.txt}
        tests: file://cases/tests.yaml
        """,
    )
    assert prompts == ["Be brief. Alpha story", "Be brief. Beta story"]


@pytest.mark.parametrize(
    "grader",
    [
        "{id: echo, embedding: {id: 'openai:embedding:text-embedding-3-small'}}",
        "{config: {temperature: 0.5}}",
        "{embedding: {id: 'openai:embedding:text-embedding-3-small'}}",
    ],
)
def test_grader_settings_promptfoo_accepts(write: Write, grader: str) -> None:
    plan = prompteur.plan_suite(
        write(
            "suite.yaml",
            f"""
            prompts: [hi]
            providers: [echo]
            defaultTest:
              options:
                provider: {grader}
            tests:
              - assert: [{{type: llm-rubric, value: is polite}}]
            """,
        ),
        grader="echo",
    )
    assert [judge.label for judge in plan.judges.judges] == ["echo"]


def test_a_bad_grader_is_one_line(write: Write) -> None:
    with pytest.raises(SuiteError) as caught:
        prompteur.plan_suite(
            write(
                "suite.yaml",
                """
                prompts: [hi]
                providers: [echo]
                tests:
                  - assert: [{type: llm-rubric, value: polite, provider: {id: echo, colour: red}}]
                """,
            )
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith("invalid grader provider: colour: Extra inputs are not permitted")


def test_a_csv_threshold_for_expected_sets_the_first_assertion(write: Write) -> None:
    write(
        "tests.csv",
        "q,__expected1,__expected2,__config:__expected:threshold,__config:__expected2:threshold\n"
        "hi,similar:hi,similar:hello,0.9,0.8\n",
    )
    plan = prompteur.plan_suite(
        {"prompts": ["{{q}}"], "providers": ["echo"], "tests": "file://tests.csv"}
    )
    (test,) = plan.tests
    assert [a.threshold for a in test.assertions] == [0.9, 0.8]


def test_llm_rubric_criteria_may_sit_in_the_rubric_prompt(write: Write) -> None:
    plan = prompteur.plan_suite(
        write(
            "suite.yaml",
            """
            prompts: [hi]
            providers: [echo]
            defaultTest:
              options:
                rubricPrompt: 'Grade {{output}}: it must be short. Answer {"pass": true}'
            tests:
              - assert: [{type: llm-rubric}]
            """,
        ),
        grader="echo",
    )
    (test,) = plan.tests
    assert [a.type for a in test.assertions] == ["llm-rubric"]


# a judge in Python (promptfoo's call_api): steps when asked, then 5/5 on coherence, 3/5 else
JUDGE = """
import json
def call_api(prompt, options, context):
    if "evaluation steps for judging" in prompt:
        return {"output": json.dumps({"steps": ["read it", "score it", "say why"]})}
    score = 5 if "<criteria>\\nCoherence" in prompt else 3
    return {"output": json.dumps({"reason": "as asked", "score": score})}
"""


@pytest.mark.parametrize(("threshold", "passed"), [(0.75, True), (0.8, False)])
def test_g_eval_scores_each_criterion_and_takes_the_mean(
    write: Write, threshold: float, passed: bool
) -> None:
    write("judge.py", JUDGE)
    result = prompteur.evaluate(
        write(
            "suite.yaml",
            f"""
            prompts: [hi]
            providers: [echo]
            defaultTest: {{options: {{provider: file://judge.py}}}}
            tests:
              - assert:
                  - type: g-eval
                    value: [Coherence - well built, Fluency - good grammar]
                    threshold: {threshold}
            """,
        )
    )
    (cell,) = result.results
    (verdict,) = cell.assertions
    assert cell.error is None
    assert (verdict.score, verdict.passed) == (0.75, passed)  # the mean of 1.0 and 0.5
    assert "5/5: as asked; 3/5: as asked" in verdict.reason


def test_g_eval_criteria_must_be_text() -> None:
    with pytest.raises(SuiteError, match="needs criteria: a string, a list of strings"):
        prompteur.plan_suite(
            {
                "prompts": ["hi"],
                "providers": ["echo"],
                "tests": [{"assert": [{"type": "g-eval", "value": [1, 2]}]}],
            },
            grader="echo",
        )


def test_python_and_javascript_test_generators(write: Write) -> None:
    write(
        "gen.py",
        """
        def generate_tests(config=None):
            words = (config or {}).get("words", ["one"])
            return [{"vars": {"w": w}, "assert": [{"type": "contains", "value": w}]} for w in words]
        """,
    )
    write(
        "gen.js",
        "export function cases(config) { return [{vars: {w: 'js-' + config}}]; }\n"
        "module.exports.fixed = [{vars: {w: 'listed'}}];\n",
    )
    plan = prompteur.plan_suite(
        write(
            "suite.yaml",
            """
            prompts: ["{{w}}"]
            providers: [echo]
            tests:
              - file://gen.py
              - path: file://gen.py:generate_tests
                config: {words: [two, three]}
              - file://gen.js:fixed
              - {vars: {w: inline}}
            """,
        )
    )
    assert [t.vars["w"] for t in plan.tests] == ["one", "two", "three", "listed", "inline"]


def test_a_generator_that_returns_no_list_is_one_line(write: Write) -> None:
    write("gen.py", "def generate_tests():\n    return 'oops'\n")
    with pytest.raises(SuiteError, match="must return a list of test cases, not str"):
        prompteur.plan_suite(
            write("suite.yaml", "prompts: [hi]\nproviders: [echo]\ntests: file://gen.py\n")
        )
