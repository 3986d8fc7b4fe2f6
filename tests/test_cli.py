"""The command line end to end: report, outputs, exit codes, init, schema."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

SUITE = """
description: Echo checks
prompts:
  - id: file://p.txt
    label: shout
  - "whisper {{word}}"
providers: [echo]
tests:
  - description: first
    vars: {word: apple}
    assert:
      - type: contains
        value: APPLE
        metric: caps
  - vars: {word: pear}
    assert:
      - type: icontains
        value: pear
"""


@pytest.fixture
def suite(write: Callable[[str, str], Path]) -> Path:
    write("p.txt", "SHOUT {{ word | upper }}")
    return write("suite.yaml", SUITE)


def test_report_lists_each_prompt_provider_with_rates_and_failures(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 1
    out = result.stdout
    assert "Echo checks" in out
    table = out.split("named metrics")[0]
    lines = {
        line.split()[0]: line
        for line in table.splitlines()
        if line.startswith(("shout", "whisper"))
    }
    assert "100% (2/2)" in lines["shout"]
    assert "50% (1/2)" in lines["whisper"]
    assert "34%–100%" in lines["shout"]  # Wilson 95% interval for 2/2
    # the failure: case, assertion, reason, output excerpt
    assert "✗ whisper {{word}} × echo · first" in out
    assert "contains: output does not contain 'APPLE'" in out
    assert "output: whisper apple" in out
    assert "named metrics" in out and "caps" in out
    assert "3/4 passed (75.0%) · 1 failed · 0 errors" in out


def test_exit_code_zero_when_everything_passes(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "suite.yaml",
        "prompts: ['hi {{x}}']\nproviders: [echo]\ntests:\n  - vars: {x: 1}\n"
        "    assert: [{type: contains, value: hi}]\n",
    )
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 0


@pytest.mark.parametrize(
    ("threshold", "code"), [("0.75", 0), ("75%", 0), ("0.8", 1), ("80%", 1), ("100%", 1), ("0", 0)]
)
def test_pass_threshold(
    run_cli: Callable[..., Result], suite: Path, threshold: str, code: int
) -> None:
    assert (
        run_cli("eval", "suite.yaml", "--no-progress", "--pass-threshold", threshold).exit_code
        == code
    )


def test_pass_threshold_rejects_nonsense(run_cli: Callable[..., Result], suite: Path) -> None:
    result = run_cli("eval", "suite.yaml", "--pass-threshold", "lots")
    assert result.exit_code == 2
    assert "expected a fraction" in result.stderr


@pytest.mark.parametrize("threshold", ["1.5", "80", "-0.1", "120%"])
def test_pass_threshold_out_of_range_is_refused_not_guessed(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path, threshold: str
) -> None:
    # 1.5 read as 1.5% would let a failing run pass a CI gate
    result = run_cli("eval", "suite.yaml", "--pass-threshold", threshold)
    assert result.exit_code == 2
    assert "a pass rate lies between 0" in result.stderr
    assert ("(write 80% for a percentage)" in result.stderr) == (threshold == "80")
    assert not (tmp_path / ".prompteur").exists()


def test_bad_suite_leaves_no_store_behind(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("suite.yaml", "prompts: [hi]\nproviders: [echo]\ntests:\n  - vars: {}\n    asert: []\n")
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert "unknown key 'asert'" in result.stderr
    assert not (tmp_path / ".prompteur").exists(), "nothing half-written on bad input"


@pytest.mark.parametrize("target", ["/proc/no/such/r.json", "folder.json"])
def test_an_unwritable_output_is_refused_before_the_run(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path, target: str
) -> None:
    (tmp_path / "folder.json").mkdir()
    result = run_cli("eval", "suite.yaml", "-o", target, "--no-progress")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write {target}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".prompteur").exists(), "no run was started"


def test_reports_are_readable_by_others(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path
) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        names = ["r.json", "r.jsonl", "r.csv", "r.xml", "r.html", "r.md"]
        run_cli("eval", "suite.yaml", "--no-progress", *(f"-o{n}" for n in names))
    finally:
        os.umask(old)
    for name in names:
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o644, f"{name}: {mode:o}"


def test_outputs_json_jsonl_csv_junit(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "eval",
        "suite.yaml",
        "--no-progress",
        "-o",
        "out/r.json",
        "-o",
        "r.jsonl",
        "-o",
        "r.csv",
        "-o",
        "r.xml",
    )
    assert result.exit_code == 1
    document = json.loads((tmp_path / "out/r.json").read_text())
    assert document["summary"]["passed"] == 3
    assert len(document["results"]) == 4
    failed = [r for r in document["results"] if r["status"] == "fail"]
    assert failed[0]["assertions"][0]["reason"] == "output does not contain 'APPLE'"
    assert failed[0]["output"] == "whisper apple"

    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines] == [
        "run",
        "result",
        "result",
        "result",
        "result",
        "summary",
    ]
    assert lines[-1]["groups"][0]["pass_rate"] == 1.0

    with (tmp_path / "r.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert {row["status"] for row in rows} == {"pass", "fail"}

    root = ET.parse(tmp_path / "r.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "0")
    assert len(root.findall(".//testcase/failure")) == 1
    # a case without a description is named by its variables, as in the terminal report
    names = {case.get("name") for case in root.iter("testcase")}
    assert names == {"first", "word=pear"}
    assert list(tmp_path.glob(".r.*")) == [], "no temporary files left behind"


def test_output_path_in_the_suite(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("suite.yaml", "prompts: ['hi']\nproviders: [echo]\noutputPath: results.jsonl\n")
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 0
    assert (tmp_path / "results.jsonl").exists()


def test_provider_override_and_repeat(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path, write: Callable[[str, str], Path]
) -> None:
    write("upper.py", "def call_api(prompt, options, context):\n    return prompt.upper()\n")
    result = run_cli(
        "eval",
        "suite.yaml",
        "--no-progress",
        "-p",
        "python:upper.py:call_api",
        "--repeat",
        "2",
        "-o",
        "r.json",
    )
    assert result.exit_code == 0, result.stdout
    document = json.loads((tmp_path / "r.json").read_text())
    assert len(document["results"]) == 8
    assert {r["provider"] for r in document["results"]} == {"python:upper.py:call_api"}
    assert sorted({r["repeat"] for r in document["results"]}) == [0, 1]


def test_plain_progress_lines_when_not_a_terminal(
    run_cli: Callable[..., Result], suite: Path
) -> None:
    result = run_cli("eval", "suite.yaml")
    assert "eval: 4 cells to run" in result.stderr
    assert "eval: 4/4 (100%) · 3 pass · 1 fail · 0 error" in result.stderr


def test_config_flag_like_promptfoo(run_cli: Callable[..., Result], suite: Path) -> None:
    assert run_cli("eval", "-c", "suite.yaml", "--no-progress").exit_code == 1


def test_finds_the_suite_in_the_working_folder(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("promptfooconfig.yaml", "prompts: ['hi']\nproviders: [echo]\n")
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 0
    assert "1/1 passed" in result.stdout


def test_init_writes_a_starter_that_validates(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    result = run_cli("init", "starter")
    assert result.exit_code == 0
    assert (tmp_path / "starter/prompteur.yaml").exists()
    import prompteur

    plan = prompteur.plan_suite(tmp_path / "starter/prompteur.yaml")
    assert [type(p).__name__ for p in plan.providers] == ["LocalProvider"]
    assert len(plan.tests) == 4
    again = run_cli("init", "starter")
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_schema_is_json_schema_of_suites(run_cli: Callable[..., Result]) -> None:
    result = run_cli("schema")
    schema = json.loads(result.stdout)
    assert {"prompts", "providers", "tests", "defaultTest", "evaluateOptions"} <= set(
        schema["properties"]
    )
    assert schema["$defs"]["Assertion"]["additionalProperties"] is False
    import jsonschema

    jsonschema.validate({"prompts": ["x"], "tests": [{"vars": {"a": 1}}]}, schema)
    jsonschema.validate({"prompts": "x", "providers": "echo", "tests": "file://t.csv"}, schema)
    jsonschema.validate(
        {
            "prompts": {"file://a.txt": "A"},
            "providers": [
                "echo",
                {"id": "local", "config": {"temperature": 0}},
                {"openai:chat:gpt-4o": {"config": {"temperature": 0}}},
            ],
        },
        schema,
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"prompts": ["x"], "tests": [{"asert": []}]}, schema)


def test_help_and_version_as_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prompteur", "--help"], capture_output=True, text=True, check=True
    )
    assert "Exit codes" in result.stdout and "eval" in result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "prompteur", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("prompteur, version ")


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from prompteur.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pydantic', 'jinja2', 'aiohttp', 'llama_cpp', 'rich') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_progress_bar_on_a_terminal() -> None:
    import io

    from rich.console import Console

    import prompteur
    from prompteur.eval._progress import BarProgress

    stream = io.StringIO()
    bar = BarProgress(Console(file=stream, force_terminal=True, width=120))
    result = prompteur.evaluate(
        {
            "prompts": ["{{x}}"],
            "providers": ["echo"],
            "tests": [
                {"vars": {"x": x}, "assert": [{"type": "equals", "value": "a"}]} for x in "abc"
            ],
        },
        sinks=[bar],
    )
    assert result.summary.done == 3
    text = stream.getvalue()
    assert "eval" in text
    assert "3/3" in text
    assert "1 pass" in text and "2 fail" in text and "0 error" in text


def test_eval_leaves_the_garbage_collector_on_whatever_happens(
    run_cli: Callable[..., Result], suite: Path, write: Callable[[str, str], Path]
) -> None:
    import gc

    # eval turns the collector off while it imports and plans; a library caller's process
    # (here, pytest's) must get it back on every path
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 1
    assert gc.isenabled()
    write("bad.yaml", "prompts: [hi]\nproviders: [echo]\ntests:\n  - asert: []\n")
    assert run_cli("eval", "bad.yaml").exit_code == 2
    assert gc.isenabled()
