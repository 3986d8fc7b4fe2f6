"""options.rubricPrompt (promptfoo's): the suite's own judge prompt, as chat messages, JSON
text or plain text, rendered with {{output}}, {{rubric}}, the grader's own variables and
the test's vars. A scripted judge records every prompt it gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur

JUDGE = r"""
import json

def call_api(prompt, options, context):
    with open("judge.log", "a") as log:
        log.write(json.dumps(context["messages"]) + "\n")
    if "FACT-PROSE" in prompt:
        return "The submission contradicts the expert answer, so: (D)"
    if "CLOSEDQA-PROSE" in prompt:
        return "The submission names a city.\nY"
    if "PICK" in prompt:
        return "Output 1 is the best."
    return json.dumps({"reason": "custom prompt", "pass": True, "score": 0.8})
"""


@pytest.fixture
def judge(hermetic: Path, write: Callable[[str, str], Path]) -> Path:
    write("judge.py", JUDGE)
    return hermetic


def prompts_seen(folder: Path) -> list[list[dict[str, str]]]:
    log = folder / "judge.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def evaluate(rubric_prompt: Any, assertions: list[dict[str, Any]], **more: Any) -> Any:
    result = prompteur.evaluate(
        {
            "prompts": ["{{answer}}"],
            "providers": ["echo"],
            "defaultTest": {
                "options": {"provider": "file://judge.py", "rubricPrompt": rubric_prompt},
                "assert": assertions,
            },
            "tests": [{"vars": {"answer": "Paris.", "topic": "geography"}}],
            **more,
        },
        cache=False,
    )
    return result.results[0]


def test_llm_rubric_with_chat_messages(judge: Path) -> None:
    cell = evaluate(
        [
            {"role": "system", "content": "Grade answers about {{topic}} in JSON."},
            {"role": "user", "content": "Output: {{output}}\nRubric: {{ rubric }}"},
        ],
        [{"type": "llm-rubric", "value": "names a city"}],
    )
    assert cell.status == "pass", cell.error
    assert cell.assertions[0].score == pytest.approx(0.8)
    assert "custom prompt" in cell.assertions[0].reason
    assert prompts_seen(judge) == [
        [
            {"role": "system", "content": "Grade answers about geography in JSON."},
            {"role": "user", "content": "Output: Paris.\nRubric: names a city"},
        ]
    ]


def test_json_text_with_comment_lines_as_promptfoo_suites_write_it(judge: Path) -> None:
    text = """[
      {
        "role": "system",
        // German: "Answer in German."
        "content": "Antworte auf Deutsch."
      },
      {"role": "user", "content": "Ausgabe: {{ output }}\\nKriterium: {{ rubric }}"}
    ]"""
    cell = evaluate(text, [{"type": "llm-rubric", "value": "nennt eine Stadt"}])
    assert cell.status == "pass", cell.error
    [messages] = prompts_seen(judge)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"] == "Ausgabe: Paris.\nKriterium: nennt eine Stadt"


def test_plain_text_and_a_file(judge: Path, write: Callable[[str, str], Path]) -> None:
    evaluate(
        "Does {{output}} satisfy {{rubric}}? JSON please.", [{"type": "llm-rubric", "value": "x"}]
    )
    write("grading.txt", "From a file: {{output}}")
    evaluate("file://grading.txt", [{"type": "llm-rubric", "value": "x"}])
    assert prompts_seen(judge) == [
        [{"role": "user", "content": "Does Paris. satisfy x? JSON please."}],
        [{"role": "user", "content": "From a file: Paris."}],
    ]


def test_factuality_and_closedqa_get_promptfoos_variables(judge: Path) -> None:
    fact = evaluate(
        "FACT-PROSE question={{input}} ideal={{ideal}} completion={{completion}}",
        [{"type": "factuality", "value": "Paris is the capital of France."}],
        tests=[{"vars": {"answer": "Lyon.", "question": "Capital of France?"}}],
    )
    assert fact.status == "fail", fact.error  # (D) in prose: a suite's own prompt may ask so
    assert "(D) disagree" in fact.assertions[0].reason
    closedqa = evaluate(
        "CLOSEDQA-PROSE task={{input}} criteria={{criteria}} answer={{completion}}",
        [{"type": "model-graded-closedqa", "value": "names a city"}],
    )
    assert closedqa.status == "pass", closedqa.error
    seen = [m[0]["content"] for m in prompts_seen(judge)]
    assert seen == [
        "FACT-PROSE question=Capital of France? ideal=Paris is the capital of France. "
        "completion=Lyon.",
        "CLOSEDQA-PROSE task=Paris. criteria=names a city answer=Paris.",
    ]


def test_select_best_gets_the_outputs_and_the_criteria(judge: Path) -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["short {{x}}", "long {{x}}"],
            "providers": ["echo"],
            "defaultTest": {
                "options": {
                    "provider": "file://judge.py",
                    "rubricPrompt": "PICK from {{ outputs | join(' | ') }} by {{ criteria }}",
                },
                "assert": [{"type": "select-best", "value": "the longest"}],
            },
            "tests": [{"vars": {"x": "tea"}}],
        },
        cache=False,
    )
    statuses = {r.prompt_id: r.status for r in result.results}
    assert statuses == {"short {{x}}": "fail", "long {{x}}": "pass"}
    assert prompts_seen(judge) == [
        [{"role": "user", "content": "PICK from short tea | long tea by the longest"}]
    ]


def test_g_eval_keeps_its_own_prompts(judge: Path) -> None:
    # promptfoo reads only a {steps, evaluate} mapping for g-eval; text is left to the others
    evaluate("unused {{output}}", [{"type": "g-eval", "value": {"criteria": "c", "steps": ["s"]}}])
    seen = prompts_seen(judge)
    assert seen and all("evaluate a reply against criteria" in m[0]["content"] for m in seen)


def test_a_variable_the_test_lacks_is_a_cell_error(judge: Path) -> None:
    cell = evaluate("{{ output }} {{ missing }}", [{"type": "llm-rubric", "value": "x"}])
    assert cell.status == "error"
    assert "options.rubricPrompt does not render" in (cell.error or "")
    assert "missing" in (cell.error or "")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[{role: judge, content: hi}]", "message 1 needs a role"),
        ("'{{ output'", "not a valid template"),
        ("file://nowhere.txt", "cannot read"),
    ],
)
def test_bad_rubric_prompts_fail_at_planning(
    judge: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    value: str,
    message: str,
) -> None:
    write(
        "prompteur.yaml",
        f"""
        prompts: ["{{{{answer}}}}"]
        providers: [echo]
        defaultTest:
          options:
            provider: file://judge.py
            rubricPrompt: {value}
        tests:
          - vars: {{answer: Paris}}
            assert: [{{type: llm-rubric, value: names a city}}]
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert message in lines[0] and lines[0].startswith("error: ")
    assert prompts_seen(judge) == []


def test_an_assertions_own_rubric_prompt_is_used_over_the_tests(judge: Path) -> None:
    evaluate(
        "TEST-LEVEL {{output}}",
        [
            {"type": "llm-rubric", "value": "is a city", "rubricPrompt": "OWN {{output}}"},
            {"type": "llm-rubric", "value": "is a city"},
        ],
    )
    seen = sorted(messages[-1]["content"] for messages in prompts_seen(judge))
    assert seen == ["OWN Paris.", "TEST-LEVEL Paris."]
