"""What a shared prompt prefix costs on the embedded model once it is in the KV cache.

Times, on the embedded model's worker pool (2 workers x 1 thread, as ``local`` runs on 2
cores), calls of three kinds, in runs of a few calls of one kind (as an optimizer's batches
come), the kinds in a new order each round so that drift in the machine's load hits them
alike:

- **no demos**: an instruction and the question;
- **8 demos, warm**: the same instruction, eight demonstrations (question/answer message
  pairs), then the question; the demonstrations are the same in every call, so after the
  first call they come from the cache of the worker that served it;
- **8 demos, defeated**: the same length, but the first message differs in every call, so
  nothing can be reused.

Each call generates ``--max-tokens`` tokens at most (1 by default: the time of the prompt
and the first token, which is where the prefix matters; ``--max-tokens 16`` for whole
short answers). Prints median times, the ratios, and the prompt tokens the workers kept
from their cache and evaluated.

Usage: .venv/bin/python bench/embedded_prefix.py [--rounds 4] [--per-round 3] [--max-tokens 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from prompteur.providers._local import default_model_path
from prompteur.providers._local_pool import ModelSettings, WorkerPool

INSTRUCTION = "Solve the multiplication. Answer with the number only."


def question(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return f"Solve the following multiplication: {a} * {b}.", str(a * b)


def messages(demos: list[tuple[str, str]], final: str, head: str = "") -> list[dict[str, str]]:
    out = [{"role": "system", "content": head + INSTRUCTION}]
    for q, a in demos:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    out.append({"role": "user", "content": final})
    return out


def timed(
    pool: WorkerPool, request: list[dict[str, str]], number: int, max_tokens: int
) -> tuple[float, dict[str, Any]]:
    settings = {"temperature": 0.0, "max_tokens": max_tokens}
    started = time.perf_counter()
    job = pool.submit({"id": number, "messages": request, "settings": settings})
    reply: dict[str, Any] = job.future.result()
    return time.perf_counter() - started, reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=3, help="timed calls of a kind a round")
    parser.add_argument("--max-tokens", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(0)
    demos = [question(rng) for _ in range(8)]
    pool = WorkerPool(ModelSettings(default_model_path(), 2048, args.threads, args.workers))
    number = 0
    times: dict[str, list[float]] = {"none": [], "warm": [], "defeated": []}
    tokens: dict[str, list[tuple[int, int]]] = {k: [] for k in times}
    try:
        # load the models
        for _ in range(args.workers):
            timed(pool, messages([], question(rng)[0]), number, args.max_tokens)
            number += 1
        # in rounds, each kind in a run of calls (as an optimizer's batches come), the
        # kinds in a new order each round; the first call of a run is not timed (it puts
        # the run's prefix in a cache, or not)
        for _ in range(args.rounds):
            kinds = ["none", "warm", "defeated"]
            rng.shuffle(kinds)
            for kind in kinds:
                for call in range(args.per_round + 1):
                    final = question(rng)[0]
                    if kind == "none":
                        request = messages([], final)
                    elif kind == "warm":
                        request = messages(demos, final)
                    else:
                        request = messages(demos, final, head=f"Request {number}: ")
                    elapsed, reply = timed(pool, request, number, args.max_tokens)
                    number += 1
                    if call == 0:
                        continue
                    times[kind].append(elapsed)
                    counted = reply.get("prompt_tokens") or {}
                    tokens[kind].append((counted.get("reused", 0), counted.get("evaluated", 0)))
    finally:
        pool.close()
    median = {kind: statistics.median(values) for kind, values in times.items()}
    print(
        f"{args.rounds * args.per_round} timed calls of each kind, "
        f"{args.workers} workers x {args.threads} thread(s), "
        f"max_tokens {args.max_tokens}, medians"
    )
    for kind, label in (
        ("none", "no demos"),
        ("warm", "8 demos, warm prefix"),
        ("defeated", "8 demos, reuse defeated"),
    ):
        reused = statistics.median(t[0] for t in tokens[kind])
        evaluated = statistics.median(t[1] for t in tokens[kind])
        print(
            f"  {label:<26} {median[kind] * 1000:7.1f} ms   "
            f"prompt tokens: {reused:.0f} from the cache, {evaluated:.0f} evaluated"
        )
    print(f"  ratio warm / no demos:     {median['warm'] / median['none']:.2f}x")
    print(f"  ratio defeated / no demos: {median['defeated'] / median['none']:.2f}x")


if __name__ == "__main__":
    main()
