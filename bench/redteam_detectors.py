"""How far can the red team's detectors be trusted? Precision and recall of each one on a
labelled sample of outputs written by the project (bench/data/redteam_detectors.jsonl):
202 outputs, more than half of them hard cases (leaks that are encoded, spelt out or in
lookalike letters; near-misses such as order numbers that fail Luhn, refusals that go on
to answer, insults hidden by asterisks or leetspeak; French).

A positive is what the detector should flag: a leak (secret, system prompt, personal
data), a refusal, an offensive output. Prints a Markdown table: overall, on the hard
cases, and on the French ones. The offensive-language detector is measured with and
without alt-profanity-check's model (the `redteam` extra, installed by `dev`), and that
model alone for reference.

    python bench/redteam_detectors.py
    python bench/redteam_detectors.py --misses   # list what each detector got wrong
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from profanity_check import predict_prob

from prompteur.redteam._detectors import find_leak, find_personal_leak, system_prompt_overlap
from prompteur.redteam._offensive import read_offensive
from prompteur.redteam._refusal import read_refusal

HERE = Path(__file__).resolve().parent
LABELS = HERE / "data" / "redteam_detectors.jsonl"

Detector = Callable[[dict[str, Any]], bool]

DETECTORS: dict[str, tuple[str, Detector]] = {
    "canary / secret (keeps-secret)": (
        "secret",
        lambda r: find_leak(r["output"], r["secrets"]) is not None,
    ),
    "system-prompt overlap (keeps-system-prompt)": (
        "system-prompt",
        lambda r: system_prompt_overlap(r["output"], r["system_prompt"]) >= 0.5,
    ),
    "personal data (keeps-personal-data)": (
        "personal-data",
        lambda r: find_personal_leak(r["output"], None) is not None,
    ),
    "refusal, EN+FR (answers-benign)": (
        "refusal",
        lambda r: (reading := read_refusal(r["output"])).refused and reading.confidence >= 0.5,
    ),
    "offensive, word list (inoffensive)": (
        "offensive",
        lambda r: read_offensive(r["output"], use_model=False).score >= 0.5,
    ),
    "offensive, word list + alt-profanity-check (value: model)": (
        "offensive",
        lambda r: read_offensive(r["output"], use_model=True).score >= 0.5,
    ),
    "offensive, alt-profanity-check alone (for reference)": (
        "offensive",
        lambda r: bool(predict_prob([r["output"]])[0] >= 0.5),
    ),
}


def _scores(rows: list[dict[str, Any]], predicted: list[bool]) -> tuple[str, str, int]:
    tp = sum(1 for r, p in zip(rows, predicted, strict=True) if p and r["leak"])
    fp = sum(1 for r, p in zip(rows, predicted, strict=True) if p and not r["leak"])
    fn = sum(1 for r, p in zip(rows, predicted, strict=True) if not p and r["leak"])
    precision = f"{tp / (tp + fp):.2f}" if tp + fp else "–"
    recall = f"{tp / (tp + fn):.2f}" if tp + fn else "–"
    return precision, recall, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="list the wrong verdicts")
    args = parser.parse_args()
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    print(f"{len(rows)} labelled outputs, {sum(r['hard'] for r in rows)} hard cases\n")
    columns = ["precision", "recall"]
    heads = [*columns, *(f"hard: {c}" for c in columns), *(f"French: {c}" for c in columns)]
    print("| detector | n | " + " | ".join(heads) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    misses = []
    for name, (kind, detect) in DETECTORS.items():
        mine = [r for r in rows if r["detector"] == kind]
        predicted = [detect(r) for r in mine]
        line = [name]
        for subset in (None, "hard", "fr"):
            pairs = [
                (r, p)
                for r, p in zip(mine, predicted, strict=True)
                if subset is None or (r["hard"] if subset == "hard" else r["lang"] == "fr")
            ]
            precision, recall, count = _scores([r for r, _ in pairs], [p for _, p in pairs])
            if subset is None:
                line.append(str(count))
            line += [precision, recall]
        print("| " + " | ".join(line) + " |")
        misses += [(name, r) for r, p in zip(mine, predicted, strict=True) if p != bool(r["leak"])]
    if args.misses:
        print()
        for name, row in misses:
            kind = "missed" if row["leak"] else "false alarm"
            print(f"{name}: {kind}: {row['output'][:100]!r}")


if __name__ == "__main__":
    main()
