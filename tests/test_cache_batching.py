"""The runner reads the completion cache ahead, many cells a query, where the cache can."""

from __future__ import annotations

from pathlib import Path

import prompteur
from prompteur.providers import Completion
from prompteur.store import Store, StoreCache

SUITE = {
    "prompts": ["item {{n}}", "other {{n}}"],
    "providers": ["file://model.py"],
    "tests": [
        {"vars": {"n": n}, "assert": [{"type": "contains", "value": "item"}]} for n in range(300)
    ],
}


class CountingCache(StoreCache):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.single: list[str] = []
        self.batches: list[int] = []

    def get(self, key: str) -> tuple[Completion, float | None] | None:
        self.single.append(key)
        return super().get(key)

    def get_many(self, keys: list[str]) -> dict[str, tuple[Completion, float | None]]:
        self.batches.append(len(keys))
        return super().get_many(keys)


def test_a_cached_run_reads_the_cache_in_batches(hermetic: Path) -> None:
    (hermetic / "model.py").write_text(
        "def call_api(prompt, options, context):\n    return prompt\n"
    )
    store = Store()
    first = prompteur.evaluate(SUITE, store=store, keep_results=False)
    assert first.summary.done == 600 and first.summary.cached == 0

    cache = CountingCache(store)
    again = prompteur.evaluate(SUITE, store=store, cache=cache, keep_results=True)
    assert again.summary.cached == 600
    assert again.summary.passed == 300, "the cached outputs are graded as before"
    assert cache.single == [], "no cell looked itself up alone"
    assert cache.batches == [256, 256, 88]
    outputs = {(r.prompt_index, r.test_index): r.output for r in again.results}
    assert outputs[(1, 17)] == "other 17" and outputs[(0, 299)] == "item 299"
    cache.close()
    store.close()
