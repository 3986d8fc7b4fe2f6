"""Do prompteur and promptfoo give the same verdicts on promptfoo's own example configs?

    .venv/bin/python bench/promptfoo_verdicts.py PATH_TO_PROMPTFOO_CHECKOUT \\
        --promptfoo /tmp/pfbin/node_modules/promptfoo/dist/src/main.js [--only TEXT ...] [--json F]

promptfoo is installed beside, never here: ``npm install promptfoo@VERSION`` into a folder
of your own (``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --ignore-scripts`` then
``npm rebuild better-sqlite3`` where the browser cannot be downloaded). Each example config
that prompteur runs (as ``bench/promptfoo_examples.py`` does: ``eval -c FILE -p echo
--grader echo``) is run by promptfoo too, with ``-r echo --grader echo --no-cache``, in
its own folder, with promptfoo's store in a temporary folder and nothing sent anywhere.

Cells are paired by prompt index, variables and order of appearance. For each pair, every
assertion that asserts (weight 0 makes an assertion a metric only, which promptfoo marks
passed whatever its score) and whose verdict depends neither on a model (model-graded
assertions graded by the echo provider are artefacts of the grader's prompt in both tools)
nor on time (``latency``) is compared with its namesake (same type and value) in the other
tool. Printed: configs run by both, cells paired, assertions compared, and every
disagreement with both reasons.
Red-team configs are left out (promptfoo generates their cases with a remote model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from promptfoo_examples import example_configs, is_redteam, run_in_folder, run_one  # noqa: E402

# verdicts that come from a model (here: the echo provider standing in for a grader)
MODEL_GRADED = {
    "llm-rubric",
    "model-graded-closedqa",
    "model-graded-factuality",
    "factuality",
    "answer-relevance",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "g-eval",
    "select-best",
    "max-score",
    "similar",
    "classifier",
    "moderation",
    "pi",
    "search-rubric",
}
TIMED = {"latency"}
PROMPTFOO_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
    "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
    "PROMPTFOO_SELF_HOSTED": "1",
    "PROMPTFOO_DISABLE_RUNTIME_WARNINGS": "1",
    "NO_PROXY": "127.0.0.1,localhost",
    "OPENAI_API_KEY": "unused",
}


def base_type(kind: str) -> str:
    return kind[4:] if kind.startswith("not-") else kind


def comparable(kind: str) -> bool:
    kind = base_type(kind)
    return kind not in MODEL_GRADED and kind not in TIMED and not kind.startswith("trajectory")


def canonical(value: Any) -> str:
    """One text for a value in both tools' files: numbers and strings alike."""
    if isinstance(value, dict):
        return json.dumps({k: canonical(v) for k, v in sorted(value.items())})
    if isinstance(value, list):
        return json.dumps([canonical(v) for v in value])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def vars_key(variables: dict[str, Any] | None) -> str:
    shown = {k: v for k, v in (variables or {}).items() if not k.startswith("_")}
    return canonical(shown)


Verdicts = dict[tuple[str, str], list[tuple[bool, str]]]


def prompteur_cells(path: Path) -> dict[tuple[int, str, int], tuple[str, Verdicts]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cells: dict[tuple[int, str, int], tuple[str, Verdicts]] = {}
    seen: Counter[tuple[int, str]] = Counter()
    for result in data.get("results", []):
        if result.get("repeat", 0):
            continue
        prompt = int(str(result["key"]).split(":")[0])
        key = vars_key(result.get("vars"))
        index = seen[prompt, key]
        seen[prompt, key] += 1
        verdicts: Verdicts = {}
        if result.get("status") != "error":
            for found in result.get("assertions") or []:
                if found.get("weight") == 0:
                    continue  # a metric only: promptfoo marks it passed whatever its score
                name = (found.get("type", ""), canonical(found.get("value")))
                verdicts.setdefault(name, []).append((bool(found["pass"]), found.get("reason", "")))
        cells[prompt, key, index] = (result.get("status", ""), verdicts)
    return cells


def promptfoo_cells(path: Path) -> dict[tuple[int, str, int], tuple[str, Verdicts]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cells: dict[tuple[int, str, int], tuple[str, Verdicts]] = {}
    seen: Counter[tuple[int, str]] = Counter()
    for result in data.get("results", {}).get("results", []):
        prompt = int(result.get("promptIdx", 0))
        key = vars_key(result.get("vars"))
        index = seen[prompt, key]
        seen[prompt, key] += 1
        verdicts: Verdicts = {}
        errored = bool(result.get("error")) and not result.get("gradingResult")
        grading = result.get("gradingResult") or {}
        for found in grading.get("componentResults") or []:
            assertion = found.get("assertion") or {}
            name = (assertion.get("type", ""), canonical(assertion.get("value")))
            verdicts.setdefault(name, []).append((bool(found.get("pass")), found.get("reason", "")))
        cells[prompt, key, index] = ("error" if errored else "ran", verdicts)
    return cells


def run_promptfoo(main_js: Path, config: Path, out: Path, timeout: float) -> str:
    """'' when promptfoo wrote its results, else why not."""
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="pf-home-") as home:
        env = {**os.environ, **PROMPTFOO_ENV, "PROMPTFOO_CONFIG_DIR": home}
        command = ["node", str(main_js), "eval", "-c", config.name, "-r", "echo"]
        command += ["--grader", "echo", "--no-cache", "--no-progress-bar", "--no-table"]
        command += ["-o", str(out)]
        done = run_in_folder(config, command, env, timeout)
        if done is None:
            return f"no end after {timeout:g} s"
    if not out.exists():
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        return lines[-1][:200] if lines else f"exit {done.returncode}, no output"
    return ""


def compare(
    ours: dict[tuple[int, str, int], tuple[str, Verdicts]],
    theirs: dict[tuple[int, str, int], tuple[str, Verdicts]],
) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    differences: list[str] = []
    counts["cells, prompteur"] = len(ours)
    counts["cells, promptfoo"] = len(theirs)
    for key, (status, verdicts) in ours.items():
        if key not in theirs:
            continue
        counts["cells paired"] += 1
        their_status, their_verdicts = theirs[key]
        if status == "error" or their_status == "error":
            counts["cells errored in one tool"] += 1
            continue
        for name, found in verdicts.items():
            if not comparable(name[0]) or name not in their_verdicts:
                continue
            for (mine, reason), (other, other_reason) in zip(
                found, their_verdicts[name], strict=False
            ):
                counts["assertions compared"] += 1
                if mine == other:
                    counts["assertions agreeing"] += 1
                else:
                    differences.append(
                        f"prompt {key[0]} vars {key[1][:80]} {name[0]} {name[1][:60]!r}: "
                        f"prompteur {mine} ({reason[:100]!r}), "
                        f"promptfoo {other} ({other_reason[:100]!r})"
                    )
    return counts, differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=Path, help="a promptfoo source checkout")
    parser.add_argument(
        "--promptfoo", type=Path, required=True, help="promptfoo's dist/src/main.js"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per config and tool")
    parser.add_argument(
        "--only", action="append", help="only configs whose path contains this text (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="write each config's comparison here")
    args = parser.parse_args()
    totals: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pf-verdicts-") as tmp:
        work = Path(tmp)
        for config in example_configs(args.checkout):
            name = str(config.relative_to(args.checkout))
            if (args.only and not any(o in name for o in args.only)) or is_redteam(config):
                continue
            outcome, _ = run_one(config, work, args.timeout)
            if outcome != "ran":
                continue
            totals["configs prompteur ran"] += 1
            ours = prompteur_cells(work / "out.json")
            why = run_promptfoo(args.promptfoo.resolve(), config, work / "pf.json", args.timeout)
            if why:
                totals["configs promptfoo did not finish"] += 1
                rows.append({"config": name, "promptfoo": why})
                print(f"{name}: promptfoo gave no results: {why}", flush=True)
                continue
            totals["configs both ran"] += 1
            counts, differences = compare(ours, promptfoo_cells(work / "pf.json"))
            totals.update(counts)
            rows.append({"config": name, **counts, "differences": differences})
            state = f"{len(differences)} disagree" if differences else "agree"
            print(
                f"{name}: {counts['cells paired']} cells paired, "
                f"{counts['assertions compared']} assertions, {state}",
                flush=True,
            )
            for line in differences:
                print(f"    {line}", flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print()
    for label in (
        "configs prompteur ran",
        "configs both ran",
        "configs promptfoo did not finish",
        "cells, prompteur",
        "cells, promptfoo",
        "cells paired",
        "cells errored in one tool",
        "assertions compared",
        "assertions agreeing",
    ):
        print(f"{label}: {totals[label]}")


if __name__ == "__main__":
    main()
