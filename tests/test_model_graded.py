"""Model-graded assertions: judges that are real providers (a scripted Python judge for
exact verdicts, the embedded model, and a real llama.cpp server), their verdict parsing,
retries, errors, caching and grader usage, and select-best grading a case's outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur
from prompteur.store import Store

# A judge whose verdicts are scripted by markers in the output it grades. The task runs on
# the echo provider, so the output is the rendered prompt: the case's `answer` variable.
JUDGE = r"""
import json, re

def call_api(prompt, options, context):
    with open("judge.log", "a") as log:
        log.write(json.dumps(prompt) + "\n")
    usage = {"prompt": 10, "completion": 5}
    if "write evaluation steps" in prompt.lower():
        return {"output": json.dumps({"steps": ["Read the reply", "Check the criteria"]}),
                "tokenUsage": usage}
    outputs = re.findall(r"<output (\d+)>\n(.*?)\n</output \d+>", prompt, re.S)
    if outputs:
        best = next(int(n) for n, text in outputs if "BEST" in text)
        return {"output": json.dumps({"reason": "most complete", "best": best}),
                "tokenUsage": usage}
    graded = re.search(r"<(?:output|reply|submission|answer)>\n(.*?)\n</", prompt, re.S)
    text = graded.group(1) if graded else ""
    retried = "could not be read" in prompt
    if "MALFORMED-ONCE" in text and not retried:
        return {"output": "I think it passes.", "tokenUsage": usage}
    if "MALFORMED" in text and "MALFORMED-ONCE" not in text:
        return {"output": "no verdict here", "tokenUsage": usage}
    if "FAILCALL" in text:
        return {"error": "judge is down"}
    score = re.search(r"SCORE=(\d)", text)
    category = re.search(r"CAT=([A-E])", text)
    verdict = {"reason": "scripted"}
    if score:
        verdict["score"] = int(score.group(1))
    elif category:
        verdict["category"] = category.group(1)
    elif "refusal" in prompt.lower() and '"refusal"' in prompt:
        verdict["refusal"] = "deflect" in text
    else:
        good = "GOOD" in text
        verdict.update({"pass": good, "score": 0.9 if good else 0.2})
    answer = json.dumps(verdict)
    if "FENCED" in text:
        answer = "Here is my verdict:\n```json\n" + answer + "\n```"
    return {"output": answer, "tokenUsage": usage}
"""


def judge_calls(folder: Path) -> list[str]:
    log = folder / "judge.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def suite(answers: list[str], assertions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "prompts": ["{{answer}}"],
        "providers": ["echo"],
        "defaultTest": {"options": {"provider": "file://judge.py"}, "assert": assertions},
        "tests": [{"vars": {"answer": a}} for a in answers],
        **extra,
    }


@pytest.fixture
def judge(hermetic: Path, write: Callable[[str, str], Path]) -> Path:
    write("judge.py", JUDGE)
    return hermetic


def run(data: dict[str, Any], **kwargs: Any) -> prompteur.EvalResult:
    """Evaluate, with the results in plan order (they are collected as cells finish)."""
    result = prompteur.evaluate(data, **kwargs)
    result.results.sort(key=lambda r: (r.test_index, r.prompt_index, r.provider_index))
    return result


def test_llm_rubric_verdicts_scores_and_negation(judge: Path) -> None:
    result = run(
        suite(
            ["GOOD answer", "BAD answer", "FENCED GOOD"],
            [{"type": "llm-rubric", "value": "The answer is good."}],
        )
    )
    statuses = [r.status for r in result.results]
    assert statuses == ["pass", "fail", "pass"]
    first = result.results[0].assertions[0]
    assert first.score == pytest.approx(0.9)
    assert "scripted" in first.reason
    # the rubric and the output both reach the judge
    calls = judge_calls(judge)
    assert any("The answer is good." in c and "<output>\nGOOD answer\n" in c for c in calls)

    negated = run(
        suite(["BAD answer"], [{"type": "not-llm-rubric", "value": "The answer is good."}])
    )
    assert negated.results[0].status == "pass"


def test_rubric_threshold_uses_the_score(judge: Path) -> None:
    result = run(suite(["GOOD"], [{"type": "llm-rubric", "value": "good", "threshold": 0.95}]))
    assert result.results[0].status == "fail"  # the judge said pass, but 0.9 < 0.95


def test_with_a_threshold_the_judges_pass_and_the_score_both_count(
    judge: Path, write: Callable[[str, str], Path]
) -> None:
    write(
        "mixed.py",
        """
        def call_api(prompt, options, context):
            return '{"reason": "says fail, scores high", "pass": false, "score": 0.9}'
        """,
    )
    data = suite(
        ["GOOD"],
        [{"type": "llm-rubric", "value": "good", "threshold": 0.5, "provider": "file://mixed.py"}],
    )
    assert run(data).results[0].status == "fail"  # as promptfoo: pass && score >= threshold


def test_g_eval_passes_from_0_7_by_default(judge: Path) -> None:
    # promptfoo's default threshold: 3/5 (0.5) fails, 4/5 (0.75) passes
    result = run(suite(["SCORE=3", "SCORE=4"], [{"type": "g-eval", "value": "coherent"}]))
    assert [r.status for r in result.results] == ["fail", "pass"]
    lenient = suite(["SCORE=3"], [{"type": "g-eval", "value": "coherent", "threshold": 0.5}])
    assert run(lenient).results[0].status == "pass"


def test_malformed_verdict_is_asked_again_then_is_a_grading_error(judge: Path) -> None:
    result = run(
        suite(
            ["GOOD MALFORMED-ONCE", "MALFORMED"],
            [{"type": "llm-rubric", "value": "good"}, {"type": "contains", "value": "x"}],
        )
    )
    retried, broken = result.results
    assert retried.error is None and retried.assertions[0].passed
    assert retried.grader_prompt_tokens == 20  # two judge calls
    assert broken.status == "error"
    assert broken.error is not None
    assert "malformed verdict twice" in broken.error and "no verdict here" in broken.error
    assert broken.output == "MALFORMED"  # the output is kept
    assert result.summary.errors == 1


def test_a_failing_judge_call_is_a_cell_error(judge: Path) -> None:
    data = suite(["FAILCALL"], [{"type": "llm-rubric", "value": "good"}])
    result = run(data, options=prompteur.EvalOptions(max_retries=0))
    assert result.results[0].status == "error"
    assert "judge is down" in (result.results[0].error or "")


def test_grader_usage_is_kept_apart_and_calls_are_cached(
    judge: Path, tmp_path: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "prompteur.yaml",
        """
        prompts: ["{{answer}}"]
        providers: [echo]
        defaultTest:
          options: {provider: file://judge.py}
        tests:
          - vars: {answer: GOOD one}
            assert: [{type: llm-rubric, value: good}]
          - vars: {answer: BAD one}
            assert: [{type: llm-rubric, value: good}]
        """,
    )
    first = run_cli("eval", "--no-progress", "-o", "out.json")
    assert first.exit_code == 1, first.output
    assert "grader tokens" in first.output
    rows = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [r["grading"]["prompt_tokens"] for r in rows] == [10, 10]
    assert [r["grading"]["completion_tokens"] for r in rows] == [5, 5]
    assert len(judge_calls(tmp_path)) == 2

    second = run_cli("eval", "--no-progress")
    assert second.exit_code == 1
    assert len(judge_calls(tmp_path)) == 2  # every verdict came from the cache
    store = Store()
    latest = store.runs(limit=1)[0]
    graded = list(store.results(latest.id))
    assert [r.status for r in graded] == ["pass", "fail"]
    assert graded[0].grader_prompt_tokens == 0, "a verdict from the cache costs nothing again"

    run_cli("eval", "--no-progress", "--no-cache")
    assert len(judge_calls(tmp_path)) == 4


def test_g_eval_writes_steps_once_and_normalises_the_scale(judge: Path) -> None:
    result = run(
        suite(
            ["SCORE=4", "SCORE=2", "SCORE=5"],
            [{"type": "g-eval", "value": "The reply is coherent."}],
        )
    )
    scores = [r.assertions[0].score for r in result.results]
    assert scores == pytest.approx([0.75, 0.25, 1.0])
    assert [r.status for r in result.results] == ["pass", "fail", "pass"]
    assert "4/5" in result.results[0].assertions[0].reason
    calls = judge_calls(judge)
    step_calls = [c for c in calls if "write evaluation steps" in c.lower()]
    assert len(step_calls) == 1  # written once, reused for every case
    assert all("Check the criteria" in c for c in calls if c not in step_calls)

    given = run(
        suite(
            ["SCORE=3"],
            [{"type": "g-eval", "value": {"criteria": "c", "steps": ["Only step"]}}],
        )
    )
    assert given.results[0].assertions[0].score == pytest.approx(0.5)


def test_factuality_categories(judge: Path) -> None:
    result = run(
        suite(
            ["CAT=A", "CAT=D", "CAT=E"],
            [{"type": "factuality", "value": "Paris is the capital of France."}],
        )
    )
    assert [r.status for r in result.results] == ["pass", "fail", "pass"]
    assert "disagree" in result.results[1].assertions[0].reason
    strict = suite(["CAT=E"], [{"type": "factuality", "value": "Paris."}])
    strict["defaultTest"]["options"]["factuality"] = {"differButFactual": 0}
    assert run(strict).results[0].status == "fail"
    assert "Paris is the capital" in judge_calls(judge)[0]


def test_closedqa_and_answer_relevance(judge: Path) -> None:
    closedqa = run(
        suite(["GOOD", "BAD"], [{"type": "model-graded-closedqa", "value": "is polite"}])
    )
    assert [r.status for r in closedqa.results] == ["pass", "fail"]
    relevance = run(suite(["SCORE=5", "SCORE=1"], [{"type": "answer-relevance"}]))
    assert [r.status for r in relevance.results] == ["pass", "fail"]
    assert relevance.results[1].assertions[0].score == 0.0


def test_select_best_picks_one_winner_per_case(judge: Path, run_cli: Callable[..., Result]) -> None:
    data = {
        "prompts": ["plain {{topic}}", "BEST {{topic}}", "also plain {{topic}}"],
        "providers": ["echo"],
        "defaultTest": {
            "options": {"provider": "file://judge.py"},
            "assert": [
                {"type": "select-best", "value": "the most complete"},
                {"type": "contains", "value": "{{topic}}"},
            ],
        },
        "tests": [{"vars": {"topic": t}} for t in ("tea", "coffee", "cocoa")],
    }
    # one worker: cells of a case are never run at once, and grading must not deadlock
    result = run(data, options=prompteur.EvalOptions(max_concurrency=1))
    assert len(result.results) == 9
    by_prompt: dict[str, list[str]] = {}
    for cell in result.results:
        by_prompt.setdefault(cell.prompt_id, []).append(cell.status)
        assert [a.type for a in cell.assertions] == ["select-best", "contains"]
    assert by_prompt["BEST {{topic}}"] == ["pass"] * 3
    assert by_prompt["plain {{topic}}"] == ["fail"] * 3
    loser = next(r for r in result.results if r.prompt_id == "plain {{topic}}")
    # the winner is named by its prompt and provider labels, as the reports name them,
    # not by its place among the outputs
    assert "prompt 'BEST {{topic}}' on echo was chosen among 3" in loser.assertions[0].reason
    # one judge call per case, its usage shared among the case's cells
    assert len([c for c in judge_calls(judge) if "<output 0>" in c]) == 3
    assert sum(r.grader_prompt_tokens or 0 for r in result.results) == 30
    assert result.summary.done == 9


def test_select_best_with_an_errored_cell(judge: Path, write: Callable[[str, str], Path]) -> None:
    write(
        "flaky.py",
        """
        def call_api(prompt, options, context):
            if "broken" in prompt:
                return {"error": "no answer"}
            return {"output": prompt}
        """,
    )
    data = {
        "prompts": ["broken {{x}}", "BEST {{x}}", "plain {{x}}"],
        "providers": ["file://flaky.py"],
        "defaultTest": {
            "options": {"provider": "file://judge.py"},
            "assert": [{"type": "select-best", "value": "best"}],
        },
        "tests": [{"vars": {"x": 1}}],
    }
    result = run(data, options=prompteur.EvalOptions(max_retries=0))
    statuses = {r.prompt_id: r.status for r in result.results}
    assert statuses == {"broken {{x}}": "error", "BEST {{x}}": "pass", "plain {{x}}": "fail"}


def test_assertion_provider_overrides_the_test_option(
    judge: Path, write: Callable[[str, str], Path]
) -> None:
    write(
        "strict.py",
        """
        def call_api(prompt, options, context):
            return {"output": '{"reason": "strict judge", "pass": false, "score": 0}'}
        """,
    )
    data = suite(["GOOD"], [{"type": "llm-rubric", "value": "good"}])
    data["defaultTest"]["assert"].append(
        {"type": "llm-rubric", "value": "good", "provider": "file://strict.py"}
    )
    cell = run(data).results[0]
    lenient, strict = cell.assertions
    assert lenient.passed and "scripted" in lenient.reason
    assert not strict.passed and "strict judge" in strict.reason


def test_bad_grader_settings_fail_before_any_call(
    judge: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "prompteur.yaml",
        """
        prompts: ["{{answer}}"]
        providers: [echo]
        tests:
          - vars: {answer: GOOD}
            assert:
              - type: llm-rubric
                value: good
                provider: opneai:chat:gpt-4o
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "prompteur.yaml:6" in result.output
    assert "openai" in result.output  # the suggestion
    write(
        "prompteur.yaml",
        """
        prompts: ["{{answer}}"]
        tests:
          - vars: {answer: GOOD}
            assert:
              - type: llm-rubric
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "llm-rubric: needs a rubric" in result.output
    assert judge_calls(judge) == []


@pytest.mark.slow
def test_the_embedded_model_grades_by_default(hermetic: Path) -> None:
    """No provider named anywhere: the embedded model judges, held to JSON by a grammar,
    so its verdicts always parse."""
    result = prompteur.evaluate(
        {
            "prompts": ["{{answer}}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {"answer": a},
                    "assert": [
                        {"type": "llm-rubric", "value": "The answer names a colour."},
                        {"type": "g-eval", "value": "The answer is polite."},
                        {"type": "factuality", "value": "The sky is blue."},
                    ],
                }
                for a in ("The sky is blue.", "Thank you kindly, the answer is red.")
            ],
        }
    )
    for cell in result.results:
        assert cell.error is None, cell.error
        assert len(cell.assertions) == 3
        assert all(a.reason.startswith("local: ") for a in cell.assertions)
        assert cell.grader_prompt_tokens and cell.grader_prompt_tokens > 100
        assert cell.grader_cost == 0.0


@pytest.mark.slow
def test_an_openai_compatible_judge(hermetic: Path, llama_server: str) -> None:
    """A real llama.cpp server as the judge, in JSON mode."""
    grader = {"id": "openai:chat:smollm2", "config": {"apiBaseUrl": llama_server, "apiKey": "x"}}
    result = prompteur.evaluate(
        {
            "prompts": ["{{answer}}"],
            "providers": ["echo"],
            "defaultTest": {"options": {"provider": grader}},
            "tests": [
                {
                    "vars": {"answer": "Paris is the capital of France."},
                    "assert": [
                        {"type": "model-graded-closedqa", "value": "names a city"},
                        {"type": "llm-rubric", "value": "mentions France"},
                    ],
                }
            ],
        }
    )
    cell = result.results[0]
    assert cell.error is None, cell.error  # a real verdict, read from JSON mode's answer
    assert cell.status in ("pass", "fail")
    assert len(cell.assertions) == 2
    assert all(a.reason.startswith("openai:chat:smollm2: ") for a in cell.assertions)
    assert cell.grader_prompt_tokens and cell.grader_prompt_tokens > 50


@pytest.mark.parametrize("kind", ["llm-rubric", "g-eval", "answer-relevance", "factuality"])
def test_score_thresholds_lie_between_0_and_1(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], kind: str
) -> None:
    write(
        "suite.yaml",
        f"""
        prompts: ["{{{{answer}}}}"]
        providers: [echo]
        tests:
          - vars: {{answer: hi}}
            assert: [{{type: {kind}, value: says hi, threshold: 4}}]
        """,
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: suite.yaml:5:")
    assert "the threshold is a score from 0 to 1 (4/5 is 0.75), not 4" in result.stderr


def test_a_rubric_prompt_file_is_read_without_its_byte_order_mark(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("judge.py", JUDGE)
    (tmp_path / "rubric.txt").write_bytes(b"\xef\xbb\xbfGrade <output>\n{{output}}\n</output>")
    (tmp_path / "latin.txt").write_bytes(b"Grade \xe9 {{output}}")
    for name, code in (("rubric.txt", 0), ("latin.txt", 2)):
        write(
            "suite.yaml",
            f"""
            prompts: ["{{{{answer}}}}"]
            providers: [echo]
            defaultTest:
              options: {{provider: file://judge.py, rubricPrompt: file://{name}}}
            tests:
              - vars: {{answer: GOOD}}
                assert: [{{type: llm-rubric, value: good}}]
            """,
        )
        result = run_cli("eval", "suite.yaml", "--no-progress", "--no-cache")
        assert result.exit_code == code, result.output
    assert judge_calls(tmp_path)[0] == "user: Grade <output>\nGOOD\n</output>"
    assert "latin.txt is not a UTF-8 text file" in result.stderr
