"""Which prompt of one run is compared with which of another: registered prompts pair by
name across versions and custom labels; ambiguous pairs are left to --prompts; the same
thing is never compared with itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from prompteur.analysis._pairing import RunPrompt, line_name, pair_prompts

# The answer depends on the prompt's wording: "v1" prompts get it wrong, "v2" ones right.
MODEL = """
def call_api(prompt, options, context):
    return "right" if "v2" in prompt else "wrong"
"""


def test_pairing_rules() -> None:
    support1, support2 = RunPrompt("support", ("support", 1)), RunPrompt("support", ("support", 2))
    candidate = RunPrompt("candidate", ("support", 2))
    plain = RunPrompt("plain")
    assert pair_prompts([support1, plain], [plain, candidate]) == {0: 1, 1: 0}
    # two versions of one prompt in A: the same version pairs, the other stays out
    both = [RunPrompt("support@v2", ("support", 2)), RunPrompt("support@v1", ("support", 1))]
    assert pair_prompts(both, [support2]) == {0: 0}
    # and when no version matches, nothing says which: nothing pairs
    assert pair_prompts(both, [RunPrompt("support", ("support", 3))]) == {}
    # one prompt a side is what is compared, whatever its name
    assert pair_prompts([plain], [RunPrompt("other")]) == {0: 0}
    assert pair_prompts([plain, support1], [RunPrompt("other")]) == {}
    assert line_name(candidate, [candidate, plain]) == "support"
    assert line_name(both[0], both) == "support@v2"
    assert candidate.shown == "candidate (support@v2)"
    assert RunPrompt("support@v2", ("support", 2)).shown == "support@v2"


@pytest.fixture
def registered(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> Callable[[str], str]:
    """The registered prompt ``support`` at v1 (answers wrong) and v2 (answers right,
    labelled production); returns a function that runs a suite's prompts list."""
    write("model.py", MODEL)
    write("v1.txt", "Answer v1: {{q}}")
    write("v2.txt", "Answer v2: {{q}}")
    assert run_cli("prompts", "add", "support", "v1.txt").exit_code == 0
    assert run_cli("prompts", "add", "support", "v2.txt", "-l", "production").exit_code == 0
    tests = "\n".join(f"  - vars: {{q: {n}}}" for n in range(12))

    def run(prompts: str) -> str:
        write(
            "suite.yaml",
            f"description: support\nprompts:\n{prompts}\n"
            "providers: [{id: file://model.py, label: m}]\n"
            f"defaultTest: {{assert: [{{type: equals, value: right}}]}}\ntests:\n{tests}\n",
        )
        result = run_cli("eval", "suite.yaml", "--no-progress")
        assert result.exit_code in (0, 1), result.output
        return result.stdout.split(" run ")[1].split()[0]

    return run


def test_versions_under_a_custom_label_pair_by_name(
    run_cli: Callable[..., Result], registered: Callable[[str], str]
) -> None:
    old = registered("  - prompt: support@v1")
    new = registered("  - prompt: support@production\n    label: candidate")
    result = run_cli("compare", old, new)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "shared cases: 12" in out
    assert "pass rate: A 0.0% → B 100.0%" in out
    assert "prompt support (support@v1) in A ↔ candidate (support@v2) in B" in out
    assert "verdict: B is better" in out
    history = run_cli("history", "suite.yaml")
    lines = [line for line in history.stdout.splitlines() if line.startswith("support ×")]
    assert len(lines) == 1, history.stdout  # one line for the prompt across its versions
    assert "0% v2:100%" in lines[0]  # the new version marked where it came
    assert "the prompt changed: support@v1 → support@v2" in history.stdout


def test_a_run_holding_two_versions_pairs_the_same_version(
    run_cli: Callable[..., Result], registered: Callable[[str], str]
) -> None:
    both = registered("  - prompt: support@production\n  - prompt: support@v1")
    latest = registered("  - prompt: support@production")
    result = run_cli("compare", both, latest)
    assert result.exit_code == 0, result.output
    assert "shared cases: 12" in result.stdout
    assert "pass rate: A 100.0% → B 100.0%" in result.stdout
    assert "only in A, not compared: support@v1" in result.stdout
    assert "pick the prompts to compare with --prompts A B" in result.stdout
    # --prompts picks across the two runs, by the reference the suite wrote
    chosen = run_cli("compare", both, latest, "--prompts", "support@v1", "support@production")
    assert chosen.exit_code == 0, chosen.output
    assert "A support@v1 (run " in chosen.stdout
    assert "pass rate: A 0.0% → B 100.0%" in chosen.stdout
    assert "verdict: B is better" in chosen.stdout
    inside = run_cli("compare", both, "--prompts", "support@production", "support@v1")
    assert inside.exit_code == 1, inside.output
    assert "verdict: B is worse" in inside.stdout


def test_nothing_is_compared_with_itself(
    run_cli: Callable[..., Result], registered: Callable[[str], str]
) -> None:
    run_id = registered("  - prompt: support@v1\n  - prompt: support@v2")
    itself = run_cli("compare", run_id, "latest")
    assert itself.exit_code == 2
    assert itself.stderr.startswith(f"error: {run_id} and latest are the same run")
    same = run_cli("compare", run_id, "--prompts", "1", "support@v1")
    assert same.exit_code == 2
    assert same.stderr == "error: both sides are the same prompt: name two different ones\n"


def test_usage_mistakes_are_one_line(run_cli: Callable[..., Result]) -> None:
    cases = {
        ("evl",): "error: No such command 'evl' (did you mean 'eval'?) (see 'prompteur --help')",
        ("rate", "r", "0:0:0:0", "pass", "--score", "2"): (
            "error: Invalid value for '--score': 2.0 is not in the range 0<=x<=1 "
            "(see 'prompteur rate --help')"
        ),
        ("eval", "--pass-treshold", "1"): (
            "error: No such option '--pass-treshold' (did you mean '--pass-threshold'?) "
            "(see 'prompteur eval --help')"
        ),
        ("prompts", "ad"): (
            "error: No such command 'ad' (did you mean 'add'?) (see 'prompteur prompts --help')"
        ),
        ("history", "nothing-here"): (
            "error: no recorded runs of nothing-here (see 'prompteur runs')"
        ),
    }
    for args, message in cases.items():
        result = run_cli(*args)
        assert result.exit_code == 2, args
        assert result.stderr == message + "\n", args
        assert result.stdout == ""


def test_sparklines_show_drops_near_the_top() -> None:
    from prompteur.cli._history import sparkline

    assert sparkline([1.0, 0.88]) == "█▁"  # on a 0-100% scale both would be █
    assert sparkline([1.0, 0.98, 0.95, 0.90, 0.67]) == "██▇▆▁"
    steady = sparkline([1.0, 0.99, 1.0])  # one point of noise is not a cliff
    assert steady[0] == steady[2] == "█" and steady[1] in "▇█"
    assert sparkline([None, 0.5]) == " █"
    assert sparkline([None]) == " "


def test_reports_name_the_version_beside_a_custom_label(
    run_cli: Callable[..., Result], registered: Callable[[str], str], tmp_path: Path
) -> None:
    import json

    run_id = registered("  - prompt: support@production\n    label: candidate")
    shown = run_cli("show", run_id, "-o", "run.json")
    assert "candidate (support@v2)" in shown.stdout
    prompts = json.loads((tmp_path / "run.json").read_text())["prompts"]
    assert prompts == [{"id": "candidate", "label": "candidate (support@v2)"}]
