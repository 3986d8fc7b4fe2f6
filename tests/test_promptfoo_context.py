"""promptfoo's context checks (context-recall, context-relevance, context-faithfulness) and
their contextTransform, judged by a local server that speaks OpenAI's protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import prompteur

from .servers import ProtocolServer, Reply, Seen, serving

FAST = prompteur.EvalOptions(retry_base_delay=0.01, retry_max_delay=0.02, max_retries=1)


@pytest.fixture
def judge() -> Iterator[ProtocolServer]:
    with serving(ProtocolServer()) as running:
        assert isinstance(running, ProtocolServer)
        yield running


def answer(verdict: dict[str, Any]) -> Any:
    def reply(seen: Seen) -> Reply:
        message = {"role": "assistant", "content": json.dumps(verdict)}
        return Reply({"model": "judge", "choices": [{"message": message}]})

    return reply


def run(judge: ProtocolServer, test: dict[str, Any], output: str = "Paris.") -> Any:
    grader = {"id": "openai:chat:judge", "config": {"apiBaseUrl": judge.url, "apiKey": "k"}}
    result = prompteur.evaluate(
        {
            "prompts": [output],
            "providers": ["echo"],
            # a list of chunks stays one variable (promptfoo would make a case of each)
            "tests": [{**test, "options": {"provider": grader, "disableVarExpansion": True}}],
        },
        options=FAST,
    )
    (cell,) = result.results
    return cell


def flags(key: str, flag: str, *values: bool) -> dict[str, Any]:
    items = [{"text": f"item {i}", flag: v} for i, v in enumerate(values)]
    return {"reason": "checked", key: items}


def test_context_recall_scores_the_supported_share_of_the_expected_answer(
    judge: ProtocolServer,
) -> None:
    judge.answer = answer(flags("statements", "supported", True, True, False))
    check = {"type": "context-recall", "value": "Paris is the capital. It is in France. Big."}
    passed = run(
        judge,
        {
            "vars": {"context": ["Paris is", "the capital of France"]},
            "assert": [{**check, "threshold": 0.6}],
        },
    )
    failed = run(
        judge,
        {
            "vars": {"context": "Paris is the capital of France."},
            "assert": [{**check, "threshold": 0.7}],
        },
    )
    assert passed.error is None and passed.passed
    assert passed.assertions[0].score == pytest.approx(2 / 3)
    assert not failed.passed and "recall 0.67 < 0.7" in failed.assertions[0].reason
    sent = judge.seen[0].json["messages"][-1]["content"]
    assert "Paris is\n\nthe capital of France" in sent  # the chunks, joined
    assert "Paris is the capital. It is in France. Big." in sent


def test_context_relevance_counts_the_relevant_parts(judge: ProtocolServer) -> None:
    judge.answer = answer(flags("parts", "relevant", True, False, False, False))
    cell = run(
        judge,
        {
            "vars": {
                "query": "Capital of France?",
                "context": ["Paris.", "Cheese.", "Wine.", "Art."],
            },
            "assert": [{"type": "context-relevance", "threshold": 0.3}],
        },
    )
    assert cell.assertions[0].score == pytest.approx(0.25)
    assert not cell.passed
    assert "4. Art." in judge.seen[0].json["messages"][-1]["content"]


def test_context_faithfulness_takes_its_context_from_a_context_transform(
    judge: ProtocolServer,
) -> None:
    judge.answer = answer(flags("statements", "supported", True, False))
    output = '{"answer": "Paris, on the Seine", "sources": ["Paris is on the Seine."]}'
    cell = run(
        judge,
        {
            "vars": {"query": "Where is Paris?"},
            "assert": [
                {
                    "type": "context-faithfulness",
                    "threshold": 0.5,
                    "contextTransform": "JSON.parse(output).sources",
                }
            ],
        },
        output=output,
    )
    assert cell.error is None, cell.error
    assert cell.passed and cell.assertions[0].score == pytest.approx(0.5)
    sent = judge.seen[0].json["messages"][-1]["content"]
    assert "<context>\nParis is on the Seine.\n</context>" in sent


def test_a_context_check_without_context_or_query_is_an_error(judge: ProtocolServer) -> None:
    judge.answer = answer(flags("parts", "relevant", True))
    no_query = run(judge, {"vars": {"context": "x"}, "assert": [{"type": "context-relevance"}]})
    no_context = run(judge, {"vars": {"query": "q"}, "assert": [{"type": "context-faithfulness"}]})
    assert no_query.error is not None and "'query' variable" in no_query.error
    assert no_context.error is not None and "needs a context" in no_context.error
    assert judge.seen == []  # nothing was asked


def test_conversation_relevance_judges_each_window_of_the_conversation(
    judge: ProtocolServer,
) -> None:
    def reply(seen: Seen) -> Reply:
        last = seen.json["messages"][-1]["content"]
        relevant = "stock market" not in last.rsplit("<assistant>", 1)[-1]
        verdict = {"reason": "on topic" if relevant else "off topic", "relevant": relevant}
        message = {"role": "assistant", "content": json.dumps(verdict)}
        return Reply({"model": "judge", "choices": [{"message": message}]})

    judge.answer = reply
    turns = [
        {"input": "Help me plan my wedding", "output": "Gladly! What is your vision?"},
        {"input": "What about flowers?", "output": "The stock market fell today."},
        {"input": "Wedding flowers!", "output": "Peonies and roses."},
    ]
    check = {"type": "conversation-relevance", "config": {"windowSize": 2}}
    cell = run(judge, {"vars": {"_conversation": turns}, "assert": [{**check, "threshold": 0.6}]})
    assert cell.error is None and cell.passed
    assert cell.assertions[0].score == pytest.approx(2 / 3)
    assert "turn 2: off topic" in cell.assertions[0].reason
    sent = [s.json["messages"][-1]["content"] for s in judge.seen]
    assert len(sent) == 3
    assert "Help me plan" not in sent[2] and "What about flowers?" in sent[2]  # window of 2
    single = run(judge, {"assert": [check]}, output="Paris.")  # the prompt and output
    assert single.passed and "1 of 1 windows relevant" in single.assertions[0].reason
