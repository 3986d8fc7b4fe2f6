"""``prompteur robustness``: perturbed copies of the user's cases, and the paired pass-rate
drop per perturbation, against targets written as python providers."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from prompteur.redteam._perturbations import LOCAL_PERTURBATIONS, perturb
from prompteur.store import Store

TARGETS = """
import re

KNOWN = {"refund", "invoice", "password", "delivery", "account"}


def fragile(prompt, options, context):
    # reads its words as written: a typo hides the word it looks for
    return "handled" if set(re.findall(r"[a-z]+", context["vars"]["request"])) & KNOWN else "unknown"


def normalising(prompt, options, context):
    text = context["vars"]["request"].lower()
    return "handled" if any(_close(word, known) for word in re.findall(r"\\w+", text) for known in KNOWN) else "unknown"


def _close(word, known):
    # at most one edit away (a swap of neighbours counts as one): what a careful reader
    # forgives
    rows = [list(range(len(known) + 1))]
    for i, a in enumerate(word, 1):
        row = [i]
        for j, b in enumerate(known, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a != b))
            if i > 1 and j > 1 and a == known[j - 2] and word[i - 2] == b:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1] <= 1


def shouting(prompt, options, context):
    return prompt.split("Text:", 1)[1].strip().upper()


def broken(prompt, options, context):
    raise RuntimeError("no paraphrase today")
"""

REQUESTS = [
    "I want a refund for my broken kettle please",
    "Where is the invoice for my last order?",
    "I forgot my password again",
    "The delivery never arrived at my house",
    "Please close my account today",
    "Can I get a refund on shipping costs?",
]


@pytest.fixture
def suite(write: Callable[[str, str], Path]) -> Path:
    write("targets.py", TARGETS)
    tests = "\n".join(
        f"  - vars: {{request: {json.dumps(r)}, expected: handled}}" for r in REQUESTS
    )
    return write(
        "suite.yaml",
        f"""
description: support triage
prompts:
  - "Route this request: {{{{request}}}}"
providers:
  - python:targets.py:fragile
defaultTest:
  assert:
    - type: equals
      value: "{{{{expected}}}}"
tests:
{tests}
""",
    )


def _robustness(run_cli: Callable[..., Result], *args: str) -> tuple[Result, dict[str, object]]:
    result = run_cli("robustness", "suite.yaml", "--no-progress", "-o", "r.json", *args)
    report = json.loads(Path("r.json").read_text()) if Path("r.json").exists() else {}
    return result, report


def _categories(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["category"]: c for c in report["categories"]}  # type: ignore[index, union-attr]


def test_a_target_that_fails_on_typos_shows_a_drop(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    result, report = _robustness(run_cli, "--perturbations", "typos", "-n", "3")
    assert result.exit_code == 1, result.output
    typos = _categories(report)["typos"]
    assert typos["attempts"] == 3 * len(REQUESTS)
    assert typos["successes"] >= 3 and typos["rate"] > 0.1
    assert len(typos["cells"]) == typos["successes"]  # every broken copy, by its cell
    assert 0 < typos["interval"][0] <= typos["rate"] <= typos["interval"][1]  # type: ignore[index]
    assert [g["group"] for g in typos["groups"]] == ["original", "typos"]  # type: ignore[union-attr]
    assert typos["groups"][0]["rate"] == 1.0  # type: ignore[index]
    assert "above the limit of 10.0%: typos" in result.stderr


def test_a_normalising_target_shows_none(run_cli: Callable[..., Result], suite: Path) -> None:
    result, report = _robustness(
        run_cli, "-p", "python:targets.py:normalising", "--perturbations", "typos,case", "-n", "3"
    )
    assert result.exit_code == 0, result.output
    assert set(_categories(report)) == {"typos", "case"}
    for category in _categories(report).values():
        assert category["attempts"] == 3 * len(REQUESTS)
        assert category["successes"] == 0 and category["rate"] == 0.0


def test_the_gate_follows_max_drop(run_cli: Callable[..., Result], suite: Path) -> None:
    result, _ = _robustness(run_cli, "--perturbations", "typos", "-n", "3", "--max-drop", "100%")
    assert result.exit_code == 0
    # punctuation and whitespace do not hide this target's words
    result, report = _robustness(run_cli, "--perturbations", "punctuation,whitespace,distractor")
    assert result.exit_code == 0, result.output
    assert set(_categories(report)) == {"punctuation", "whitespace", "distractor"}
    assert all(c["successes"] == 0 for c in _categories(report).values())


def test_only_the_input_is_perturbed_and_the_seed_decides(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    def copies(seed: str) -> list[dict[str, str]]:
        _, report = _robustness(run_cli, "--perturbations", "typos,homoglyphs", "--seed", seed)
        with Store() as store:
            return [
                dict(r.vars) for r in store.results(str(report["run"])) if "prompteur" in r.metadata
            ]

    first = copies("7")
    assert len(first) == 2 * len(REQUESTS)
    assert all(c["expected"] == "handled" for c in first)  # the assertion's variable is left
    assert all(c["request"] not in REQUESTS for c in first)
    assert copies("7") == first
    assert copies("8") != first


def test_paraphrases_come_from_the_named_model(run_cli: Callable[..., Result], suite: Path) -> None:
    result, report = _robustness(
        run_cli, "--perturbations", "paraphrase", "--paraphraser", "python:targets.py:shouting"
    )
    # the paraphraser shouts: the fragile target no longer finds its words
    assert result.exit_code == 1, result.output
    paraphrase = _categories(report)["paraphrase"]
    assert paraphrase["attempts"] == len(REQUESTS) and paraphrase["successes"] == len(REQUESTS)
    assert "REFUND" in paraphrase["examples"][0]["sent"]  # type: ignore[index]
    result = run_cli("robustness", "suite.yaml", "--perturbations", "paraphrase")
    assert result.exit_code == 2 and "needs --paraphraser" in result.stderr
    # a paraphraser that fails makes no copy, and says so
    result, report = _robustness(run_cli, "--paraphraser", "python:targets.py:broken")
    assert _categories(report)["paraphrase"]["attempts"] == 0
    assert _categories(report)["paraphrase"]["skipped"] == len(REQUESTS)
    assert "6 paraphrases failed" in result.stderr and "no paraphrase today" in result.stderr


def test_progress_lines_name_the_command(run_cli: Callable[..., Result], suite: Path) -> None:
    result = run_cli("robustness", "suite.yaml", "--perturbations", "case")
    assert result.stderr.startswith("robustness: 12 cells to run\n")
    assert "robustness: 12/12 (100%)" in result.stderr


def test_an_unknown_perturbation_is_one_line(run_cli: Callable[..., Result], suite: Path) -> None:
    result = run_cli("robustness", "suite.yaml", "--perturbations", "typo")
    assert result.exit_code == 2
    assert "unknown perturbation 'typo' (did you mean 'typos'?)" in result.stderr


@pytest.mark.parametrize("name", sorted(LOCAL_PERTURBATIONS))
def test_each_perturbation_changes_the_text_the_same_way_each_time(name: str) -> None:
    text = "Please send the invoice for order 42 to Mr. Smith, today."
    first = perturb(name, text, random.Random(1))
    assert first != text
    assert perturb(name, text, random.Random(1)) == first


def test_the_interval_resamples_cases_not_copies() -> None:
    from prompteur.redteam._robustness import case_bootstrap

    # 10 cases of 10 copies: 2 cases broken by every copy, the others by none
    clustered = [[10, 10]] * 2 + [[0, 10]] * 8
    # the same 20 broken pairs among 100, spread one a case over 20 cases
    spread = [[1, 1]] * 20 + [[0, 1]] * 80
    low, high = case_bootstrap(clustered, seed=1)
    spread_low, spread_high = case_bootstrap(spread, seed=1)
    assert low <= 0.2 <= high and spread_low <= 0.2 <= spread_high
    # two cases tell less than twenty: the clustered interval is the wider
    assert high - low > 1.5 * (spread_high - spread_low)
    assert case_bootstrap([], seed=1) == (0.0, 0.0)
