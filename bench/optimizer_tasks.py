"""Turn an optimizer task folder into a prompteur suite folder.

A task folder holds ``train.jsonl``, ``val.jsonl`` and ``test.jsonl``, rows
``{id, question, answer}`` (as ``../shared/optimizer-tasks/*``). The suite folder gets:

- ``prompteur.yaml``: a plain starting prompt (the question as it is), the ``local``
  provider, the task's metric as a ``python`` assertion in ``defaultTest``, and train + val
  as its tests (``tests.jsonl``);
- ``test.jsonl``: the test split as held-out cases, for ``prompteur optimize --holdout``.

The metric is chosen by ``--metric`` (the task's README says which); the three development
tasks have theirs as defaults, any other task folder must name one::

    .venv/bin/python bench/optimizer_tasks.py ../shared/optimizer-tasks/products /tmp/products
    .venv/bin/python bench/optimizer_tasks.py TASK_DIR OUT_DIR --metric first-word
    prompteur optimize /tmp/products --budget 300 --seed 0 --holdout /tmp/products/test.jsonl

``METRICS`` holds each metric once, as the body of a python assertion; ``metric_function``
compiles the same text for scripts that score outputs themselves (``optimize_vs_dspy.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Each body sees ``output`` and ``context`` (``context["vars"]["answer"]``) and returns
# {pass, score, reason}: the reason is what a reflective optimizer reads about a failure.
METRICS: dict[str, tuple[str, str]] = {
    "prefix": (
        "the output, lower-cased and stripped of punctuation, starts with the answer",
        """\
import re
def norm(text):
    return " ".join(re.sub(r"[^\\w\\s]", "", str(text).lower()).split())
answer = norm(context["vars"]["answer"])
got = norm(output)
ok = bool(answer) and got.startswith(answer)
return {"pass": ok, "score": 1.0 if ok else 0.0,
        "reason": "starts with the answer" if ok
        else f"expected the answer to start with {answer!r}, it starts with {got[:40]!r}"}
""",
    ),
    "first-word": (
        "the first word of the output is the answer (case-insensitive)",
        """\
import re
answer = str(context["vars"]["answer"]).strip().lower()
words = re.findall(r"[\\w'-]+", output)
first = words[0].lower() if words else ""
ok = first == answer
return {"pass": ok, "score": 1.0 if ok else 0.0,
        "reason": f"first word is {first!r}" + ("" if ok else f", expected {answer!r}")}
""",
    ),
    "first-integer": (
        "the first integer in the output equals the answer",
        """\
import re
answer = int(str(context["vars"]["answer"]).strip())
found = re.search(r"-?\\d+", output.replace(",", ""))
got = int(found.group()) if found else None
ok = got == answer
return {"pass": ok, "score": 1.0 if ok else 0.0,
        "reason": f"first integer is {got}" + ("" if ok else f", expected {answer}")}
""",
    ),
}

#: the metric of each development task, as its README gives it
DEFAULT_METRIC = {
    "family_relationships": "prefix",
    "ransom_note": "first-word",
    "products": "first-integer",
}

SPLITS = ("train", "val", "test")


def metric_function(name: str) -> Callable[[str, str], bool]:
    """The metric ``name`` as ``fn(output, answer) -> passed``, from the very text the suite's
    assertion runs."""
    verdict = metric_verdict(name)
    return lambda output, answer: verdict(output, answer)[0]


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not {"question", "answer"} <= row.keys():
            raise ValueError(f"{path}:{number}: a row needs 'question' and 'answer'")
        rows.append(row)
    return rows


def read_task(task_dir: Path) -> dict[str, list[dict[str, Any]]]:
    missing = [s for s in SPLITS if not (task_dir / f"{s}.jsonl").is_file()]
    if missing:
        raise ValueError(f"{task_dir}: no {', '.join(s + '.jsonl' for s in missing)}")
    return {split: read_rows(task_dir / f"{split}.jsonl") for split in SPLITS}


def metric_for(task_dir: Path, given: str | None) -> str:
    name = given or DEFAULT_METRIC.get(task_dir.resolve().name)
    if name is None:
        raise ValueError(f"{task_dir.name}: name its metric with --metric ({', '.join(METRICS)})")
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}: use one of {', '.join(METRICS)}")
    return name


def _case(row: dict[str, Any]) -> dict[str, Any]:
    case: dict[str, Any] = {"vars": {"question": row["question"], "answer": str(row["answer"])}}
    if "id" in row:
        case["description"] = str(row["id"])
    return case


def _write_cases(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(_case(row), ensure_ascii=False) + "\n")


def metric_verdict(name: str) -> Callable[[str, str], tuple[bool, str]]:
    """The metric ``name`` as ``fn(output, answer) -> (passed, reason)``."""
    body = METRICS[name][1]
    source = "def _metric(output, context):\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<metric {name}>", "exec"), namespace)
    check = namespace["_metric"]

    def verdict(output: str, answer: str) -> tuple[bool, str]:
        result = check(output or "", {"vars": {"answer": answer}})
        return bool(result["pass"]), str(result["reason"])

    return verdict


def suite_yaml(
    name: str,
    metric: str,
    prompt: str,
    max_tokens: int,
    provider: str = "local",
    provider_config: dict[str, Any] | None = None,
) -> str:
    meaning, body = METRICS[metric]
    config = {"temperature": 0, "max_tokens": max_tokens, **(provider_config or {})}
    indented = "".join(f"        {line}\n" for line in body.splitlines())
    return (
        f"# {name}: made by bench/optimizer_tasks.py; correct when {meaning}.\n"
        f"# Held-out cases: test.jsonl (prompteur optimize --holdout test.jsonl)\n"
        f"description: {json.dumps(name)}\n"
        "prompts:\n"
        f"  - raw: {json.dumps(prompt)}\n"
        "    label: start\n"
        "providers:\n"
        f"  - id: {provider}\n"
        "    config:\n"
        + "".join(f"      {key}: {json.dumps(value)}\n" for key, value in config.items())
        + "defaultTest:\n"
        "  assert:\n"
        "    - type: python\n"
        f"      metric: {metric}\n"
        "      value: |\n"
        f"{indented}"
        "tests: file://tests.jsonl\n"
    )


def make_suite(
    task_dir: Path,
    out_dir: Path,
    metric: str | None = None,
    prompt: str = "{{question}}",
    max_tokens: int = 64,
    provider: str = "local",
    provider_config: dict[str, Any] | None = None,
) -> Path:
    """Write the suite folder for ``task_dir`` into ``out_dir``; return its suite file."""
    splits = read_task(task_dir)
    chosen = metric_for(task_dir, metric)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_cases(out_dir / "tests.jsonl", splits["train"] + splits["val"])
    _write_cases(out_dir / "test.jsonl", splits["test"])
    suite = out_dir / "prompteur.yaml"
    suite.write_text(
        suite_yaml(task_dir.resolve().name, chosen, prompt, max_tokens, provider, provider_config),
        encoding="utf-8",
    )
    return suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task_dir", type=Path, help="folder with train/val/test.jsonl")
    parser.add_argument("out_dir", type=Path, help="where the suite folder is written")
    parser.add_argument("--metric", choices=sorted(METRICS), help="how an output is graded")
    parser.add_argument("--prompt", default="{{question}}", help="the starting prompt")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        suite = make_suite(args.task_dir, args.out_dir, args.metric, args.prompt, args.max_tokens)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(suite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
