"""Run every example config of a promptfoo checkout with prompteur, on the echo provider.

    .venv/bin/python bench/promptfoo_examples.py PATH_TO_PROMPTFOO_CHECKOUT [--list-refused]

A config is a YAML or JSON file under ``examples/`` whose top level is a mapping with
``prompts``, ``providers``, ``targets`` or ``redteam`` beside ``tests``, ``prompts``,
``redteam`` or ``scenarios`` (315 files at promptfoo 0.118.17). Each runs as
``prompteur eval -c FILE -p echo --grader echo`` in its own folder, on a throwaway store,
so their providers and graders are replaced by the echo provider and nothing leaves this
machine. A red-team config (one with a ``redteam:`` section, which promptfoo runs with
``promptfoo redteam run``) runs as ``prompteur redteam FILE -p echo`` instead. The
checkout is read, never written: reports and stores go to a temporary folder.

Prints how many ran (exit 0 or 1), how many were refused in one ``error:`` line (exit 2),
grouped by reason, and how many crashed (a traceback, another exit code, or a time-out),
with the traceback's last line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PROMPTEUR = Path(sys.executable).with_name("prompteur")

# Refusal reasons, grouped by what they need; the first pattern that matches an error line wins.
REASONS: list[tuple[str, str]] = [
    (r"redteam|'targets'|red-team|red-teaming", "red-team config"),
    (r"unknown provider|provider type|provider '.*' is not|no provider", "provider"),
    (r"javascript|\bjs\b|\.js\b|\.mjs\b|\.ts\b|\.cjs\b", "javascript"),
    (r"transform", "transform"),
    (r"unknown assertion type", "assertion type"),
    (r"image|audio|pdf|content part|multimodal", "multimodal"),
    (r"extensions", "extensions"),
    (r"scenarios", "scenarios"),
    (r"derivedMetrics|storeOutputAs", "derivedMetrics/storeOutputAs"),
    (r"no such file|not found|does not exist|cannot read|can't read", "missing file"),
    (r"unknown key|unknown config key|not allowed|extra", "unknown key"),
]


def example_configs(root: Path) -> Iterator[Path]:
    for path in sorted((root / "examples").rglob("*")):
        if path.suffix not in {".yaml", ".yml", ".json"} or "node_modules" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        runs_something = {"prompts", "providers", "targets", "redteam"} & data.keys()
        has_cases = {"tests", "prompts", "redteam", "scenarios"} & data.keys()
        if runs_something and has_cases:
            yield path


def classify(error_line: str) -> str:
    for pattern, reason in REASONS:
        if re.search(pattern, error_line, re.IGNORECASE):
            return reason
    return "other"


def is_redteam(config: Path) -> bool:
    text = config.read_text(encoding="utf-8")
    data = json.loads(text) if config.suffix == ".json" else yaml.safe_load(text)
    return isinstance(data, dict) and "redteam" in data


def run_in_folder(
    config: Path, command: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str] | None:
    """``command`` run in ``config``'s folder with its output captured; None past ``timeout``."""
    try:
        return subprocess.run(
            command,
            cwd=config.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None


def run_one(config: Path, work: Path, timeout: float) -> tuple[str, str]:
    """('ran' | 'refused' | 'crashed', detail)."""
    store = work / "store.db"
    store.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PROMPTEUR_DB": str(store),
        "NO_COLOR": "1",
        "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "unused"),
    }
    if is_redteam(config):
        command = [str(PROMPTEUR), "redteam", config.name, "-p", "echo"]
    else:
        command = [str(PROMPTEUR), "eval", "-c", config.name, "-p", "echo", "--grader", "echo"]
    command += ["--no-progress", "--no-cache", "-o", str(work / "out.json")]
    done = run_in_folder(config, command, env, timeout)
    if done is None:
        return "crashed", f"no end after {timeout:g} s"
    err = done.stderr
    if "Traceback (most recent call last)" in err:
        last = [line for line in err.strip().splitlines() if line.strip()][-1]
        return "crashed", last
    if done.returncode in (0, 1):
        return "ran", ""
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    if done.returncode == 2 and len(lines) == 1:
        return "refused", lines[0]
    tail = " | ".join(err.strip().splitlines()[-3:])
    return "crashed", f"exit {done.returncode}, {len(lines)} error lines: {tail[:300]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=Path, help="a promptfoo source checkout")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per config")
    parser.add_argument("--list-refused", action="store_true", help="print every refusal")
    parser.add_argument("--only", help="only configs whose path contains this text")
    parser.add_argument("--json", type=Path, help="write every config's outcome here")
    args = parser.parse_args()

    configs = [c for c in example_configs(args.checkout) if not args.only or args.only in str(c)]
    outcomes: dict[str, tuple[str, str]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pf-examples-") as tmp:
        for config in configs:
            name = str(config.relative_to(args.checkout / "examples"))
            outcomes[name] = run_one(config, Path(tmp), args.timeout)
    elapsed = time.perf_counter() - started

    counts = Counter(kind for kind, _ in outcomes.values())
    reasons = Counter(classify(d) for kind, d in outcomes.values() if kind == "refused")
    print(f"{len(configs)} configs in {elapsed:.0f} s: ran {counts['ran']}, ", end="")
    print(f"refused {counts['refused']}, crashed {counts['crashed']}")
    print("refused, by reason:")
    for reason, count in reasons.most_common():
        print(f"  {count:4d}  {reason}")
    for name, (kind, detail) in outcomes.items():
        if kind == "crashed" or (kind == "refused" and args.list_refused):
            print(f"{kind}: {name}: {detail}")
    if args.json:
        args.json.write_text(json.dumps(outcomes, indent=1))


if __name__ == "__main__":
    main()
