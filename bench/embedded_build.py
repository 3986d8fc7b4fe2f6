"""The embedded model's time on the quickstart, for several builds of llama-cpp-python.

Each build lives in its own Python environment (``make install`` makes the portable one in
.venv; ``make install LLAMA_BUILD=native VENV=.venv-native`` a native one). For each, the
quickstart's model calls (the same rendered messages and settings as ``prompteur eval``)
are made directly with llama-cpp-python, on all cores, in a fresh process; builds are
interleaved round by round so drift in the machine's load hits them alike.

Usage: .venv/bin/python bench/embedded_build.py --python .venv/bin/python \\
           --python .venv-native/bin/python [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, os, sys, time
import llama_cpp, prompteur
from prompteur.providers._local import LocalProvider
plan = prompteur.plan_suite(sys.argv[1])
(provider,) = plan.providers
llama = llama_cpp.Llama(model_path=str(provider.path), n_ctx=provider.config.n_ctx,
                        n_threads=os.cpu_count() or 1, verbose=False)
calls = []
for test in plan.tests:
    for prompt in plan.prompts:
        settings = {**provider.settings}
        for name, value in prompt.params.items():
            settings.setdefault(name, value)
        calls.append(([m.to_dict() for m in prompt.render(test.vars)], settings))
llama.create_chat_completion(messages=calls[0][0], max_tokens=1)  # warm up
started = time.perf_counter()
tokens = 0
for messages, settings in calls:
    llama.reset()
    out = llama.create_chat_completion(messages=messages, **settings)
    tokens += out["usage"]["completion_tokens"]
print(json.dumps({"seconds": time.perf_counter() - started, "tokens": tokens,
                  "version": llama_cpp.__version__}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", action="append", required=True, type=Path)
    parser.add_argument("--suite", type=Path, default=ROOT / "examples/quickstart/prompteur.yaml")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[Path, list[float]] = {p: [] for p in args.python}
    info: dict[Path, dict[str, object]] = {}
    for _ in range(args.rounds):
        for python in args.python:
            done = subprocess.run(
                [str(python), "-c", CHILD, str(args.suite)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            times[python].append(result["seconds"])
            info[python] = result
    print(f"suite: {args.suite.name}, {args.rounds} rounds, medians, model calls only")
    base = statistics.median(times[args.python[0]])
    for python in args.python:
        median = statistics.median(times[python])
        rounds = ", ".join(f"{t:.2f}" for t in times[python])
        print(
            f"{python}: {median:6.2f} s ({median / base:.2f}x of the first)  "
            f"tokens: {info[python]['tokens']}  llama-cpp-python {info[python]['version']}  "
            f"rounds: {rounds}"
        )


if __name__ == "__main__":
    main()
