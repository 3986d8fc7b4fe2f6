"""A report that cannot be written is refused before any model is called or any run is
recorded, by really making a file beside it: permission bits do not stop root, and do not
tell a read-only or virtual file system."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

COUNTING = """
def call_api(prompt, options, context):
    with open("calls.log", "a") as log:
        log.write(prompt + "\\n")
    return prompt
"""


@pytest.fixture
def suite(write: Callable[[str, str], Path]) -> Path:
    write("count.py", COUNTING)
    return write(
        "suite.yaml",
        "prompts: ['item {{n}}']\nproviders: [file://count.py]\n"
        "tests:\n  - vars: {n: 1}\n  - vars: {n: 2}\n",
    )


def _refused(result: Result, tmp_path: Path) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "calls.log").exists(), "no model was called"
    assert not (tmp_path / ".prompteur").exists(), "no run was recorded"
    return result.stderr.removesuffix("\n")


def _sysfs_refuses_files() -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir="/sys"):
            return False
    except OSError:
        return True


@pytest.mark.skipif(
    not Path("/sys").is_dir() or not _sysfs_refuses_files(),
    reason="needs Linux's /sys, where no one may create a file",
)
def test_a_folder_that_refuses_files_is_found_out_before_the_run(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path
) -> None:
    # its permission bits let root write: only trying tells
    result = run_cli("eval", "suite.yaml", "-o", "/sys/r.html", "--no-progress")
    assert _refused(result, tmp_path).startswith("error: cannot write /sys/r.html: ")


@pytest.mark.parametrize("target", ["notes.txt/r.html", "notes.txt/deeper/r.json"])
def test_a_file_where_a_folder_should_be_is_named(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path, target: str
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    result = run_cli("eval", "suite.yaml", "-o", target, "--no-progress")
    message = _refused(result, tmp_path)
    assert message == f"error: cannot write {target}: notes.txt is a file, not a folder"
    assert (tmp_path / "notes.txt").read_text() == "mine\n", "left alone"


def test_the_trial_file_does_not_stay(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path
) -> None:
    result = run_cli("eval", "suite.yaml", "-o", "out/r.json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r.json"]


def test_show_refuses_a_report_it_cannot_write_in_one_line(
    run_cli: Callable[..., Result], suite: Path, tmp_path: Path
) -> None:
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 0
    (tmp_path / "notes.txt").write_text("mine\n")
    result = run_cli("show", "latest", "-o", "notes.txt/r.html")
    assert result.exit_code == 2
    assert (
        result.stderr == "error: cannot write notes.txt/r.html: notes.txt is a file, not a folder\n"
    )
