"""promptfoo features its example configs use: JSON prompt files written as templates,
undefined variables rendered empty, derived metrics, and max-score."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import SuiteError
from prompteur.prompts._template import Message

CHAT_TEMPLATE = """
[
  {"role": "system", "content": {{ system | dump }}},
  {% for turn in history.turns %}
    {"role": "{{ turn.role }}", "content": {{ turn.content | dump }}},
  {% endfor %}
  {"role": "user", "content": {{ question | dump }}}
]
"""


def test_a_json_prompt_file_written_as_a_template_renders_to_messages(
    write: Callable[[str, str], Path],
) -> None:
    write("chat.json", CHAT_TEMPLATE)
    history = [
        {"role": "user", "content": 'say "hi"'},
        {"role": "assistant", "content": "hi"},
    ]
    plan = prompteur.plan_suite(
        {
            "prompts": ["file://chat.json"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {
                        "system": "Be brief.",
                        "history": {"turns": history},  # a list would make one test each
                        "question": "Why?",
                    }
                }
            ],
        }
    )
    (prompt,) = plan.prompts
    assert prompt.chat
    assert plan.rendered[(0, 0)] == (
        Message("system", "Be brief."),
        Message("user", 'say "hi"'),
        Message("assistant", "hi"),
        Message("user", "Why?"),
    )


def test_a_json_template_that_renders_to_something_else_is_refused(
    write: Callable[[str, str], Path],
) -> None:
    write("chat.json", '[{"role": "user", "content": {{ question }}}]')
    with pytest.raises(prompteur.TemplateError, match="renders to invalid JSON"):
        prompteur.plan_suite(
            {
                "prompts": ["file://chat.json"],
                "providers": ["echo"],
                "tests": [{"vars": {"question": "not quoted"}}],
            }
        )


def test_a_content_part_of_another_shape_goes_to_the_provider_as_written(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "prompt.json",
        '[{"role": "user", "content": [{"modality": "text", "value": "{{question}}"}]}]',
    )
    write(
        "promptfooconfig.yaml",
        "prompts: [file://prompt.json]\nproviders: [echo]\ntests: [{vars: {question: Why?}}]\n",
    )
    plan = prompteur.plan_suite("promptfooconfig.yaml")
    assert plan.rendered[(0, 0)] == (Message("user", ({"modality": "text", "value": "Why?"},)),)
    write("prompt.json", '[{"role": "user", "content": ["a bare string"]}]')
    with pytest.raises(SuiteError, match=r"content part \(1\) that is not a mapping"):
        prompteur.plan_suite("promptfooconfig.yaml")


PROMPTFOO_UNDEFINED = """
prompts: ['Translate {{text}} to {{language}}', 'A haiku about {{topic}}']
providers: [echo]
tests:
  - vars: {text: hello, language: French}
    assert: [{type: contains, value: 'hello{{suffix}}'}]
  - vars: {topic: rain}
"""


def test_in_a_promptfoo_config_an_undefined_variable_renders_empty_with_a_warning(
    write: Callable[[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    write("promptfooconfig.yaml", PROMPTFOO_UNDEFINED)
    with caplog.at_level("WARNING", logger="prompteur.suite"):
        plan = prompteur.plan_suite("promptfooconfig.yaml")
    assert plan.rendered[(1, 0)] == (Message("user", "A haiku about "),)
    assert plan.rendered[(0, 1)] == (Message("user", "Translate  to "),)
    warnings = [r.getMessage() for r in caplog.records]
    assert sorted(w.split("'")[1] for w in warnings) == ["language", "suffix", "text", "topic"]
    assert all("renders as empty text" in w for w in warnings)


def test_in_a_suite_of_its_own_an_undefined_variable_is_still_an_error(
    write: Callable[[str, str], Path],
) -> None:
    write("suite.yaml", PROMPTFOO_UNDEFINED)
    with pytest.raises(SuiteError, match="'suffix' is undefined"):
        prompteur.plan_suite("suite.yaml")


DERIVED = """
prompts: ['{{answer}}']
providers: [echo]
defaultTest:
  assert:
    - {type: equals, value: 'yes', metric: tp, weight: 0}
    - {type: equals, value: 'no', metric: fp, weight: 0}
derivedMetrics:
  - {name: precision, value: tp / (tp + fp)}
  - {name: double, value: precision * 2 ^ 2}
  - {name: nothing, value: missing + 1}
tests:
  - vars: {answer: 'yes'}
  - vars: {answer: 'yes'}
  - vars: {answer: 'yes'}
  - vars: {answer: 'no'}
"""


def test_derived_metrics_are_computed_per_prompt_over_the_named_metrics_totals(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    write("promptfooconfig.yaml", DERIVED)
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code in (0, 1), result.output
    (group,) = json.loads((tmp_path / "out.json").read_text())["summary"]["groups"]
    metrics = group["metrics"]
    assert metrics["tp"] == 0.75 and metrics["fp"] == 0.25  # the named metrics' means
    assert metrics["precision"] == 0.75  # 3 / (3 + 1), over their totals
    assert metrics["double"] == 3.0  # a derived metric may use those before it
    assert "nothing" not in metrics  # names a metric with no value


def test_a_derived_metric_that_is_no_arithmetic_is_refused_where_it_is_written(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("promptfooconfig.yaml", DERIVED.replace("tp / (tp + fp)", "__import__('os')"))
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: promptfooconfig.yaml:8:30: the expression")
    assert "calls a function it cannot" in result.stderr
    assert len(result.stderr.splitlines()) == 1


MAX_SCORE = """
prompts: ['{{a}}', '{{a}} {{b}}', '{{b}}']
providers: [echo]
tests:
  - vars: {a: alpha, b: beta}
    assert:
      - {type: contains, value: alpha}
      - {type: contains, value: beta}
      - type: max-score
        value: {weights: {contains: 2}}
  - vars: {a: alpha, b: beta}
    assert:
      - {type: icontains, value: gamma}
      - {type: max-score, value: {threshold: 0.5}}
"""


def test_max_score_passes_the_output_whose_other_assertions_score_highest(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    write("promptfooconfig.yaml", MAX_SCORE)
    run_cli("eval", "--no-progress", "-o", "out.json")
    results = json.loads((tmp_path / "out.json").read_text())["results"]

    def verdicts(test: int) -> list[bool]:
        cells = sorted((c for c in results if c["test"] == test), key=lambda c: c["key"])
        return [c["assertions"][-1]["pass"] for c in cells]

    # 'alpha beta' has both words; the other two have one each
    assert verdicts(0) == [False, True, False]
    # every output scores 0, below the threshold: none passes
    assert verdicts(1) == [False, False, False]


def test_a_for_with_two_names_walks_an_objects_entries_as_in_nunjucks(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "chat.json",
        """
        [
          {% for turn in history.turns %}{% for role, content in turn %}
            {"role": "{{ role }}", "content": {{ content | dump }}},
          {% endfor %}{% endfor %}
          {"role": "user", "content": "{{ question }}"}
        ]
        """,
    )
    history = {"turns": [{"user": "hi"}, {"assistant": "hello"}]}
    plan = prompteur.plan_suite(
        {
            "prompts": [
                "file://chat.json",
                "{% for a, b in pairs %}{{ a }}={{ b }};{% endfor %}",
            ],
            "providers": ["echo"],
            "tests": [{"vars": {"history": history, "question": "and?", "pairs": {"x": 1}}}],
        }
    )
    assert plan.rendered[(0, 0)] == (
        Message("user", "hi"),
        Message("assistant", "hello"),
        Message("user", "and?"),
    )
    assert plan.rendered[(1, 0)] == (Message("user", "x=1;"),)


def test_promptfoos_conversation_variable_starts_empty_and_runs_serially(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['{% for c in _conversation %}{{ c.output }}{% endfor %} {{ question }}']
        providers: [echo]
        tests: [{vars: {question: why}}, {vars: {question: how}}]
        """,
    )
    plan = prompteur.plan_suite("promptfooconfig.yaml")
    assert plan.stores_outputs  # later turns need the earlier ones
    result = prompteur.evaluate(plan)
    prompts = [c.prompt for c in sorted(result.results, key=lambda c: c.test_index)]
    assert prompts == [" why", " why how"]  # echo answers with the prompt


def test_promptfoos_load_filter_reads_json() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["Tone: {{ (style | load).tone }}"],
            "providers": ["echo"],
            "tests": [{"vars": {"style": '{"tone": "dry"}'}}],
        }
    )
    assert plan.rendered[(0, 0)] == (Message("user", "Tone: dry"),)


def test_only_lists_of_text_expand_into_several_tests() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{ word }} {{ history | length }} {{ numbers | length }}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {
                        "word": ["a", "b"],
                        "history": [{"user": "hi"}, {"assistant": "hello"}],
                        "numbers": [1, 2, 3],
                    }
                }
            ],
        }
    )
    assert [plan.rendered[(0, t.index)][0].content for t in plan.tests] == ["a 2 3", "b 2 3"]


def test_a_prompt_with_an_id_and_raw_text_is_the_text_named_by_the_id() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": [{"id": "Survey", "raw": "Agree? {{q}}"}],
            "providers": ["echo"],
            "tests": [{"vars": {"q": "yes"}}],
        }
    )
    assert plan.prompts[0].label == "Survey"
    assert plan.rendered[(0, 0)] == (Message("user", "Agree? yes"),)
