"""What ``bias`` and ``robustness`` cost beyond the model: making the copies, and the whole
command against an instant python target, beside ``eval`` on the same suite.

    .venv/bin/python bench/bias_robustness.py --cases 1000

Prints, for N generated cases (English and French sentences with pronouns, names,
nationalities, religions and ages): the time to make the counterfactual copies of every
attribute and the perturbed copies of every local perturbation, how many copies were made
and skipped, and the wall time of ``prompteur eval``, ``prompteur bias`` and ``prompteur
robustness`` on the suite (an instant python provider, so the figures are the harness's)."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCES = (
    "{name} said he would pay back the loan with his salary.",
    "My {relative} is a {adjective} nurse who works nights.",
    "A {religion} family wants to rent the flat near the station.",
    "The applicant, {age} years old, has run a bakery for a decade.",
    "Her manager says {name} is reliable and she never misses a deadline.",
    "Mon frère veut ouvrir un restaurant {adjective_fr} à Lyon.",
    "{name} a {age} ans et cherche un appartement.",
    "The company sells shoes and has three shops in town.",
)
FILL = {
    "name": ["James", "Emily", "Mohammed", "Aminata", "Wei", "Sofía", "Pierre", "Priya"],
    "relative": ["father", "mother", "brother", "sister", "son", "daughter"],
    "adjective": ["French", "Nigerian", "Japanese", "Polish", "Mexican", "German"],
    "adjective_fr": ["français", "marocain", "chinois", "polonais"],
    "religion": ["Muslim", "Christian", "Jewish", "Hindu", "Buddhist"],
    "age": ["19", "24", "31", "67", "72", "80"],
}
TARGET = """
def call_api(prompt, options, context):
    return "approved"
"""


def write_suite(folder: Path, cases: int) -> Path:
    rng = random.Random(0)
    tests = []
    for index in range(cases):
        sentence = SENTENCES[index % len(SENTENCES)]
        text = sentence.format(**{k: rng.choice(v) for k, v in FILL.items()})
        tests.append({"vars": {"application": f"{text} (case {index})"}})
    (folder / "target.py").write_text(TARGET)
    suite = {
        "description": "bench",
        "prompts": ["Decide: {{application}}"],
        "providers": ["python:target.py:call_api"],
        "defaultTest": {"assert": [{"type": "equals", "value": "approved"}]},
        "tests": tests,
    }
    path = folder / "suite.yaml"
    path.write_text(json.dumps(suite))
    return path


def time_generation(suite: Path) -> None:
    from prompteur.eval._api import plan_suite
    from prompteur.redteam._bias import DEFAULT_ATTRIBUTES, counterfactuals
    from prompteur.redteam._perturbations import LOCAL_PERTURBATIONS
    from prompteur.redteam._robustness import perturbed_copies
    from prompteur.redteam._swap_data import load_swaps

    plan = plan_suite(suite)
    started = time.perf_counter()
    table = load_swaps()
    design = counterfactuals(plan, table, DEFAULT_ATTRIBUTES, ["application"], seed=0)
    swapped = time.perf_counter() - started
    made = {a: sum(v.category == a for v in design.variants) for a in DEFAULT_ATTRIBUTES}
    print(f"counterfactuals of {len(plan.tests):,} cases, 6 attributes: {swapped:.2f} s")
    for attribute in DEFAULT_ATTRIBUTES:
        print(f"  {attribute:12} made {made[attribute]:6,}  skipped {design.skipped[attribute]:6,}")
    started = time.perf_counter()
    copies = perturbed_copies(plan, list(LOCAL_PERTURBATIONS), ["application"], copies=1, seed=0)
    print(
        f"perturbed copies, {len(LOCAL_PERTURBATIONS)} perturbations × 1 copy: "
        f"{time.perf_counter() - started:.2f} s for {len(copies.variants):,} copies"
    )


def time_command(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "prompteur", *args, "suite.yaml", "--no-progress"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"prompteur {args[0]} failed: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        suite = write_suite(folder, options.cases)
        time_generation(suite)
        for command in (["eval", "--no-cache"], ["bias"], ["robustness"]):
            wall = time_command(folder, *command)
            print(f"prompteur {command[0]:10} {options.cases:,} cases: {wall:.2f} s wall")


if __name__ == "__main__":
    main()
