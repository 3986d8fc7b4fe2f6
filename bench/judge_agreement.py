"""How far can a judge be trusted? Agreement of model-graded assertions with human labels.

Runs llm-rubric, model-graded-closedqa and g-eval over a labelled set of (question,
answer, rubric, human verdict) written by the project (bench/data/judge_labels.jsonl), with
each judge: the embedded model always, and an OpenAI-compatible endpoint when one is given
(or, with --serve-llama, a llama.cpp server started here on the embedded model). Prints,
per judge and assertion type, accuracy against the human verdicts (overall and on the
hard items: near-misses, subtle errors, right answers phrased to mislead), Cohen's kappa
with a 95% bootstrap interval, grading errors (counted as disagreements), and what grading
cost in time and tokens, beside the majority-class baseline.

Every rubric states what a right answer says, so the rubric alone can be judged:
llm-rubric shows the judge only the output and the rubric, never the question.

    python bench/judge_agreement.py
    python bench/judge_agreement.py --endpoint http://127.0.0.1:8000/v1 --model my-model
    python bench/judge_agreement.py --serve-llama
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prompteur

HERE = Path(__file__).resolve().parent
LABELS = HERE / "data" / "judge_labels.jsonl"
TYPES = ("llm-rubric", "model-graded-closedqa", "g-eval")


@dataclass
class Agreement:
    judge: str
    type: str
    items: int
    agreed: int
    errors: int
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    hard_items: int
    hard_agreed: int
    seconds: float
    tokens: int
    said_pass: int


def cohen_kappa(human: list[bool], judge: list[bool | None]) -> float | None:
    """Cohen's kappa of two raters on pass/fail; a missing verdict counts as the opposite
    of the human's (a judge that cannot answer does not agree)."""
    votes = [j if j is not None else not h for h, j in zip(human, judge, strict=True)]
    n = len(human)
    observed = sum(h == v for h, v in zip(human, votes, strict=True)) / n
    p_human = sum(human) / n
    p_judge = sum(votes) / n
    expected = p_human * p_judge + (1 - p_human) * (1 - p_judge)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def bootstrap_kappa(
    human: list[bool], judge: list[bool | None], rounds: int = 2000, seed: int = 7
) -> tuple[float | None, float | None]:
    """The 95% percentile bootstrap interval of kappa, resampling items."""
    rng = random.Random(seed)
    n = len(human)
    values = []
    for _ in range(rounds):
        picks = [rng.randrange(n) for _ in range(n)]
        kappa = cohen_kappa([human[i] for i in picks], [judge[i] for i in picks])
        if kappa is not None:
            values.append(kappa)
    if len(values) < rounds // 2:
        return None, None
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


def load_labels(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def measure(judge_label: str, judge: Any, kind: str, labels: list[dict[str, Any]]) -> Agreement:
    suite = {
        "description": f"judge agreement: {kind}",
        "prompts": ["{{answer}}"],
        "providers": ["echo"],
        "defaultTest": {"options": {"provider": judge}},
        "tests": [
            {
                "description": f"item {i}",
                "vars": {"question": item["question"], "answer": item["answer"]},
                "assert": [{"type": kind, "value": item["rubric"]}],
            }
            for i, item in enumerate(labels)
        ],
    }
    started = time.perf_counter()
    result = prompteur.evaluate(
        suite, options=prompteur.EvalOptions(max_concurrency=4), cache=False
    )
    seconds = time.perf_counter() - started
    by_item = {r.test_index: r for r in result.results}
    human = [item["human"] == "pass" for item in labels]
    verdicts: list[bool | None] = []
    for index in range(len(labels)):
        cell = by_item[index]
        verdicts.append(None if cell.error is not None else cell.status == "pass")
    agrees = [v is not None and v == h for v, h in zip(verdicts, human, strict=True)]
    hard = [item.get("kind") == "hard" for item in labels]
    tokens = sum(
        (r.grader_prompt_tokens or 0) + (r.grader_completion_tokens or 0) for r in result.results
    )
    low, high = bootstrap_kappa(human, verdicts)
    return Agreement(
        judge_label,
        kind,
        len(labels),
        sum(agrees),
        sum(v is None for v in verdicts),
        cohen_kappa(human, verdicts),
        low,
        high,
        sum(hard),
        sum(a for a, h in zip(agrees, hard, strict=True) if h),
        seconds,
        tokens,
        sum(v is True for v in verdicts),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server() -> Iterator[str]:
    """The embedded model behind llama.cpp's OpenAI-compatible server, on 127.0.0.1."""
    from prompteur.providers._local import default_model_path

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(default_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit("the llama.cpp server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--endpoint", help="an OpenAI-compatible base URL (…/v1) to judge too")
    parser.add_argument("--model", default="judge", help="the endpoint's model name")
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable with the key"
    )
    parser.add_argument(
        "--serve-llama",
        action="store_true",
        help="judge through a llama.cpp server started here on the embedded model",
    )
    parser.add_argument("--types", nargs="+", default=list(TYPES), choices=TYPES)
    parser.add_argument(
        "--no-embedded", action="store_true", help="judge only with the endpoint given"
    )
    parser.add_argument("--limit", type=int, help="only the first N items (a quick check)")
    args = parser.parse_args()

    labels = load_labels(args.labels)[: args.limit]
    passing = sum(item["human"] == "pass" for item in labels)
    hard = sum(item.get("kind") == "hard" for item in labels)
    majority = max(passing, len(labels) - passing) / len(labels)
    print(
        f"{len(labels)} labelled items ({passing} pass, {len(labels) - passing} fail by the "
        f"human labels; {hard} hard). The majority-class baseline (always answering the "
        f"commoner verdict) agrees on {majority:.0%}, with kappa 0."
    )
    judges: list[tuple[str, Any]] = []
    if not args.no_embedded:
        judges.append(("embedded (SmolLM2-135M, local)", "local"))
    with _maybe_server(args.serve_llama) as served:
        endpoint = args.endpoint or served
        model = "smollm2" if served and not args.endpoint else args.model
        if endpoint:
            config = {"apiBaseUrl": endpoint, "apiKey": os.environ.get(args.api_key_env, "none")}
            judges.append(
                (
                    f"{model} at {endpoint}",
                    {"id": f"openai:chat:{model}", "config": config},
                )
            )
        rows = [
            measure(label, judge, kind, labels) for label, judge in judges for kind in args.types
        ]
    print(
        f"\n{'judge':<36} {'assertion':<22} {'accuracy':>8} {'hard':>5} "
        f"{'kappa [95% CI]':>21} {'errors':>6} {'said pass':>9} {'time':>7} {'tokens':>8}"
    )
    for row in rows:
        kappa = "—" if row.kappa is None else f"{row.kappa:+.2f}"
        if row.kappa_low is not None and row.kappa_high is not None:
            kappa += f" [{row.kappa_low:+.2f}, {row.kappa_high:+.2f}]"
        hard_rate = f"{row.hard_agreed / row.hard_items:.0%}" if row.hard_items else "—"
        print(
            f"{row.judge[:36]:<36} {row.type:<22} {row.agreed / row.items:>8.0%} "
            f"{hard_rate:>5} {kappa:>21} {row.errors:>6} {row.said_pass:>9} "
            f"{row.seconds:>6.0f}s {row.tokens:>8,}"
        )


@contextmanager
def _maybe_server(wanted: bool) -> Iterator[str | None]:
    if not wanted:
        yield None
        return
    with llama_server() as base:
        yield base


if __name__ == "__main__":
    main()
