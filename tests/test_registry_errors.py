"""Every way a `prompts` command can be given bad input ends the same way: one line that
says what is wrong, exit code 2, no traceback, and nothing half-written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from prompteur.store import Store
from prompteur.store._registry import PromptRegistry, PromptSource

CliRunner = Callable[..., Result]


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def answer(hermetic: Path) -> PromptRegistry:
    registry = PromptRegistry(Store())
    registry.add("answer", PromptSource("Answer: {{ q }}"), labels=["production"])
    registry.add("answer", PromptSource("Answer briefly: {{ q }}"))
    registry.add("other", PromptSource("Reply: {{ q }}"))
    return registry


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["show", "answr"], "no registered prompt 'answr' (did you mean 'answer'?)"),
        (["history", "nope"], "no registered prompt 'nope'"),
        (["export", "nope"], "no registered prompt 'nope'"),
        (["show", "answer@prod"], "prompt 'answer' has no label 'prod' (its labels: production)"),
        (["show", "answer@v0"], "prompt 'answer' has no version v0 (its labels: production)"),
        (["show", "answer@v999"], "prompt 'answer' has no version v999 (its labels: production)"),
        (["show", "answer@vX"], "prompt 'answer' has no label 'vX' (its labels: production)"),
        (["tag", "answer@v7", "staging"], "prompt 'answer' has no version v7"),
        (["tag", "answer@v1", "v2"], "'v2' cannot be a label: it reads as a version"),
        (["tag", "answer@v1", "no spaces"], "invalid label 'no spaces'"),
        (["diff", "answer@v1", "nope@v1"], "no registered prompt 'nope'"),
        (["diff", "answer@v1", "v9"], "prompt 'answer' has no version v9"),
        (["untag", "answer", "staging"], "prompt 'answer' has no label 'staging'"),
    ],
)
def test_bad_references(
    answer: PromptRegistry, run_cli: CliRunner, args: list[str], error: str
) -> None:
    line = one_error_line(run_cli("prompts", *args))
    assert line.startswith(f"error: {error}"), line


def test_diff_across_two_names_compares_them(answer: PromptRegistry, run_cli: CliRunner) -> None:
    # two prompts may well be compared (a fork against its origin): not an error
    result = run_cli("prompts", "diff", "answer@v1", "other@v1")
    assert result.exit_code == 0, result.output
    assert "--- answer@v1" in result.output and "+++ other@v1" in result.output
    assert "[-Answer-]{+Reply+}" in result.output


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("missing.txt", None, "error: file not found: missing.txt"),
        ("latin1.txt", b"caf\xe9 {{ q }}", "error: latin1.txt:1:4: not UTF-8 text"),
        ("broken.json", b'[{"role": "user"', "error: broken.json:1:17: invalid JSON: Expecting"),
        (
            "broken.yaml",
            b"- role: user\n  content: [unclosed\n",
            "error: broken.yaml:3:1: invalid YAML",
        ),
        (
            "object.json",
            b'{"role": "user"}',
            "error: object.json:1:1: a chat prompt file must hold",
        ),
        (
            "frontmatter.prompty",
            b"---\nname: [x\n---\nhi\n",
            "error: frontmatter.prompty:3:1: invalid .prompty frontmatter",
        ),
        (
            "open.prompty",
            b"---\nname: x\nhi\n",
            "error: open.prompty:1:1: the .prompty frontmatter",
        ),
    ],
)
@pytest.mark.parametrize("command", ["add", "import"])
def test_unreadable_or_malformed_files(
    hermetic: Path, run_cli: CliRunner, command: str, name: str, content: bytes | None, error: str
) -> None:
    if content is not None:
        (hermetic / name).write_bytes(content)
    args = ["add", "p", name] if command == "add" else ["import", name]
    line = one_error_line(run_cli("prompts", *args))
    assert line.startswith(error), line
    assert PromptRegistry(Store()).names() == []


def test_a_folder_is_not_a_prompt_file(hermetic: Path, run_cli: CliRunner) -> None:
    (hermetic / "folder").mkdir()
    for args in (["add", "p", "folder"], ["import", "folder"]):
        result = run_cli("prompts", *args)
        assert result.exit_code == 2 and "is a directory" in result.output


@pytest.mark.parametrize("whole", [False, True])
def test_export_to_a_place_that_cannot_be_written(
    answer: PromptRegistry, run_cli: CliRunner, hermetic: Path, whole: bool
) -> None:
    (hermetic / "answer.txt").write_text("a file, not a folder")
    args = ["export", "other", "-o", "answer.txt/out.txt"]
    if whole:
        args = ["export", "answer", "--all", "-o", "answer.txt/out.json"]
    line = one_error_line(run_cli("prompts", *args))
    assert line == f"error: cannot write {args[-1]}: answer.txt is a file, not a folder"
    assert sorted(p.name for p in hermetic.iterdir() if not p.name.startswith(".prompteur")) == [
        "answer.txt"
    ]


def test_export_makes_the_folder_it_writes_into(
    answer: PromptRegistry, run_cli: CliRunner, hermetic: Path
) -> None:
    # as every -o does
    result = run_cli("prompts", "export", "answer", "--all", "-o", "new/deeper/answer.json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (hermetic / "new" / "deeper").iterdir()) == ["answer.json"]


def test_an_export_replaces_a_file_whole(
    answer: PromptRegistry, run_cli: CliRunner, hermetic: Path
) -> None:
    (hermetic / "out.txt").write_text("old")
    assert run_cli("prompts", "export", "other", "-o", "out.txt").exit_code == 0
    assert (hermetic / "out.txt").read_text() == "Reply: {{ q }}\n"
    assert sorted(p.name for p in hermetic.iterdir()) == [".prompteur", "out.txt"]


@pytest.mark.parametrize("db", ["a-file/x.db", "."])
def test_a_store_that_cannot_be_opened(hermetic: Path, run_cli: CliRunner, db: str) -> None:
    (hermetic / "a-file").write_text("")
    for args in (["list"], ["show", "x"], ["export", "x", "--all"]):
        line = one_error_line(run_cli("prompts", *args, "--db", db))
        assert line.startswith("error: cannot open the store "), line


def test_an_unknown_export_format_is_a_usage_error(
    answer: PromptRegistry, run_cli: CliRunner
) -> None:
    result = run_cli("prompts", "export", "answer", "-o", "answer.yaml")
    assert result.exit_code == 2 and "use .prompty, .txt, .md or .json" in result.output
    assert not Path("answer.yaml").exists()


def test_a_json_object_that_is_no_history(hermetic: Path, run_cli: CliRunner) -> None:
    Path("other.json").write_text(json.dumps({"kind": "something else", "versions": []}))
    line = one_error_line(run_cli("prompts", "import", "other.json"))
    assert "a chat prompt file must hold a list of {role, content} messages" in line
