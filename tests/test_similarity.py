"""`similar`: cosine similarity with the packaged all-MiniLM-L6-v2 model (a real model, run
offline), thresholds, negation, cached embeddings, and the error without the extra (which
runs with or without the extra installed)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur
from prompteur.assertions import _similarity
from prompteur.store import Store

needs_the_extra = pytest.mark.usefixtures("similarity_extra")


def suite(pairs: list[tuple[str, str]], **assertion: Any) -> dict[str, Any]:
    return {
        "prompts": ["{{answer}}"],
        "providers": ["echo"],
        "tests": [
            {
                "vars": {"answer": answer},
                "assert": [{"type": "similar", "value": expected, **assertion}],
            }
            for answer, expected in pairs
        ],
    }


def ordered(result: prompteur.EvalResult) -> list[Any]:
    return sorted(result.results, key=lambda r: r.test_index)


@needs_the_extra
@pytest.mark.slow
def test_similar_scores_meaning_not_spelling(hermetic: Path) -> None:
    result = prompteur.evaluate(
        suite(
            [
                ("The capital of France is Paris.", "Paris is France's capital city."),
                ("The capital of France is Paris.", "My cat enjoys sleeping in the sun."),
                ("A kitten is sleeping on the sofa.", "A young cat naps on the couch."),
            ],
            threshold=0.6,
        )
    )
    first, unrelated, paraphrase = ordered(result)
    assert first.status == "pass" and unrelated.status == "fail" and paraphrase.status == "pass"
    assert first.assertions[0].score > 0.75
    assert unrelated.assertions[0].score < 0.3
    assert "cosine similarity" in unrelated.assertions[0].reason
    assert "< 0.6" in unrelated.assertions[0].reason

    negated = prompteur.evaluate(
        suite([("The capital of France is Paris.", "My cat sleeps.")], type="not-similar")
    )
    assert negated.results[0].status == "pass"

    any_of = prompteur.evaluate(
        suite([("Bonjour!", "x")])
        | {
            "tests": [
                {
                    "vars": {"answer": "Hello there, friend."},
                    "assert": [
                        {
                            "type": "similar",
                            "value": ["Quarterly revenue grew.", "Hello there, my friend!"],
                        }
                    ],
                }
            ]
        }
    )
    assert any_of.results[0].status == "pass"  # the best of the expected texts counts


@needs_the_extra
@pytest.mark.slow
def test_embeddings_are_cached_in_the_store(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "prompteur.yaml",
        """
        prompts: ["{{answer}}"]
        providers: [echo]
        tests:
          - vars: {answer: Paris is the capital of France.}
            assert: [{type: similar, value: The capital of France is Paris.}]
          - vars: {answer: Water boils at 100 degrees Celsius.}
            assert: [{type: similar, value: At sea level water boils at 100 C.}]
        """,
    )
    model = _similarity.embedder()
    model._memory.clear()
    start = model.encoded
    assert run_cli("eval", "--no-progress").exit_code == 0
    assert model.encoded - start == 4
    with Store() as store, store.engine.connect() as conn:
        from sqlalchemy import func, select

        from prompteur.store import _schema as t

        assert conn.execute(select(func.count()).select_from(t.embeddings)).scalar() == 4
    model._memory.clear()  # a new process would start with an empty memory
    assert run_cli("eval", "--no-progress").exit_code == 0
    assert model.encoded - start == 4  # every vector came from the store


@needs_the_extra
def test_a_bad_value_or_threshold_is_a_suite_error(hermetic: Path) -> None:
    with pytest.raises(prompteur.SuiteError, match="needs the expected text"):
        prompteur.plan_suite(suite([("a", "")]))
    with pytest.raises(prompteur.SuiteError, match="cosine similarity, from -1 to 1"):
        prompteur.plan_suite(suite([("a", "b")], threshold=3))


def test_without_the_extra_the_error_says_what_to_install(
    hermetic: Path,
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if sentence-transformers were not installed, wherever it is: a None entry in
    # sys.modules makes both find_spec and import fail, as a missing package does.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(_similarity, "_embedder", None)
    write(
        "prompteur.yaml",
        """
        prompts: ["{{answer}}"]
        providers: [echo]
        tests:
          - vars: {answer: hi}
            assert: [{type: similar, value: hello}]
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "prompteur.yaml:5" in lines[0]
    assert "pip install 'prompteur[similarity]'" in lines[0]
