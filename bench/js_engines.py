"""JavaScript engines for `javascript` assertions and transforms: V8 (mini-racer) against
QuickJS (quickjs-ng), per call and per run of 10,000 assertions.

    .venv/bin/pip install mini-racer quickjs-ng      # both, for the comparison
    .venv/bin/python bench/js_engines.py [--calls 10000]

Each engine runs in its own process (so their memory does not mix): the import and the first
context, then N calls of a promptfoo-style check ``output.includes(context.vars.topic)``
handed the cell's output and a context of the shape promptfoo gives (vars, prompt, test,
provider), as prompteur passes them (one JSON text per call), then the same through
prompteur's own runner (``prompteur.assertions._js``), with its time and memory limits.
Prints wall time per call (median and 99th percentile), the whole run, peak RSS, and the
size of the installed package.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHECK = "output.includes(context.vars.topic)"
CONTEXT = {
    "vars": {"topic": "bananas", "language": "French", "question": "What is a banana?" * 4},
    "prompt": "Write a tweet about bananas in French. " * 4,
    "test": {"description": "a tweet", "vars": {"topic": "bananas"}, "metadata": {}},
    "provider": {"id": "openai:chat:gpt-4o-mini", "label": None},
}
OUTPUT = "Les bananas sont délicieuses! " * 8


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _package_mb(module: str) -> float:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return 0.0
    origin = Path(spec.origin)
    root = origin.parent if origin.name == "__init__.py" else origin
    files = root.rglob("*") if root.is_dir() else [root]
    size = sum(f.stat().st_size for f in files if f.is_file())
    native = list(origin.parent.parent.glob("_quickjs*.so")) if module == "quickjs" else []
    return (size + sum(f.stat().st_size for f in native)) / 1e6


def _bench_raw(engine: str, calls: int) -> dict[str, float]:
    """The engine alone: one function defined once, called N times with (output, JSON)."""
    source = (
        "function check(output, contextJson) "
        f"{{ const context = JSON.parse(contextJson); return {CHECK}; }}"
    )
    started = time.perf_counter()
    if engine == "v8":
        from py_mini_racer import MiniRacer

        racer = MiniRacer()
        racer.set_hard_memory_limit(64 << 20)
        racer.eval(source)

        def call() -> object:
            return racer.call("check", OUTPUT, json.dumps(CONTEXT), timeout_sec=2)

    else:
        import quickjs

        context = quickjs.Context()
        context.set_memory_limit(64 << 20)
        context.set_time_limit(2)
        context.eval(source)
        check = context.get("check")

        def call() -> object:
            return check(OUTPUT, json.dumps(CONTEXT))

    ready = time.perf_counter() - started
    times = []
    run_started = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        assert call() is True
        times.append(time.perf_counter() - t)
    run = time.perf_counter() - run_started
    times.sort()
    return {
        "ready_s": ready,
        "median_us": statistics.median(times) * 1e6,
        "p99_us": times[int(len(times) * 0.99)] * 1e6,
        "run_s": run,
        "rss_mb": _rss_mb(),
    }


def _bench_prompteur(calls: int) -> dict[str, float]:
    """The same check as a prompteur `javascript` assertion grading N cells."""
    from prompteur.assertions._registry import AssertionSpec, GradingContext, get_assertion

    grader = get_assertion("javascript").factory(AssertionSpec("javascript", CHECK, None))
    context = GradingContext(
        output=OUTPUT,
        vars=CONTEXT["vars"],
        prompt=str(CONTEXT["prompt"]),
        provider_id="openai:chat:gpt-4o-mini",
        test_description="a tweet",
    )
    started = time.perf_counter()
    for _ in range(calls):
        result = grader(context)
        assert result.passed, result  # type: ignore[union-attr]
    return {"run_s": time.perf_counter() - started, "rss_mb": _rss_mb()}


def _child(engine: str, calls: int) -> None:
    figures = _bench_prompteur(calls) if engine == "prompteur" else _bench_raw(engine, calls)
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--child", choices=["v8", "quickjs", "prompteur"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.calls)
        return

    baseline = subprocess.run(
        [sys.executable, "-c", "import resource; print(resource.getrusage(0).ru_maxrss)"],
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"python alone: peak RSS {int(baseline.stdout) / 1024:.0f} MB; {args.calls} calls each")
    print(f"{'engine':<28}{'ready':>9}{'median':>10}{'p99':>10}{'run':>9}{'RSS':>8}{'on disk':>9}")
    for engine, module, label in (
        ("v8", "py_mini_racer", "V8 (mini-racer)"),
        ("quickjs", "quickjs", "QuickJS (quickjs-ng)"),
        ("prompteur", None, "prompteur javascript check"),
    ):
        if module is not None and importlib.util.find_spec(module) is None:
            print(f"{label:<28}not installed")
            continue
        done = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--calls", str(args.calls)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"{label:<28}failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        f = json.loads(done.stdout)
        size = f"{_package_mb(module):.1f} MB" if module else ""
        ready = f"{f['ready_s'] * 1000:.0f} ms" if "ready_s" in f else ""
        median = f"{f['median_us']:.1f} µs" if "median_us" in f else ""
        p99 = f"{f['p99_us']:.1f} µs" if "p99_us" in f else ""
        print(
            f"{label:<28}{ready:>9}{median:>10}{p99:>10}{f['run_s']:>7.2f} s"
            f"{f['rss_mb']:>5.0f} MB{size:>9}"
        )


if __name__ == "__main__":
    main()
