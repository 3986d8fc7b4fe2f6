"""Throughput and peak memory of `prompteur eval` against an instant local echo server,
optionally side by side with promptfoo on the very same cases.

The cases come from ../shared/bench/gen_promptfoo_suite.py (N cases, 5 assertions each:
contains, icontains, regex, not-contains, and a code check). prompteur runs that promptfoo
config unchanged except for the code check, which is python `len(output) > 5` instead of
javascript. Caching is off, concurrency is the same for both tools.

Usage: .venv/bin/python bench/throughput.py [--cases N ...] [--concurrency J] [--vs-promptfoo]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
TIME = shutil.which("time") or "/usr/bin/time"


@dataclass
class Measure:
    wall_s: float
    peak_rss_mb: float

    def rate(self, cases: int) -> float:
        return cases / self.wall_s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_echo_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, str(SHARED / "echo_server.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/models"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit(f"the echo server did not start on port {port}")


def write_suite(cases: int, port: int, folder: Path, python: str) -> Path:
    """promptfoo's generated suite, with the javascript check written in Python."""
    subprocess.run(
        [python, str(SHARED / "gen_promptfoo_suite.py"), str(cases), str(port), str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tests = folder / "tests.yaml"
    text = tests.read_text()
    text = text.replace("type: javascript", "type: python")
    text = text.replace("value: output.length > 5", "value: len(output) > 5")
    tests.write_text(text)
    return folder / "promptfooconfig.yaml"


@dataclass
class Figures:
    cold: Measure  # caching off: every case calls the server
    cached: list[Measure]  # fully cached re-runs
    stored: int


def _timed_eval(python: str, folder: Path, config: Path, concurrency: int, *extra: str) -> Measure:
    """One `prompteur eval` as a user runs it (results go to the store), checked: every
    case of the run must have passed."""
    timing = folder / "time.txt"
    command = [
        python,
        "-m",
        "prompteur",
        "eval",
        "-c",
        str(config),
        "-j",
        str(concurrency),
        "--no-progress",
        *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(
        [TIME, "-o", str(timing), "-f", "%M", *command],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"prompteur failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    passed, total = _latest_run(folder)
    if passed != total:
        raise SystemExit(f"only {passed} of {total} cases passed")
    return Measure(wall, int(timing.read_text().split()[-1]) / 1024)


def _latest_run(folder: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(folder / ".prompteur" / "prompteur.db") as db:
        passed, total = db.execute(
            "SELECT passed, total_cells FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    return int(passed), int(total)


def _stored_cells(folder: Path) -> int:
    import sqlite3

    with sqlite3.connect(folder / ".prompteur" / "prompteur.db") as db:
        (count,) = db.execute("SELECT count(*) FROM results").fetchone()
    return int(count)


def compile_bytecode(python: str) -> None:
    """Compile prompteur's modules, as installing a package does: an editable install under
    PYTHONDONTWRITEBYTECODE (set on these machines) would compile them at every start."""
    subprocess.run(
        [
            python,
            "-c",
            "import compileall, prompteur, pathlib; "
            "compileall.compile_dir(pathlib.Path(prompteur.__file__).parent, quiet=1)",
        ],
        check=True,
    )


def run_prompteur(cases: int, concurrency: int, python: str, cached_runs: int) -> Figures:
    """A run with caching off (into a fresh store), one that fills the cache, then fully
    cached re-runs."""
    port = free_port()
    server = start_echo_server(port)
    try:
        with tempfile.TemporaryDirectory(prefix="prompteur-bench-") as tmp:
            folder = Path(tmp)
            config = write_suite(cases, port, folder, python)
            cold = _timed_eval(python, folder, config, concurrency, "--no-cache")
            stored = _stored_cells(folder)
            _timed_eval(python, folder, config, concurrency)  # fills the cache
            cached = [_timed_eval(python, folder, config, concurrency) for _ in range(cached_runs)]
            return Figures(cold, cached, stored)
    finally:
        server.terminate()
        server.wait()


def _eval_help(python: str) -> str:
    return subprocess.run(
        [python, "-m", "prompteur", "eval", "--help"], capture_output=True, text=True, check=True
    ).stdout


def run_promptfoo(cases: int, concurrency: int) -> Measure:
    done = subprocess.run(
        ["bash", str(SHARED / "run_promptfoo.sh"), str(cases), str(concurrency)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"wall ([\d.]+) s, peak RSS (\d+) KB", done.stdout)
    if match is None:
        raise SystemExit(
            f"could not read promptfoo's figures:\n{done.stdout}\n{done.stderr[-2000:]}"
        )
    return Measure(float(match[1]), int(match[2]) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description="prompteur throughput against an echo server")
    parser.add_argument(
        "--cases",
        type=int,
        action="append",
        help="number of cases (repeatable; default 1000 and 10000, to see memory stay flat)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--vs-promptfoo",
        action="store_true",
        help="also run promptfoo on the same cases and print the ratios",
    )
    parser.add_argument(
        "--python",
        default=str(ROOT / ".venv" / "bin" / "python"),
        help="the interpreter prompteur is installed in",
    )
    parser.add_argument(
        "--cached-runs", type=int, default=3, help="fully cached re-runs to time (median shown)"
    )
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"missing {SHARED}: the shared benchmark tools must sit beside the repo")
    sizes = args.cases or [1_000, 10_000]
    compile_bytecode(args.python)

    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"concurrency {args.concurrency}; 'wall s' with caching off, results stored"
    )
    header = (
        f"{'cases':>7} {'wall s':>8} {'cases/s':>9} {'peak MB':>8} {'stored':>7} "
        f"{'cached s':>9} {'(min-max)':>11}"
    )
    if args.vs_promptfoo:
        header += f" | {'promptfoo s':>11} {'MB':>6} | {'time ratio':>10} {'RSS ratio':>9}"
    print(header)
    peaks: dict[int, float] = {}
    for cases in sizes:
        figures = run_prompteur(cases, args.concurrency, args.python, args.cached_runs)
        ours = figures.cold
        peaks[cases] = ours.peak_rss_mb
        cached = sorted(m.wall_s for m in figures.cached)
        row = (
            f"{cases:>7} {ours.wall_s:>8.2f} {ours.rate(cases):>9.0f} {ours.peak_rss_mb:>8.0f} "
            f"{figures.stored:>7} {statistics.median(cached):>9.2f} "
            f"{f'({cached[0]:.2f}-{cached[-1]:.2f})':>11}"
        )
        if args.vs_promptfoo:
            theirs = run_promptfoo(cases, args.concurrency)
            time_ratio = ours.wall_s / theirs.wall_s
            rss_ratio = ours.peak_rss_mb / theirs.peak_rss_mb
            row += (
                f" | {theirs.wall_s:>11.2f} {theirs.peak_rss_mb:>6.0f} | {time_ratio:>10.3f}"
                f" {rss_ratio:>9.3f}"
            )
            verdict = "met" if time_ratio <= 0.25 and rss_ratio <= 0.25 else "NOT met"
            row += f"  (goal ≤ 0.25 both: {verdict})"
        print(row, flush=True)
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        print(
            f"peak RSS at {large:,} cases is {peaks[large] / peaks[small]:.2f}x that at "
            f"{small:,} ({large / small:.0f}x the cases): "
            f"{(peaks[large] - peaks[small]) * 1024 / (large - small):.1f} KB more per case"
        )


if __name__ == "__main__":
    main()
