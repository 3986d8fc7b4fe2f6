"""The embedded model reuses the KV cache of a shared prompt prefix: calls that share
demonstrations go to the worker that holds them, which evaluates only what follows, and
the answers are the same as without any reuse.

The pool and its processes are real (llama.cpp running SmolLM2); the prompt-token counts
are the worker's own (what llama.cpp kept from its cache, what it evaluated)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import pytest

from prompteur.providers._local_affinity import Affinity, prompt_key, shared_length
from prompteur.providers._local_pool import ModelSettings, WorkerPool

SETTINGS = {"temperature": 0.0, "max_tokens": 6}


def demos(topic: str) -> list[dict[str, str]]:
    """A system message and eight question/answer pairs: a prefix of a few hundred tokens."""
    messages = [{"role": "system", "content": f"You answer questions about {topic} in a word."}]
    for n in range(8):
        messages.append(
            {"role": "user", "content": f"Question {n} about {topic}: what is {n}+{n}?"}
        )
        messages.append({"role": "assistant", "content": str(2 * n)})
    return messages


def ask(prefix: list[dict[str, str]], question: str) -> list[dict[str, str]]:
    return [*prefix, {"role": "user", "content": question}]


def call(pool: WorkerPool, messages: list[dict[str, str]], number: int) -> dict[str, Any]:
    request = pool.submit({"id": number, "messages": messages, "settings": SETTINGS})
    reply: dict[str, Any] = request.future.result(timeout=300)
    return reply


def answer(reply: dict[str, Any]) -> str:
    return str(reply["result"]["choices"][0]["message"]["content"])


@pytest.fixture
def two_workers(embedded_model_path: Path) -> Any:
    pool = WorkerPool(ModelSettings(embedded_model_path, 2048, 1, 2))
    yield pool
    pool.close()


@pytest.mark.slow
def test_calls_sharing_a_prefix_go_to_the_worker_that_holds_it(
    two_workers: WorkerPool, embedded_model_path: Path
) -> None:
    a, b = demos("arithmetic"), demos("the weather in spring")
    order = [
        ("a", "What is 7+7?"),
        ("a", "What is 3+4?"),
        ("b", "Is it warm?"),
        ("b", "Is it rainy?"),
        ("a", "What is 9+1?"),
        ("b", "Is it windy?"),
    ]
    replies = [
        (name, question, call(two_workers, ask(a if name == "a" else b, question), n))
        for n, (name, question) in enumerate(order)
    ]
    slots = {name: {r["slot"] for n, _, r in replies if n == name} for name in "ab"}
    assert len(slots["a"]) == 1 and len(slots["b"]) == 1 and slots["a"] != slots["b"]
    first = {"a": 0, "b": 2}
    for index, (name, _, reply) in enumerate(replies):
        tokens = reply["prompt_tokens"]
        if index == first[name]:
            assert tokens["reused"] == 0
        else:  # the eight demonstrations came from the cache, whole blocks of them
            assert tokens["reused"] >= 128, (index, tokens)
            assert tokens["evaluated"] < tokens["reused"], (index, tokens)
    stats = two_workers.stats
    assert stats.served == [3, 3]
    assert stats.reused >= 4 * 128

    # the same answers as a worker that never saw anything before each call
    for n, (name, question, reply) in enumerate(replies):
        fresh = WorkerPool(ModelSettings(embedded_model_path, 2048, 1, 1))
        try:
            alone = call(fresh, ask(a if name == "a" else b, question), 100 + n)
        finally:
            fresh.close()
        assert alone["prompt_tokens"]["reused"] == 0
        assert answer(alone) == answer(reply), (name, question)


@pytest.mark.slow
def test_a_busy_workers_prefix_does_not_keep_the_other_waiting(two_workers: WorkerPool) -> None:
    a = demos("arithmetic")
    call(two_workers, ask(a, "What is 1+1?"), 0)
    # four calls at once, all of one prefix: both workers serve them
    with concurrent.futures.ThreadPoolExecutor(4) as executor:
        replies = list(
            executor.map(lambda n: call(two_workers, ask(a, f"What is {n}+2?"), 10 + n), range(4))
        )
    assert {r["slot"] for r in replies} == {0, 1}


def test_affinity_choice() -> None:
    affinity = Affinity(2)
    long_a, long_b = "A" * 300, "B" * 300
    # nothing cached yet: the request goes to the spare worker only (the lowest, here)
    assert affinity.choose(1, [long_a + "1"], idle=[0, 1]) is None
    assert affinity.choose(0, [long_a + "1"], idle=[0, 1]) == 0
    affinity.served(0, long_a + "1")
    # a new prefix goes to the worker whose cache holds nothing
    assert affinity.choose(0, [long_b + "1"], idle=[0, 1]) is None
    assert affinity.choose(1, [long_b + "1"], idle=[0, 1]) == 0
    affinity.served(1, long_b + "1")
    # each free worker takes its own prefix first, even behind older requests
    assert affinity.choose(1, [long_a + "2", long_b + "2"], idle=[0, 1]) == 1
    assert affinity.choose(0, [long_a + "2", long_b + "2"], idle=[0, 1]) == 0
    # the owner is busy: the free worker takes it rather than wait
    assert affinity.choose(1, [long_a + "3"], idle=[1]) == 0
    # a third prefix goes to the least recently used worker
    assert affinity.choose(1, ["C" * 300], idle=[0, 1]) is None
    assert affinity.choose(0, ["C" * 300], idle=[0, 1]) == 0
    # a worker that lost its process holds nothing
    affinity.forget(1)
    assert affinity.owner(long_b + "9") is None


def test_prompt_keys_and_shared_length() -> None:
    key = prompt_key([{"role": "system", "content": "x" * 10}, {"role": "user", "content": "y"}])
    assert key == "\x1esystem\x1f" + "x" * 10 + "\x1euser\x1fy"
    assert len(prompt_key([{"role": "user", "content": "z" * 10_000}])) == 4096
    for a, b in [("", ""), ("abc", "abd"), ("abc", "abc"), ("abc", "ab"), ("x" * 999, "x" * 1000)]:
        expected = next(
            (i for i, (p, q) in enumerate(zip(a, b, strict=False)) if p != q), min(len(a), len(b))
        )
        assert shared_length(a, b) == expected
