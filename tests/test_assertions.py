"""Every built-in assertion type, negated, weighted, with thresholds and named metrics; run
through the real planner and runner on outputs we choose."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prompteur
from prompteur.core._errors import SuiteError


class Fixed(prompteur.BaseProvider):
    """Answers with the test's ``out`` variable, after ``delay`` seconds, at a set cost."""

    def __init__(
        self, cost: float | None = 0.0, finish: str | None = "stop", delay: float = 0
    ) -> None:
        super().__init__("fixed")
        self.cost = cost
        self.finish = finish
        self.delay = delay

    async def complete(self, request: prompteur.CompletionRequest) -> prompteur.Completion:
        if self.delay:
            await asyncio.sleep(self.delay)
        return prompteur.Completion(
            str(request.vars["out"]),
            prompteur.Usage(3, 4),
            finish_reason=self.finish,
            cost=self.cost,
        )


def run(
    asserts: list[dict[str, Any]], output: str, provider: Fixed | None = None, **test: Any
) -> prompteur.CellResult:
    result = prompteur.evaluate(
        {"prompts": ["{{out}}"], "tests": [{"vars": {"out": output}, "assert": asserts, **test}]},
        providers=[provider or Fixed()],
    )
    (cell,) = result.results
    assert cell.error is None
    return cell


def verdict(kind: str, value: Any, output: str, **extra: Any) -> bool:
    return run([{"type": kind, "value": value, **extra}], output).assertions[0].passed


# (type, value, an output that passes, an output that fails)
CASES: list[tuple[str, Any, str, str]] = [
    ("equals", "Paris", "Paris", "Paris."),
    ("equals", {"a": [1, 2]}, '{"a": [1, 2]}', '{"a": [2, 1]}'),
    ("contains", "cat", "a cat sat", "a Cat sat"),
    ("icontains", "cat", "a CAT sat", "a dog sat"),
    ("contains-any", ["cat", "dog"], "hot dog", "bird"),
    ("contains-any", "cat, dog", "catalog", "bird"),
    ("contains-all", ["cat", "dog"], "cat and dog", "cat alone"),
    ("icontains-any", ["CAT", "DOG"], "a dog", "a bird"),
    ("icontains-all", ["Cat", "Dog"], "CAT DOG", "cat"),
    ("starts-with", "Dear", "Dear Ada,", "Hi Ada"),
    ("regex", r"^\d{3}-\d{4}$", "555-1234", "555-12345"),
    ("is-json", None, '{"ok": true}', "{ok: true}"),
    ("is-json", {"type": "object", "required": ["name"]}, '{"name": "x"}', '{"nom": "x"}'),
    ("json-schema", {"type": "array", "items": {"type": "integer"}}, "[1, 2]", '[1, "2"]'),
    ("contains-json", None, 'Here: {"a": 1} done', "no json {here"),
    ("contains-json", {"required": ["b"]}, 'x {"a": 1} y {"b": 2}', 'x {"a": 1}'),
    ("python", "len(output) > 3", "long", "no"),
    ("python", "output.upper() == context['vars']['out'].upper()", "same", None),
    ("levenshtein", "kitten", "sitting", "kitchen sink"),
    ("word-count", 3, "one two three", "one two"),
    ("word-count", {"min": 2, "max": 3}, "one two", "one two three four"),
    ("word-count", {"max": 1}, "one", "one two"),
    ("finish-reason", "stop", "anything", None),
]


@pytest.mark.parametrize(("kind", "value", "good", "bad"), CASES)
def test_assertion_passes_fails_and_negates(
    kind: str, value: Any, good: str, bad: str | None
) -> None:
    assert verdict(kind, value, good) is True
    assert verdict(f"not-{kind}", value, good) is False
    if bad is not None:
        assert verdict(kind, value, bad) is False
        assert verdict(f"not-{kind}", value, bad) is True


def test_reasons_read_right_both_ways() -> None:
    cell = run(
        [
            {"type": "contains", "value": "cat"},
            {"type": "not-contains", "value": "dog"},
            {"type": "not-contains", "value": "cat"},
        ],
        "a cat",
    )
    reasons = [(a.passed, a.reason) for a in cell.assertions]
    assert reasons == [
        (True, "output contains 'cat'"),
        (True, "output does not contain 'dog'"),
        (False, "output contains 'cat' (expected not)"),
    ]


def test_negation_inverts_scores() -> None:
    cell = run(
        [
            {"type": "python", "value": "0.25", "threshold": 0.2},
            {"type": "not-python", "value": "0.25", "threshold": 0.2},
        ],
        "x",
    )
    assert [(a.passed, a.score) for a in cell.assertions] == [(True, 0.25), (False, 0.75)]


def test_python_return_forms(write: Callable[[str, str], Path]) -> None:
    write(
        "checks.py",
        """
        def get_assert(output, context):
            return {"pass": output == "yes", "score": 0.9, "reason": "said " + output}

        def length_score(output, context):
            return len(output) / 10
        """,
    )
    cell = run(
        [
            {"type": "python", "value": "file://checks.py"},
            {"type": "python", "value": "checks.py:length_score", "threshold": 0.5},
            {"type": "python", "value": "file://checks.py:length_score"},
            {"type": "python", "value": "x = len(output)\nreturn {'pass': x == 3, 'score': 1}"},
            {"type": "python", "value": "0"},
        ],
        "yes",
    )
    got = [(a.passed, a.score, a.reason) for a in cell.assertions]
    assert got[0] == (True, 0.9, "said yes")
    assert got[1][:2] == (False, pytest.approx(0.3))  # below its threshold
    assert got[2][:2] == (True, pytest.approx(0.3))  # no threshold: any positive score passes
    assert got[3][:2] == (True, 1)
    assert got[4][:2] == (False, 0.0)


def test_python_assertion_errors_are_the_cells_error_not_the_runs() -> None:
    """A check that raises, or returns what is not a verdict, did not judge the output: the
    cell is an error (not a failure), and the other cells are graded."""
    result = prompteur.evaluate(
        {
            "prompts": ["{{out}}"],
            "tests": [
                {"vars": {"out": "x"}, "assert": [{"type": "python", "value": "1 / 0"}]},
                {"vars": {"out": "x"}, "assert": [{"type": "python", "value": "'text'"}]},
                {"vars": {"out": "x"}, "assert": [{"type": "python", "value": "True"}]},
            ],
        },
        providers=[Fixed()],
    )
    cells = result.results
    assert [c.status for c in cells] == ["error", "error", "pass"]
    assert cells[0].error == "grading: python raised ZeroDivisionError: division by zero"
    assert cells[1].error is not None and "malformed result: str" in cells[1].error
    assert cells[0].assertions == cells[1].assertions == ()


def test_python_code_that_does_not_compile_is_a_suite_error() -> None:
    with pytest.raises(SuiteError, match="python assertion does not compile"):
        run([{"type": "python", "value": "return (("}], "x")


def test_python_file_function_missing_lists_what_exists(write: Callable[[str, str], Path]) -> None:
    write("checks.py", "def check(output, context):\n    return True\n")
    with pytest.raises(SuiteError, match=r"checks\.py has no function 'nope'; it defines check"):
        run([{"type": "python", "value": "file://checks.py:nope"}], "x")


def test_levenshtein_threshold_is_the_maximum_distance() -> None:
    assert verdict("levenshtein", "kitten", "sitting", threshold=3) is True
    assert verdict("levenshtein", "kitten", "sitting", threshold=2) is False


def test_latency_cost_and_finish_reason_use_the_call() -> None:
    slow = Fixed(cost=0.02, finish="length", delay=0.05)
    cell = run(
        [
            {"type": "latency", "threshold": 5000},
            {"type": "latency", "threshold": 10},
            {"type": "cost", "threshold": 0.05},
            {"type": "cost", "threshold": 0.01},
            {"type": "finish-reason", "value": "length"},
            {"type": "finish-reason", "value": "max_tokens"},
        ],
        "x",
        provider=slow,
    )
    assert [a.passed for a in cell.assertions] == [True, False, True, False, True, True]
    assert (
        cell.assertions[1].reason.startswith("latency ") and "> 10 ms" in cell.assertions[1].reason
    )
    unknown = run([{"type": "cost", "threshold": 1}], "x", provider=Fixed(cost=None))
    assert unknown.assertions[0].reason == "cost is unknown for provider fixed"


def test_not_forms_of_latency_cost_and_word_count_invert_them() -> None:
    slow = Fixed(cost=0.02, delay=0.05)
    cell = run(
        [
            {"type": "not-latency", "threshold": 5000},
            {"type": "not-latency", "threshold": 10},
            {"type": "not-cost", "threshold": 0.05},
            {"type": "not-cost", "threshold": 0.01},
            {"type": "not-word-count", "value": 2},
            {"type": "not-word-count", "value": {"max": 5}},
        ],
        "two words",
        provider=slow,
    )
    assert [a.passed for a in cell.assertions] == [False, True, False, True, False, False]
    unknown = run([{"type": "not-cost", "threshold": 1}], "x", provider=Fixed(cost=None))
    assert not unknown.assertions[0].passed, "an unknown cost proves nothing either way"
    for kind in ("finish-reason", "not-finish-reason"):
        undecided = run([{"type": kind, "value": "stop"}], "x", provider=Fixed(finish=None))
        assert not undecided.assertions[0].passed
        assert undecided.assertions[0].reason == "finish reason is unknown for provider fixed"


def test_finish_reasons_of_other_vendors_are_normalised() -> None:
    cell = run([{"type": "finish-reason", "value": "stop"}], "x", provider=Fixed(finish="end_turn"))
    assert cell.assertions[0].passed


@pytest.mark.parametrize(
    ("assertion", "message"),
    [
        ({"type": "contains"}, "'contains' needs a text 'value'"),
        ({"type": "contains-any", "value": []}, "needs a list of strings"),
        ({"type": "word-count", "value": {"min": 3, "max": 1}}, "min (3) is greater than max (1)"),
        ({"type": "word-count", "value": {"least": 3}}, "takes 'min' and 'max'"),
        ({"type": "is-json", "value": {"type": "nonsense"}}, "invalid JSON schema"),
        ({"type": "json-schema"}, "needs a JSON schema"),
        ({"type": "cost"}, "needs a 'threshold'"),
        ({"type": "equals"}, "'equals' needs a 'value'"),
    ],
)
def test_bad_assertion_settings_are_suite_errors(assertion: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError, match=re.escape(message)):
        run([assertion], "x")


def test_weighted_score_and_test_threshold() -> None:
    asserts = [
        {"type": "contains", "value": "a", "weight": 3},
        {"type": "contains", "value": "zzz", "weight": 1},
    ]
    cell = run(asserts, "abc")
    assert cell.score == pytest.approx(0.75)
    assert not cell.passed  # one assertion failed and no threshold is set
    assert run(asserts, "abc", threshold=0.7).passed  # the score reaches the threshold
    assert not run(asserts, "abc", threshold=0.8).passed


def test_zero_weight_assertions_do_not_count() -> None:
    cell = run(
        [{"type": "contains", "value": "a"}, {"type": "contains", "value": "zzz", "weight": 0}],
        "abc",
    )
    assert cell.score == 1.0
    assert cell.passed


def test_named_metrics_are_averaged_per_prompt_and_provider() -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["{{out}}"],
            "tests": [
                {
                    "vars": {"out": out},
                    "assert": [
                        {"type": "icontains", "value": "yes", "metric": "agrees"},
                        {"type": "word-count", "value": {"max": 2}, "metric": "brief"},
                    ],
                }
                for out in ("yes", "yes indeed sir", "no")
            ],
        },
        providers=[Fixed()],
    )
    (group,) = result.summary.groups
    assert group.metric_means() == {"agrees": pytest.approx(2 / 3), "brief": pytest.approx(2 / 3)}


def test_assertion_values_use_test_variables() -> None:
    cell = run(
        [
            {"type": "equals", "value": "{{out}}"},
            {"type": "contains-any", "value": ["{{ out | upper }}", "nope"]},
        ],
        "hello",
    )
    assert [a.passed for a in cell.assertions] == [True, False]
    assert cell.assertions[1].value == ["HELLO", "nope"]


def test_every_builtin_type_is_listed() -> None:
    from prompteur.eval import assertion_types

    assert {
        "equals",
        "contains",
        "icontains",
        "contains-any",
        "contains-all",
        "icontains-any",
        "icontains-all",
        "starts-with",
        "regex",
        "is-json",
        "contains-json",
        "json-schema",
        "python",
        "levenshtein",
        "word-count",
        "latency",
        "cost",
        "finish-reason",
    } <= set(assertion_types())
