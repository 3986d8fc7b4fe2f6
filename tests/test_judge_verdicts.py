"""Reading judges' verdicts: what small judges really write (raw newlines inside strings,
Python literals, trailing commas, prose and fences, 1 for true) is read; what cannot be
read with confidence (a score off its scale) is malformed, asked again, then an error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prompteur
from prompteur.assertions._judge_parse import parse_json_object
from prompteur.assertions._model_graded import read_rubric_verdict, read_scale


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"reason": "line one\nline two", "pass": true}',
            {"reason": "line one\nline two", "pass": True},
        ),
        ('{"reason": "a\ttab", "score": 1}', {"reason": "a\ttab", "score": 1}),
        ("{'pass': True, 'score': 0.5}", {"pass": True, "score": 0.5}),
        ("{'pass': False, 'reason': None}", {"pass": False, "reason": None}),
        ('{"pass": true, "score": 1,}', {"pass": True, "score": 1}),
        ('{"steps": ["a", "b",],}', {"steps": ["a", "b"]}),
        ('{pass: true, score: 0.8, reason: "ok"}', {"pass": True, "score": 0.8, "reason": "ok"}),
        ("{'pass': true}", {"pass": True}),
        ('Here is my verdict:\n```json\n{"pass": false}\n```\nThanks!', {"pass": False}),
        ('```\n{"pass": true}\n```', {"pass": True}),
        ('Sure. {"pass": true} done', {"pass": True}),
        ('{"a": {"b": 1}}', {"a": {"b": 1}}),
        ('{bad} then {"ok": 1}', {"ok": 1}),
        (
            '{"reason": "uses {braces} and \\"quotes\\"", "pass": true}',
            {"reason": 'uses {braces} and "quotes"', "pass": True},
        ),
        (
            'The verdict: {"reason": "it\'s fine",\n "pass": true,\n}',
            {"reason": "it's fine", "pass": True},
        ),
    ],
)
def test_objects_are_read_leniently(text: str, expected: dict[str, Any]) -> None:
    assert parse_json_object(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        "no verdict here",
        "{1, 2}",
        "{'pass': __import__('os').getcwd()}",  # literals only: nothing is evaluated
        '{"pass": true',  # cut off
    ],
)
def test_what_holds_no_object(text: str) -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json_object(text)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"pass": True, "score": 0.9}, (True, 0.9)),
        ({"pass": 1}, (True, None)),
        ({"pass": 0, "score": 0}, (False, 0.0)),
        ({"pass": "yes"}, (True, None)),
        ({"pass": "No"}, (False, None)),
        ({"pass": "true"}, (True, None)),
        ({"pass": "FALSE"}, (False, None)),
        ({"Pass": True, "Score": "1"}, (True, 1.0)),
        ({"score": 0.7}, (None, 0.7)),
        ({"score": "85%"}, (None, 0.85)),
        ({"passed": "pass", "rating": 1.0}, (True, 1.0)),
    ],
)
def test_rubric_verdicts(data: dict[str, Any], expected: tuple[bool | None, float | None]) -> None:
    passed, score, _ = read_rubric_verdict(data)
    assert (passed, score) == expected


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"pass": True, "score": 7}, "between 0 and 1"),  # 7 of what? not obvious
        ({"score": 7}, "between 0 and 1"),
        ({"score": -0.1}, "between 0 and 1"),
        ({"score": "7/10"}, "not a number"),
        ({"pass": 2}, "not a boolean"),
        ({"pass": "maybe"}, "not a boolean"),
        ({"score": "high"}, "not a number"),
        ({"score": True}, "not a number"),
        ({"reason": "only a reason"}, "neither"),
    ],
)
def test_malformed_rubric_verdicts(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        read_rubric_verdict(data)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [(1, 0.0), (4, 0.75), (5.0, 1.0), ("3", 0.5), ("4/5", 0.75), (" 2 ", 0.25)],
)
def test_g_eval_scores(raw: Any, normalised: float) -> None:
    assert read_scale(1, 5)({"score": raw})[0] == pytest.approx(normalised)


@pytest.mark.parametrize("raw", [7, 0, "8/10", "90%", None])
def test_g_eval_scores_off_the_scale(raw: Any) -> None:
    with pytest.raises(ValueError):
        read_scale(1, 5)({"score": raw})


# End to end: the judge answers with the text it is shown (the echo provider's output),
# so each case is one raw verdict as a judge could write it.
PARROT = r"""
import json, re

def call_api(prompt, options, context):
    with open("calls.log", "a") as log:
        log.write("x\n")
    shown = re.search(r"<(?:output|reply)>\n(.*?)\n</(?:output|reply)>", prompt, re.S)
    return {"output": shown.group(1), "tokenUsage": {"prompt": 3, "completion": 2}}
"""

VERDICTS = [
    ('{"reason": "fine\nreally", "pass": true, "score": 0.9}', "pass"),
    ('{"pass": 1}', "pass"),
    ('{"pass": 0}', "fail"),
    ("{'pass': True, 'score': 1.0}", "pass"),
    ('{"pass": "no", "score": 0.1,}', "fail"),
    ('Verdict:\n```json\n{"pass": "yes", "score": 0.8}\n```', "pass"),
    ("I think it passes.", "error"),
    ('{"pass": true, "score": 7}', "error"),  # off the scale: not silently 1.0
]


def test_verdicts_end_to_end(hermetic: Path, write: Callable[[str, str], Path]) -> None:
    write("judge.py", PARROT)
    result = prompteur.evaluate(
        {
            "prompts": ["{{answer}}"],
            "providers": ["echo"],
            "defaultTest": {
                "options": {"provider": "file://judge.py"},
                "assert": [{"type": "llm-rubric", "value": "is good"}],
            },
            "tests": [{"vars": {"answer": verdict}} for verdict, _ in VERDICTS],
        },
        cache=False,
    )
    by_output = {r.output: r for r in result.results}
    assert [by_output[v].status for v, _ in VERDICTS] == [status for _, status in VERDICTS]
    off_scale = by_output[VERDICTS[-1][0]]
    assert "malformed verdict twice" in (off_scale.error or "")
    assert "between 0 and 1" in (off_scale.error or "")
    # one call per readable verdict, two for each malformed one
    calls = (hermetic / "calls.log").read_text().count("x")
    assert calls == len(VERDICTS) + 2


def test_a_raw_newline_in_a_g_eval_verdict(
    hermetic: Path, write: Callable[[str, str], Path]
) -> None:
    write("judge.py", PARROT)
    verdict = json.dumps({"reason": "REASON", "score": 4}).replace("REASON", "first\nsecond")
    result = prompteur.evaluate(
        {
            "prompts": ["{{answer}}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {"answer": verdict},
                    "assert": [
                        {
                            "type": "g-eval",
                            "value": {"criteria": "good", "steps": ["Check it"]},
                            "provider": "file://judge.py",
                        }
                    ],
                }
            ],
        },
        cache=False,
    )
    cell = result.results[0]
    assert cell.error is None, cell.error
    assert cell.assertions[0].score == pytest.approx(0.75)
    assert "first second" in cell.assertions[0].reason
