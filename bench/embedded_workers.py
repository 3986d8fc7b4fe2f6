"""Several model processes, each on its own cores, against one process on all of them.

Runs the quickstart suite (examples/quickstart) on the embedded model, without the cache,
with each layout of worker processes × threads that uses the machine's cores (on 2 cores:
1 × 2 and 2 × 1), interleaved round by round so that drift in the machine's load hits them
alike, and prints each layout's median wall time and its outputs' agreement with the first
layout's (the layout must not change an answer).

Usage: .venv/bin/python bench/embedded_workers.py [--rounds 3] [--suite PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import prompteur
from prompteur.providers._local_pool import close_pools

ROOT = Path(__file__).resolve().parent.parent


def layouts(cores: int) -> list[tuple[int, int]]:
    """(workers, threads each) pairs that use every core."""
    return [(w, cores // w) for w in range(1, cores + 1) if cores % w == 0]


def run(suite: Path, workers: int, threads: int) -> tuple[float, list[str]]:
    plan = prompteur.plan_suite(
        suite,
        providers=[
            prompteur.ProviderSpec(id="local", config={"workers": workers, "threads": threads})
        ],
    )
    started = time.perf_counter()
    result = prompteur.evaluate(plan, cache=False)
    elapsed = time.perf_counter() - started
    if result.summary.errors:
        raise SystemExit(f"the run had {result.summary.errors} errors")
    outputs = [c.output or "" for c in sorted(result.results, key=lambda c: c.key)]
    return elapsed, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "examples/quickstart/prompteur.yaml")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    choices = layouts(cores)
    for workers, threads in choices:  # warm up: the model file in the OS cache, probes done
        run(args.suite, workers, threads)
        close_pools()
    times: dict[tuple[int, int], list[float]] = {c: [] for c in choices}
    reference: list[str] | None = None
    same: dict[tuple[int, int], bool] = {}
    for _ in range(args.rounds):
        for choice in choices:
            elapsed, outputs = run(args.suite, *choice)
            close_pools()  # each round starts its processes anew, as a run does
            times[choice].append(elapsed)
            reference = reference or outputs
            same[choice] = same.get(choice, True) and outputs == reference
    print(f"suite: {args.suite.name}, {cores} cores, {args.rounds} rounds, medians, no cache")
    base = statistics.median(times[choices[0]])
    for choice in choices:
        median = statistics.median(times[choice])
        rounds = ", ".join(f"{t:.2f}" for t in times[choice])
        print(
            f"{choice[0]} worker(s) x {choice[1]} thread(s): {median:6.2f} s "
            f"({base / median:.2f}x of 1 worker)  rounds: {rounds}  "
            f"same outputs: {'yes' if same[choice] else 'NO'}"
        )


if __name__ == "__main__":
    main()
