"""The optimizer's own CPU, outside model calls, against the embedded model's time.

Runs ``prompteur optimize`` in this process on a suite made from an optimizer task folder
(``optimizer_tasks.py``) with the embedded model (``local``: worker processes), then
splits the CPU time: this process (the optimizer, runner, assertions and store; the model
runs in the workers) against the workers' CPU (llama.cpp; one thread each, so about the
time they spent generating). With ``--profile`` it also prints the optimizer process's
top functions by own time (cProfile, which slows Python down: its CPU figure is then
higher than without).

Usage: .venv/bin/python bench/optimize_overhead.py [--task products] [--budget 300]
           [--limit-test 20] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from optimizer_tasks import make_suite  # noqa: E402

TASKS_DIR = HERE.parent.parent / "shared" / "optimizer-tasks"


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="products", help="a task name or folder")
    parser.add_argument("--metric", help="the task's metric, for a folder without a default")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--limit-test", type=int, default=20, help="held-out cases to score")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    task_dir = Path(args.task) if os.sep in args.task else TASKS_DIR / args.task
    work = Path(tempfile.mkdtemp(prefix="optimize-overhead-"))
    suite = make_suite(task_dir, work, args.metric)
    if args.limit_test:
        held = (work / "test.jsonl").read_text().splitlines()[: args.limit_test]
        (work / "test.jsonl").write_text("\n".join(held) + "\n")
    os.environ["PROMPTEUR_HOME"] = str(work / "home")
    os.chdir(work)

    from prompteur.cli import cli
    from prompteur.providers._local_pool import close_pools

    command = [
        "optimize",
        str(suite),
        "--budget",
        str(args.budget),
        "--seed",
        "0",
        "--holdout",
        str(work / "test.jsonl"),
        "-o",
        str(work / "optimize.json"),
    ]
    profiler = cProfile.Profile() if args.profile else None
    own_before, children_before = cpu_self(), cpu_children()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        cli.main(command, standalone_mode=False)
    except SystemExit:
        pass
    finally:
        if profiler is not None:
            profiler.disable()
    wall = time.perf_counter() - started
    close_pools()  # the workers end and are waited for: their CPU is counted as children's
    own = cpu_self() - own_before
    model = cpu_children() - children_before
    print(
        f"prompteur optimize {task_dir.name} --budget {args.budget} (held-out cases: "
        f"{args.limit_test or 'all'}), embedded model"
    )
    print(
        f"  wall {wall:.1f} s; model (workers' CPU) {model:.2f} s; "
        f"optimizer process CPU {own:.2f} s = {own / model:.1%} of the model's time"
        if model
        else f"  wall {wall:.1f} s; no model time was counted"
    )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())


if __name__ == "__main__":
    main()
