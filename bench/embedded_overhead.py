"""How much the harness adds to the embedded model's own time (budget: under 5%).

Runs the quickstart suite (examples/quickstart) through prompteur on the embedded model,
in one worker process with as many threads as the machine has cores, then makes the very
same model calls directly with llama-cpp-python in this process (same rendered messages,
same settings, same model file, same threads), and prints both wall times and the overhead.
What the harness adds includes the worker process's round trips.

Usage: .venv/bin/python bench/embedded_overhead.py [--rounds 3] [--suite PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import prompteur
from prompteur.providers._local import LocalProvider

ROOT = Path(__file__).resolve().parent.parent


def direct_calls(plan: prompteur.Plan, provider: LocalProvider, llama: Any) -> float:
    """Seconds the model alone takes for every cell of the plan, called directly."""
    calls: list[tuple[list[dict[str, str]], dict[str, Any]]] = []
    for test in plan.tests:
        for prompt in plan.prompts:
            messages = [m.to_dict() for m in prompt.render(test.vars)]
            settings = {**provider.settings}
            for name, value in prompt.params.items():
                settings.setdefault(name, value)
            calls.extend([(messages, settings)] * plan.repeats(test))
    started = time.perf_counter()
    for messages, settings in calls:
        llama.reset()  # as the worker does: no answer depends on the one before
        llama.create_chat_completion(messages=messages, **settings)
    return time.perf_counter() - started


def through_prompteur(plan: prompteur.Plan) -> tuple[float, float]:
    """Wall seconds of the run, and CPU seconds spent by the harness itself (this process:
    rendering, grading, bookkeeping; the model runs in its worker process)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = prompteur.evaluate(plan, keep_results=False, cache=False)
    elapsed, harness_cpu = time.perf_counter() - started, time.process_time() - cpu
    if result.summary.errors:
        raise SystemExit(f"the run had {result.summary.errors} errors")
    return elapsed, harness_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "examples/quickstart/prompteur.yaml")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    plan = prompteur.plan_suite(
        args.suite,
        providers=[prompteur.ProviderSpec(id="local", config={"workers": 1, "threads": cores})],
    )
    (provider,) = plan.providers
    if not isinstance(provider, LocalProvider):
        raise SystemExit("the suite must run on one local provider")
    from llama_cpp import Llama

    llama = Llama(
        model_path=str(provider.path),
        n_ctx=provider.config.n_ctx,
        n_threads=provider.n_threads,
        n_threads_batch=provider.n_threads,
        verbose=False,
    )
    through_prompteur(plan)  # warm up: start the worker, load the model, fill OS caches
    harness, model, cpu = [], [], []
    for _ in range(args.rounds):  # interleaved, so drift in machine load hits both alike
        wall, harness_cpu = through_prompteur(plan)
        harness.append(wall)
        cpu.append(harness_cpu)
        model.append(direct_calls(plan, provider, llama))
    h, m, c = statistics.median(harness), statistics.median(model), statistics.median(cpu)
    print(
        f"suite: {args.suite.relative_to(ROOT) if args.suite.is_relative_to(ROOT) else args.suite}"
        f" ({plan.total_cells} cells, {args.rounds} rounds, medians; one worker, "
        f"{provider.n_threads} threads)"
    )
    print(f"model alone:       {m:7.2f} s   rounds: {', '.join(f'{x:.2f}' for x in model)}")
    print(f"through prompteur: {h:7.2f} s   rounds: {', '.join(f'{x:.2f}' for x in harness)}")
    print(
        f"wall overhead:     {100 * (h - m) / m:+6.1f} %   (budget: under 5%; wall times are noisy)"
    )
    print(
        f"harness CPU:       {c:7.3f} s = {100 * c / m:.2f} % of the model's time "
        f"({1000 * c / plan.total_cells:.2f} ms per cell)"
    )
    llama.close()


if __name__ == "__main__":
    main()
