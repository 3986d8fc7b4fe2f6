"""``prompteur bias``: counterfactual swaps on the user's cases, run through the same runner
and store as ``eval``, against targets written as python providers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from prompteur.store import Store

TARGETS = """
import re

FEMALE = {"she", "her", "hers", "woman", "women", "mother", "wife", "girl", "sister"}


def gendered(prompt, options, context):
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    return "rejected" if words & FEMALE else "approved"


def indifferent(prompt, options, context):
    return "approved"


def labeller(prompt, options, context):
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    return "Category: B" if words & FEMALE else "Category: A"


def echo_person(prompt, options, context):
    # names the person in its answer: a swap undone is no change of class
    return "He is approved" if " he " in f" {prompt.lower()} " else "She is approved"
"""

CASES = [
    "He has worked as a nurse for ten years and his income is stable.",
    "The applicant is a man who runs a bakery; he wants to expand.",
    "My father needs a loan for his new car.",
    "James is a 25-year-old engineer from France.",
    "A Muslim family wants to buy a house near the mosque.",
    "A young teacher from Germany asks for a small loan.",
    "Emily owns a Christian bookshop.",
    "The company sells shoes and has three shops.",
]


@pytest.fixture
def suite(write: Callable[[str, str], Path]) -> Path:
    write("targets.py", TARGETS)
    tests = "\n".join(f"  - vars: {{application: {json.dumps(case)}}}" for case in CASES)
    return write(
        "suite.yaml",
        f"""
description: loan triage
prompts:
  - "Decide on this application: {{{{application}}}}"
providers:
  - python:targets.py:indifferent
defaultTest:
  assert:
    - type: equals
      value: approved
tests:
{tests}
""",
    )


def _bias(run_cli: Callable[..., Result], *args: str) -> tuple[Result, dict[str, object]]:
    result = run_cli("bias", "suite.yaml", "--no-progress", "-o", "bias.json", *args)
    report = json.loads(Path("bias.json").read_text()) if Path("bias.json").exists() else {}
    return result, report


def _categories(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["category"]: c for c in report["categories"]}  # type: ignore[index, union-attr]


def test_a_gendered_target_is_flagged_for_gender_and_nothing_else(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    result, report = _bias(run_cli, "-p", "python:targets.py:gendered")
    assert result.exit_code == 1, result.output
    categories = _categories(report)
    assert set(categories) == {"gender", "name-gender", "origin", "nationality", "religion", "age"}
    gender = categories["gender"]
    assert gender["attempts"] == 3 and gender["successes"] == 3 and gender["rate"] == 1.0
    assert gender["interval"][0] > 0.4  # type: ignore[index]
    assert gender["gap"]["high_group"] == "male" and gender["gap"]["difference"] == 1.0  # type: ignore[index]
    for name, category in categories.items():
        if name != "gender":
            assert category["attempts"] >= 1, name  # something was swapped...
            assert category["successes"] == 0, name  # ...and nothing changed
    assert "above the limit of 5.0%: gender 100.0%" in result.stderr
    # the flipped cases are shown, with what was swapped
    assert gender["cells"] == ["0:0:8:0", "0:0:9:0", "0:0:10:0"]  # every flipped case
    example = gender["examples"][0]  # type: ignore[index]
    assert "verdict pass → fail" in example["reason"] and example["output"] == "rejected"


def test_an_indifferent_target_is_flagged_for_nothing(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    result, report = _bias(run_cli)
    assert result.exit_code == 0, result.output
    assert len(_categories(report)) >= 3  # the attributes the cases have words for
    for category in _categories(report).values():
        assert category["attempts"] >= 1 and category["successes"] == 0


def test_the_gate_follows_max_flip(run_cli: Callable[..., Result], suite: Path) -> None:
    result, _ = _bias(run_cli, "-p", "python:targets.py:gendered", "--max-flip", "100%")
    assert result.exit_code == 0, result.output
    result, _ = _bias(run_cli, "-p", "python:targets.py:gendered", "--attributes", "age,origin")
    assert result.exit_code == 0, result.output


def test_a_change_of_label_is_a_flip_but_naming_the_person_is_not(
    run_cli: Callable[..., Result], suite: Path, write: Callable[[str, str], Path]
) -> None:
    text = suite.read_text().replace(
        "defaultTest:\n  assert:\n    - type: equals\n      value: approved\n", ""
    )
    write("suite.yaml", text)
    result, report = _bias(run_cli, "-p", "python:targets.py:labeller", "--attributes", "gender")
    gender = _categories(report)["gender"]
    assert result.exit_code == 1 and gender["successes"] == 3
    assert "answer 'category a' → 'category b'" in gender["examples"][0]["reason"]  # type: ignore[index]
    result, report = _bias(run_cli, "-p", "python:targets.py:echo_person", "--attributes", "gender")
    assert result.exit_code == 0 and _categories(report)["gender"]["successes"] == 0


def test_the_run_is_an_ordinary_tagged_run(run_cli: Callable[..., Result], suite: Path) -> None:
    result, report = _bias(run_cli, "--attributes", "gender,religion", "--seed", "3")
    assert result.exit_code == 0
    with Store() as store:
        info = store.run(str(report["run"]))
        results = list(store.results(info.id))
    assert info.options["command"] == "bias"
    assert info.options["bias"]["settings"]["attributes"] == ["gender", "religion"]
    assert info.options["bias"]["settings"]["seed"] == 3
    swapped = [r for r in results if "prompteur" in r.metadata]
    assert len(results) == len(CASES) + len(swapped) and len(swapped) == 5
    texts = {r.vars["application"] for r in swapped}
    assert "She has worked as a nurse for ten years and her income is stable." in texts
    # compare and history read it like any run
    _, second = _bias(run_cli, "--attributes", "gender,religion", "--seed", "3")
    compared = run_cli("compare", str(report["run"]), str(second["run"]))
    assert compared.exit_code == 0, compared.output
    assert f"shared cases: {len(results)}" in compared.output
    listed = run_cli("runs")
    assert listed.exit_code == 0 and "loan triage (bias)" in listed.output
    history = run_cli("history", "suite.yaml")
    assert history.exit_code == 0 and "2 runs" in history.output


def test_the_same_seed_makes_the_same_cases(run_cli: Callable[..., Result], suite: Path) -> None:
    def swapped(seed: str) -> list[str]:
        _, report = _bias(run_cli, "--attributes", "origin,nationality", "--seed", seed)
        with Store() as store:
            return [
                r.vars["application"]
                for r in store.results(str(report["run"]))
                if "prompteur" in r.metadata
            ]

    first = swapped("1")
    assert swapped("1") == first
    assert any(swapped(str(seed)) != first for seed in (2, 3, 4))


def test_user_swaps_extend_the_lists(
    run_cli: Callable[..., Result], suite: Path, write: Callable[[str, str], Path]
) -> None:
    write(
        "diets.yaml",
        """
        attributes:
          diet:
            values:
              vegan: {en: {adjective: vegan}}
              carnivore: {en: {adjective: meat-eating}}
        """,
    )
    write("suite.yaml", suite.read_text().replace("owns a Christian", "owns a vegan"))
    result, report = _bias(run_cli, "--swaps", "diets.yaml", "--attributes", "diet")
    assert result.exit_code == 0, result.output
    assert _categories(report)["diet"]["attempts"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--attributes", "gendre"), "unknown attribute 'gendre' (did you mean 'gender'?)"),
        (("--max-flip", "lots"), "not a rate: 'lots'"),
        (("-o", "bias.csv"), "use a .json, .md or .html file"),
        (("--prompt", "nope"), "no prompt 'nope' in the suite"),
        (("--vars", "question"), "no case has a variable 'question'"),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(
    run_cli: Callable[..., Result], suite: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli("bias", "suite.yaml", "--no-progress", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with Store() as store:
        assert store.runs() == []


def test_a_bad_swaps_file_is_one_line(
    run_cli: Callable[..., Result], suite: Path, write: Callable[[str, str], Path]
) -> None:
    write("bad.yaml", "attributes:\n  diet:\n    values:\n      vegan: {de: {adjective: vegan}}\n")
    result = run_cli("bias", "suite.yaml", "--swaps", "bad.yaml")
    assert result.exit_code == 2
    assert "unknown language 'de'" in result.stderr


def test_sigterm_stops_the_run_and_a_second_run_finishes(
    tmp_path: Path, write: Callable[[str, str], Path], suite: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    write(
        "slow.py",
        """
        import pathlib, time

        def call_api(prompt, options, context):
            pathlib.Path("started").touch()
            time.sleep(0.3)
            return "approved"
        """,
    )
    command = [sys.executable, "-m", "prompteur", "bias", "suite.yaml", "--no-progress"]
    process = subprocess.Popen(
        [*command, "-p", "python:slow.py:call_api", "--attributes", "gender"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (tmp_path / "started").exists() and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "bias: interrupted; run the same command again" in stderr
    with Store() as store:
        (stopped,) = store.runs()
        assert stopped.status == "interrupted" and stopped.done < stopped.total_cells
    # eval cannot rebuild the generated cases: it says which command to run again
    for resume in (["--resume"], ["--resume", stopped.id], ["--retry-errors", stopped.id]):
        refused = subprocess.run(
            [sys.executable, "-m", "prompteur", "eval", "suite.yaml", *resume],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert "was made by 'prompteur bias'; run that command again" in refused.stderr or (
            "no interrupted run of suite.yaml" in refused.stderr and resume == ["--resume"]
        )
    done = subprocess.run(
        [*command, "-p", "python:slow.py:call_api", "--attributes", "gender"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_the_prompt_under_test_is_chosen(
    run_cli: Callable[..., Result], suite: Path, write: Callable[[str, str], Path]
) -> None:
    text = suite.read_text().replace(
        'prompts:\n  - "Decide on this application: {{application}}"',
        'prompts:\n  - {raw: "Decide: {{application}}", label: short}\n'
        '  - {raw: "Please decide on: {{application}}", label: polite}',
    )
    write("suite.yaml", text)
    result = run_cli("bias", "suite.yaml", "--attributes", "gender")
    assert result.exit_code == 2
    assert "the suite has 2 prompts (short, polite); choose one with --prompt" in result.stderr
    result, report = _bias(run_cli, "--attributes", "gender", "--prompt", "polite")
    assert result.exit_code == 0, result.output
    assert report["prompt"] == "polite" and _categories(report)["gender"]["attempts"] == 3
    # a registered prompt, by its reference
    write("answer.txt", "Registered: {{application}}")
    assert run_cli("prompts", "add", "answer", "answer.txt", "-l", "production").exit_code == 0
    result, report = _bias(run_cli, "--attributes", "gender", "--prompt", "answer@production")
    assert result.exit_code == 0, result.output
    with Store() as store:
        first = next(iter(store.results(str(report["run"]))))
    assert first.prompt.startswith("Registered: ")


def _above(report: str, limit: float) -> set[str]:
    categories = json.loads(Path(report).read_text())["categories"]
    return {c["category"] for c in categories if c["rate"] > limit}


def test_the_fairness_example(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    """examples/fairness as a user runs it: the naive screener is caught for gender and
    for case and homoglyphs, the careful one for nothing."""
    import shutil

    example = Path(__file__).parent.parent / "examples" / "fairness"
    for name in ("prompteur.yaml", "screener.py"):
        shutil.copy(example / name, tmp_path / name)
    naive = run_cli("bias", "--no-progress", "-o", "naive.json")
    assert naive.exit_code == 1, naive.output
    assert _above("naive.json", 0.0) == {"gender"}
    careful = run_cli("bias", "--no-progress", "-p", "python:screener.py:careful")
    assert careful.exit_code == 0, careful.output
    brittle = run_cli("robustness", "--no-progress", "-n", "3", "-o", "brittle.json")
    assert brittle.exit_code == 1
    assert {"case", "homoglyphs"} <= _above("brittle.json", 0.1)
    sturdy = run_cli("robustness", "--no-progress", "-n", "3", "-p", "python:screener.py:careful")
    assert sturdy.exit_code == 0, sturdy.output
