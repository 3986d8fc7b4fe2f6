"""A promptfoo config, with its prompt files, CSV tests and python provider, runs unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.assertions._registry import REGISTERED_TYPES
from prompteur.config import parse_compact_assertion

CONFIG = """
# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json
description: Translate greetings
prompts:
  - file://prompts.txt
providers:
  - id: file://provider.py
    label: dictionary
    config:
      style: formal
defaultTest:
  vars:
    punctuation: "!"
  assert:
    - type: python
      value: len(output) < 80
evaluateOptions:
  maxConcurrency: 2
tests: file://tests.csv
"""

PROMPTS = """Translate "{{input}}" into {{language}}{{punctuation}}
---
Say "{{input}}" in {{language}}.
"""

# promptfoo's python provider contract: call_api(prompt, options, context) -> {output, tokenUsage}
PROVIDER = """
WORDS = {("hello", "French"): "Bonjour", ("hello", "German"): "Hallo",
         ("thank you", "French"): "Merci", ("goodbye", "German"): "Auf Wiedersehen"}

def call_api(prompt, options, context):
    vars = context["vars"]
    word = WORDS.get((vars["input"], vars["language"]), "???")
    if options["config"]["style"] == "formal" and "into" in prompt:
        word = word + ", madame"
    return {"output": word, "tokenUsage": {"prompt": len(prompt.split()), "completion": 2}}
"""

TESTS_CSV = """language,input,__expected1,__expected2,__description
French,hello,icontains:bonjour,not-contains:Hallo,greets in French
German,hello,contains-any:Hallo,"Hallo",exact German greeting
French,thank you,regex:^Merci,"python:output.startswith('Merci')",thanks
German,goodbye,starts-with:Auf,levenshtein(3):Auf Wiedersehen,farewell
"""


@pytest.fixture
def promptfoo_project(write: Callable[[str, str], Path]) -> Path:
    write("prompts.txt", PROMPTS)
    write("provider.py", PROVIDER)
    write("tests.csv", TESTS_CSV)
    return write("promptfooconfig.yaml", CONFIG)


def test_promptfoo_config_with_csv_tests_runs_unchanged(
    run_cli: Callable[..., Result], promptfoo_project: Path, tmp_path: Path
) -> None:
    result = run_cli("eval", "-c", "promptfooconfig.yaml", "--no-progress", "-o", "out.json")
    document = json.loads((tmp_path / "out.json").read_text())
    results = {(r["prompt"], r["description"]): r for r in document["results"]}
    assert len(results) == 8  # 2 prompts from one file × 4 CSV rows × 1 provider

    formal = results[("prompts.txt:1", "greets in French")]
    assert formal["output"] == "Bonjour, madame"
    assert formal["rendered_prompt"] == 'Translate "hello" into French!'
    assert [a["type"] for a in formal["assertions"]] == ["python", "icontains", "not-contains"]
    assert formal["status"] == "pass"
    assert formal["tokens"] == {"prompt": 4, "completion": 2, "total": 6}

    # 'Hallo' in a CSV cell with no known type prefix means equals: the formal variant fails it
    german = results[("prompts.txt:1", "exact German greeting")]
    assert german["status"] == "fail"
    assert german["assertions"][2] == {
        "type": "equals",
        "value": "Hallo",
        "pass": False,
        "score": 0.0,
        "weight": 1.0,
        "metric": None,
        "reason": "output is not equal to 'Hallo'",
    }
    assert results[("prompts.txt:2", "exact German greeting")]["status"] == "pass"

    # levenshtein(3) with ", madame" appended is too far, plain output is exact
    assert results[("prompts.txt:1", "farewell")]["status"] == "fail"
    assert results[("prompts.txt:2", "farewell")]["status"] == "pass"
    assert document["summary"]["passed"] == 6
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contains:foo", {"type": "contains", "value": "foo"}),
        ("not-icontains:Bar baz", {"type": "not-icontains", "value": "Bar baz"}),
        ("regex:^\\d+$", {"type": "regex", "value": "^\\d+$"}),
        ("python: len(output) > 3", {"type": "python", "value": "len(output) > 3"}),
        ("levenshtein(3):Paris", {"type": "levenshtein", "value": "Paris", "threshold": 3.0}),
        ("contains-any:a, b,c", {"type": "contains-any", "value": "a, b,c"}),
        ("is-json", {"type": "is-json"}),
        ("starts-with:Dear", {"type": "starts-with", "value": "Dear"}),
        (
            "Just some text: with a colon",
            {"type": "equals", "value": "Just some text: with a colon"},
        ),
        ("unknown-type:x", {"type": "equals", "value": "unknown-type:x"}),
        ("note: bring an umbrella", {"type": "equals", "value": "note: bring an umbrella"}),
        ("https://example.com/a", {"type": "equals", "value": "https://example.com/a"}),
        ("equals:contians:x", {"type": "equals", "value": "contians:x"}),
    ],
)
def test_compact_assertion_strings(text: str, expected: dict[str, object]) -> None:
    assert parse_compact_assertion(text, REGISTERED_TYPES) == expected


def test_compact_assertion_typo_raises() -> None:
    with pytest.raises(prompteur.SuiteError, match=r"did you mean 'contains'"):
        parse_compact_assertion("contians:pear", REGISTERED_TYPES)


def test_csv_control_columns(write: Callable[[str, str], Path]) -> None:
    write(
        "t.csv",
        "q,__expected,__threshold,__metric,__metadata:topic,__description\n"
        "hi,contains:hi,0.5,greeting,small talk,say hi\n",
    )
    plan = prompteur.plan_suite(
        {"prompts": ["{{q}}"], "providers": ["echo"], "tests": "file://t.csv"}
    )
    (test,) = plan.tests
    assert test.vars == {"q": "hi"}
    assert test.threshold == 0.5
    assert test.metadata == {"topic": "small talk"}
    assert test.description == "say hi"
    assert [(a.type, a.metric) for a in test.assertions] == [("contains", "greeting")]


def test_tests_from_jsonl_json_and_yaml_files(write: Callable[[str, str], Path]) -> None:
    write(
        "a.jsonl",
        '{"vars": {"x": "1"}}\n{"vars": {"x": "2"}, "assert": [{"type": "equals", "value": "2"}]}\n',
    )
    write("b.json", '[{"vars": {"x": "3"}}]')
    write("c.yaml", "- vars: {x: '4'}\n")
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{x}}"],
            "providers": ["echo"],
            "tests": ["file://a.jsonl", "file://b.json", "file://c.yaml", {"vars": {"x": "5"}}],
        }
    )
    assert [t.vars["x"] for t in plan.tests] == ["1", "2", "3", "4", "5"]


def test_default_test_merges_and_array_vars_expand() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{greeting}} {{name}}"],
            "providers": ["echo"],
            "defaultTest": {
                "vars": {"greeting": "Hi"},
                "assert": [{"type": "contains", "value": "Hi"}],
                "threshold": 0.5,
                "metadata": {"suite": "x"},
            },
            "tests": [
                {
                    "vars": {"name": ["Ada", "Bo"], "greeting": ["Hi", "Yo"]},
                    "assert": [{"type": "contains", "value": "{{name}}"}],
                    "metadata": {"case": 1},
                }
            ],
        }
    )
    assert [(t.vars["greeting"], t.vars["name"]) for t in plan.tests] == [
        ("Hi", "Ada"),
        ("Hi", "Bo"),
        ("Yo", "Ada"),
        ("Yo", "Bo"),
    ]
    first = plan.tests[0]
    assert [a.type for a in first.assertions] == ["contains", "contains"]
    # assertion values are rendered with the test's variables
    assert {t.assertions[1].value for t in plan.tests} == {"Ada", "Bo"}
    assert first.threshold == 0.5
    assert first.metadata == {"suite": "x", "case": 1}


def test_var_values_from_files(write: Callable[[str, str], Path]) -> None:
    write("doc.txt", "The long document.")
    write("data.json", '{"k": [1, 2]}')
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{doc}} {{data.k[1]}}"],
            "providers": ["echo"],
            "tests": [{"vars": {"doc": "file://doc.txt", "data": "file://data.json"}}],
        }
    )
    assert plan.prompts[0].render(plan.tests[0].vars)[0].content == "The long document. 2"


def test_provider_map_form_and_evaluate_options(write: Callable[[str, str], Path]) -> None:
    suite = prompteur.Suite.model_validate(
        {
            "prompts": "hi",
            "providers": [{"echo": {"label": "E"}}],
            "evaluateOptions": {"maxConcurrency": 3, "repeat": 2, "delay": 0, "timeoutMs": 5000},
        }
    )
    assert suite.providers[0].id == "echo" and suite.providers[0].label == "E"
    plan = prompteur.plan_suite(suite)
    assert plan.total_cells == 2
    options = prompteur.EvalOptions().resolve(suite)
    assert (options.max_concurrency, options.timeout) == (3, 5.0)
    assert prompteur.EvalOptions(max_concurrency=9).resolve(suite).max_concurrency == 9


MERGE_CONFIG = """
metadata:
  common: &common
    description: from common
    assert:
      - type: icontains
        value: "{{city}}"
    metadata: {suite: capitals}
  france: &france
    description: from france
    vars: &france_vars
      country: France
      city: Paris
prompts: ["The capital of {{country}} is {{city}}."]
providers: [echo]
tests:
  - <<: *common
    description: plain merge
    vars: *france_vars
  - <<: [*france, *common]
    metadata: {suite: local}
  - <<: *common
    vars:
      <<: *france_vars
      city: Lyon
"""


def test_yaml_merge_keys(write: Callable[[str, str], Path]) -> None:
    write("promptfooconfig.yaml", MERGE_CONFIG)
    plan = prompteur.plan_suite("promptfooconfig.yaml")
    tests = plan.tests
    # local keys win; in a list of mappings, the first that has a key gives it
    assert [t.description for t in tests] == ["plain merge", "from france", "from common"]
    assert [t.vars for t in tests] == [
        {"country": "France", "city": "Paris"},
        {"country": "France", "city": "Paris"},
        {"country": "France", "city": "Lyon"},
    ]
    assert [t.metadata for t in tests] == [
        {"suite": "capitals"},
        {"suite": "local"},
        {"suite": "capitals"},
    ]
    assert all([a.type for a in t.assertions] == ["icontains"] for t in tests)
    result = prompteur.evaluate(plan)
    assert result.summary.passed == 3


def test_yaml_merge_key_errors_keep_their_positions(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    # a typo inside an anchor is reported where the anchor writes it
    write(
        "suite.yaml",
        "tags:\n"
        "  common: &common\n"
        "    asert: [{type: contains, value: x}]\n"
        "prompts: [hi]\n"
        "providers: [echo]\n"
        "tests:\n"
        "  - <<: *common\n"
        "    vars: {a: 1}\n",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: suite.yaml:3:5: unknown key 'asert' (did you mean 'assert'?)"
    ), result.stderr
    write("suite.yaml", "prompts: [hi]\nproviders: [echo]\ntests:\n  - <<: [1]\n")
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: suite.yaml:4:10: a merge key '<<' takes a mapping"), (
        result.stderr
    )


def test_disable_var_expansion_keeps_lists() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{ items | join(', ') }} / {{ n }}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {"items": ["a", "b"], "n": [1, 2]},
                    "options": {"disableVarExpansion": True},
                },
                {"vars": {"items": ["c", "d"], "n": 3}},
            ],
        }
    )
    assert [t.vars for t in plan.tests] == [
        {"items": ["a", "b"], "n": [1, 2]},
        {"items": "c", "n": 3},
        {"items": "d", "n": 3},
    ]
    # written as nunjucks writes an array: its items joined by commas
    assert plan.prompts[0].render(plan.tests[0].vars)[0].content == "a, b / 1,2"


def test_disable_var_expansion_from_default_test() -> None:
    suite = {
        "prompts": ["{{ items | length }}"],
        "providers": ["echo"],
        "defaultTest": {"options": {"disableVarExpansion": True}},
        "tests": [
            {"vars": {"items": ["a", "b", "c"]}},
            # a test's own false overrides the default
            {"vars": {"items": ["x", "y"]}, "options": {"disableVarExpansion": False}},
        ],
    }
    result = prompteur.evaluate(suite)
    assert sorted((c.test_index, c.output) for c in result.results) == [
        (0, "3"),
        (1, "1"),
        (2, "1"),
    ]


def test_a_top_level_key_neither_tool_reads_is_ignored_with_a_warning(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['say {{word}}']
        providers: [echo]
        outputs:
          - type: csv
        tests:
          - vars: {word: hi}
            assert: [{type: contains, value: hi}]
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (
        "warning: promptfooconfig.yaml:3:1: key 'outputs' is not part of prompteur's or "
        "promptfoo's config and is ignored, as promptfoo ignores it (did you mean "
        "'outputPath'?)"
    ) in caplog.messages


def test_a_key_that_looks_like_a_typo_of_ours_is_refused_not_ignored(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    # dropped, the misspelled assertions would let a failing test pass
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['say {{word}}']
        providers: [echo]
        tests:
          - vars: {word: hi}
            assertions: [{type: contains, value: bye}]
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "'assertions'" in result.stderr and "did you mean 'assert'" in result.stderr


def test_a_promptfoo_key_prompteur_does_not_read_is_still_refused(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['say {{word}}']
        providers: [echo]
        nunjucksFilters: {loud: loud.js}
        tests: [{vars: {word: hi}}]
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "unknown key 'nunjucksFilters'" in result.stderr


def test_refs_into_the_config_are_dereferenced(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['say {{word}}']
        providers: [echo]
        tests:
          - vars: {word: ahoy}
            assert:
              - $ref: '#/assertionTemplates/pirate'
              - $ref: '#/assertionTemplates/pirate'
                value: say
          - vars: {word: '{"n": 1}'}
            assert:
              - type: contains-json
                value:
                  $defs: {count: {type: integer}}
                  type: object
                  properties: {n: {$ref: '#/$defs/count'}}
        assertionTemplates:
          pirate:
            type: icontains
            value: AHOY
        """,
    )
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code == 0, result.output
    cells = json.loads((tmp_path / "out.json").read_text())["results"]
    first = next(c for c in cells if c["vars"]["word"] == "ahoy")
    checks = [(a["type"], a["value"], a["pass"]) for a in first["assertions"]]
    assert checks == [("icontains", "AHOY", True), ("icontains", "say", True)]


def test_a_one_line_transform_body_in_a_yaml_block_returns(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # a YAML block keeps its newline, which makes promptfoo read the code as a function body
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['{{greeting}}']
        providers: [echo]
        tests:
          - vars: {name: Ada}
            options:
              transformVars: |
                return { ...vars, greeting: `hello ${vars.name}` }
            assert: [{type: equals, value: hello Ada}]
        """,
    )
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code == 0, result.output


def test_test_option_and_assertion_keys_neither_tool_reads_are_ignored_with_a_warning(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['say {{word}}']
        providers: [echo]
        defaultTest:
          options:
            includeMetrics: true
        tests:
          - vars: {word: hi}
            assert:
              - type: contains
                value: hi
                reason: 'Should say hi'
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 0, result.output
    warned = [m for m in caplog.messages if "ignored, as promptfoo ignores it" in m]
    assert [m.split(": key ")[1].split(" ")[0] for m in warned] == [
        "'reason'",
        "'includeMetrics'",
    ]
    # a typo of a key prompteur reads is still an error, not a warning
    write(
        "promptfooconfig.yaml",
        "prompts: [hi]\nproviders: [echo]\ntests:\n  - vars: {}\n    assert:\n"
        "      - {type: contains, value: hi, wieght: 2}\n",
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "unknown key 'wieght' (did you mean 'weight'?)" in result.stderr


def test_scenarios_run_their_tests_under_each_config_item(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['{{greeting}}, {{name}}']
        providers: [echo]
        defaultTest:
          vars: {name: Ada}
        tests:
          - vars: {greeting: Hi}
        scenarios:
          - config:
              - vars: {greeting: Hello}
                assert: [{type: starts-with, value: Hello}]
              - vars: {greeting: Bonjour}
                assert: [{type: starts-with, value: Bonjour}]
            tests:
              - description: plain
              - description: named
                vars: {name: Grace}
                assert: [{type: contians, value: Grace}]
        """,
    )
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code == 2  # the typo is found where it is written
    assert "promptfooconfig.yaml:17:25: unknown assertion type 'contians'" in result.stderr
    config = (tmp_path / "promptfooconfig.yaml").read_text().replace("contians", "contains")
    (tmp_path / "promptfooconfig.yaml").write_text(config)
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code == 0, result.output
    cells = json.loads((tmp_path / "out.json").read_text())["results"]
    got = [(c["description"], c["output"], [a["type"] for a in c["assertions"]]) for c in cells]
    assert sorted(got, key=str) == sorted(
        [
            (None, "Hi, Ada", []),
            ("plain", "Hello, Ada", ["starts-with"]),
            ("named", "Hello, Grace", ["starts-with", "contains"]),
            ("plain", "Bonjour, Ada", ["starts-with"]),
            ("named", "Bonjour, Grace", ["starts-with", "contains"]),
        ],
        key=str,
    )


def test_vars_given_as_files_are_read_and_merged(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("vars/a_topic.yaml", "topic: tea\nmood: calm\n")
    write("vars/b_mood.yaml", "mood: cheerful\n")
    write(
        "tests/more.yaml",
        """
        - vars: ../vars/*.yaml
          assert: [{type: equals, value: 'tea cheerful'}]
        """,
    )
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['{{topic}} {{mood}}']
        providers: [echo]
        tests:
          - vars: [vars/a_topic.yaml]
            assert: [{type: equals, value: 'tea calm'}]
          - file://tests/more.yaml
        """,
    )
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code == 0, result.output
    cells = json.loads((tmp_path / "out.json").read_text())["results"]
    assert sorted(c["output"] for c in cells) == ["tea calm", "tea cheerful"]
    write(
        "promptfooconfig.yaml", "prompts: [x]\nproviders: [echo]\ntests:\n  - vars: nope/*.yaml\n"
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "promptfooconfig.yaml:4:11: no vars file matches nope/*.yaml" in result.stderr


def test_assert_scoring_function_decides_the_test_from_named_scores(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write(
        "score.py",
        """
        def only_tone(named_scores, context):
            tone = named_scores.get("tone", 0)
            return {"pass": tone >= context.get("threshold", 0.5), "score": tone,
                    "reason": f"tone {tone}"}
        """,
    )
    write(
        "score.js",
        """
        module.exports = (namedScores, context) => ({
          pass: Object.keys(namedScores).length === 2,
          score: namedScores.tone + namedScores.length,
          reason: `sum of ${context.componentResults.length}`,
        });
        """,
    )
    write(
        "promptfooconfig.yaml",
        """
        prompts: ['Arr, {{word}}']
        providers: [echo]
        defaultTest:
          assertScoringFunction: file://score.js
          assert:
            - {type: contains, value: Arr, metric: tone}
            - {type: contains, value: matey, metric: length}
        tests:
          - description: own function
            vars: {word: ahoy}
            assertScoringFunction: file://score.py:only_tone
          - description: default function
            vars: {word: ahoy}
          - description: broken
            vars: {word: ahoy}
            assertScoringFunction: file://score.py:missing
        """,
    )
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    assert result.exit_code == 2
    assert "promptfooconfig.yaml:16:28: assertScoringFunction: score.py has no function" in (
        result.stderr
    )
    config = (tmp_path / "promptfooconfig.yaml").read_text()
    (tmp_path / "promptfooconfig.yaml").write_text(config.split("  - description: broken")[0])
    result = run_cli("eval", "--no-progress", "-o", "out.json")
    cells = {
        c["description"]: c for c in json.loads((tmp_path / "out.json").read_text())["results"]
    }
    own, default = cells["own function"], cells["default function"]
    # 'matey' is missing: the assertions alone would fail both
    assert (own["pass"], own["score"]) == (True, 1.0)
    assert own["assertions"][-1]["reason"] == "tone 1.0"
    assert (default["pass"], default["score"]) == (True, 1.0)
    assert default["assertions"][-1]["reason"] == "sum of 2"
