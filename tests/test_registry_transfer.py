"""Moving a prompt's whole history from one store to another (`prompts export NAME --all`,
`prompts import`), removing labels (`prompts untag`), and the runs a version was used in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from prompteur.store import Store
from prompteur.store._registry import PromptRegistry, PromptSource

CliRunner = Callable[..., Result]
Writer = Callable[[str, str], Path]


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def build_history(registry: PromptRegistry) -> None:
    """Three versions (the third back to the first's text), labels moved and removed."""
    registry.add("answer", PromptSource("Answer: {{ q }}"), author="ana", message="first")
    registry.add(
        "answer",
        PromptSource("Answer briefly: {{ q }}", params={"temperature": 0.1}),
        author="bob",
        message="shorter",
        labels=["staging"],
    )
    registry.add("answer", PromptSource("Answer: {{ q }}"), author="ana", message="revert")
    registry.tag("answer@v1", "production", author="ana")
    registry.tag("answer@v3", "production", author="bob")
    registry.untag("answer", "staging", author="cy")


def history_of(registry: PromptRegistry, name: str = "answer") -> dict[str, Any]:
    versions = [
        (
            v.version,
            v.content_hash,
            v.author,
            v.message,
            v.parent,
            v.origin,
            v.created_at,
            v.labels,
        )
        for v in registry.versions(name)
    ]
    moves = [(m.label, m.previous, m.version, m.author, m.moved_at) for m in registry.moves(name)]
    return {"versions": versions, "labels": registry.label_versions(name), "moves": moves}


def test_untag_removes_a_label_and_keeps_the_move(hermetic: Path, run_cli: CliRunner) -> None:
    registry = PromptRegistry(Store())
    registry.add("answer", PromptSource("one"), labels=["staging", "production"])
    removed = run_cli("prompts", "untag", "answer", "staging", "--author", "ana")
    assert removed.exit_code == 0, removed.output
    assert removed.output == "answer@staging: removed (it pointed at v1)\n"
    assert registry.label_versions("answer") == {"production": 1}
    assert registry.get("answer@v1").labels == ("production",)
    last = registry.moves("answer")[-1]
    assert (last.label, last.previous, last.version, last.author) == ("staging", 1, None, "ana")
    assert "staging: v1 → removed  ana" in run_cli("prompts", "history", "answer").output
    line = one_error_line(run_cli("prompts", "untag", "answer", "staging"))
    assert line == "error: prompt 'answer' has no label 'staging' (its labels: production)"
    line = one_error_line(run_cli("prompts", "untag", "nope", "staging"))
    assert line == "error: no registered prompt 'nope'"
    # the label can come back; its history goes on
    registry.tag("answer@v1", "staging")
    assert [m.version for m in registry.moves("answer") if m.label == "staging"] == [1, None, 1]


def test_show_names_the_runs_that_used_the_version(
    hermetic: Path, run_cli: CliRunner, write: Writer
) -> None:
    registry = PromptRegistry(Store())
    registry.add("answer", PromptSource("Answer: {{ q }}"), labels=["production"])
    registry.add("answer", PromptSource("Answer briefly: {{ q }}"))
    write(
        "prompteur.yaml",
        """
        prompts: [{prompt: answer@production}]
        providers: [echo]
        tests:
          - vars: {q: tea}
            assert: [{type: contains, value: briefly}]
        """,
    )
    run_cli("eval", "--no-progress")
    registry.tag("answer@v2", "production")
    run_cli("eval", "--no-progress")
    newest, older = Store().runs(limit=2)
    first = run_cli("prompts", "show", "answer@v1").output
    assert "runs that used it" in first
    assert f"run {older.id}  × echo: 0% (0/1)" in first and newest.id not in first
    second = run_cli("prompts", "show", "answer@v2").output
    assert f"run {newest.id}  × echo: 100% (1/1)" in second and older.id not in second


def test_a_whole_history_moves_to_another_store(hermetic: Path, run_cli: CliRunner) -> None:
    source = PromptRegistry(Store())
    build_history(source)
    exported = run_cli("prompts", "export", "answer", "--all", "-o", "answer.json")
    assert exported.exit_code == 0, exported.output
    assert "wrote answer.json (answer, every version)" in exported.output

    imported = run_cli("prompts", "import", "answer.json", "--db", "team.db")
    assert imported.exit_code == 0, imported.output
    assert imported.output.splitlines() == [
        "answer: imported 3 versions (v1–v3)",
        "answer: labels production → v3, with 4 label moves of history",
    ]
    team = PromptRegistry(Store("team.db"))
    assert history_of(team) == history_of(source)
    assert team.get("answer@v2").source.params == {"temperature": 0.1}

    # the same file again adds nothing
    again = run_cli("prompts", "import", "answer.json", "--db", "team.db")
    assert again.output.splitlines() == [
        "answer: nothing new",
        "answer: 3 of the file's 3 versions already here (v1 is v1, v2 is v2, v3 is v3)",
    ]
    assert history_of(team) == history_of(source)


def test_importing_beside_other_versions_keeps_both_in_order(
    hermetic: Path, run_cli: CliRunner
) -> None:
    build_history(PromptRegistry(Store()))
    assert run_cli("prompts", "export", "answer", "--all", "-o", "answer.json").exit_code == 0
    team = PromptRegistry(Store("team.db"))
    team.add("answer", PromptSource("Reply: {{ q }}"), author="dee", labels=["production"])
    team.add("answer", PromptSource("Answer briefly: {{ q }}", params={"temperature": 0.1}))

    imported = run_cli("prompts", "import", "answer.json", "--db", "team.db", "--author", "eve")
    assert imported.exit_code == 0, imported.output
    assert imported.output.splitlines() == [
        "answer: added 2 versions after the store's own 2: v1 as v3, v3 as v4",
        "answer: 1 of the file's 3 versions already here (v2 is v2)",
        "answer: label production stays at v1 (the file puts it at v4: "
        "'prompteur prompts tag answer@v4 production' moves it)",
    ]
    versions = team.versions("answer")
    assert [(v.version, v.source.template, v.author, v.message, v.parent) for v in versions] == [
        (1, "Reply: {{ q }}", "dee", None, None),
        (2, "Answer briefly: {{ q }}", None, None, 1),
        (3, "Answer: {{ q }}", "ana", "first", None),
        (4, "Answer: {{ q }}", "ana", "revert", 2),  # its parent, the file's v2, is v2 here
    ]
    assert team.label_versions("answer") == {"production": 1}
    # staging was removed in the file's history; its moves come along, mapped to numbers here
    staging = [(m.previous, m.version) for m in team.moves("answer") if m.label == "staging"]
    assert staging == [(None, 2), (2, None)]
    assert "nothing new" in run_cli("prompts", "import", "answer.json", "--db", "team.db").output
    assert len(team.versions("answer")) == 4


def test_a_history_imports_under_another_name(hermetic: Path, run_cli: CliRunner) -> None:
    build_history(PromptRegistry(Store()))
    run_cli("prompts", "export", "answer", "--all", "-o", "answer.json")
    result = run_cli("prompts", "import", "answer.json", "--name", "answer-copy")
    assert result.output.startswith("answer-copy: imported 3 versions"), result.output
    registry = PromptRegistry(Store())
    assert history_of(registry, "answer-copy") == history_of(registry, "answer")


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda d: d["versions"][1].update(template="Edited {{ q }}"),
            r"answer.json:\d+:\d+: v2's content does not match its content_hash \(was it edited\?\)",
        ),
        (lambda d: d["versions"].pop(0), r"answer.json:\d+:\d+: versions must be numbered 1, 2, 3"),
        (lambda d: d["versions"][2].update(parent=3), r"v3's parent is not an earlier version"),
        (lambda d: d["labels"].update(production=9), r"labels must map label names to versions"),
        (lambda d: d.update(format=7), r"a prompt history of format 7: upgrade prompteur"),
        (lambda d: d["versions"][0].pop("author"), r"v1 needs 'author'"),
        (lambda d: d["label_moves"][0].update(version=8), r"a label move needs a label, versions"),
    ],
)
def test_a_malformed_history_is_one_line_and_writes_nothing(
    hermetic: Path, run_cli: CliRunner, change: Callable[[dict[str, Any]], None], error: str
) -> None:
    build_history(PromptRegistry(Store()))
    run_cli("prompts", "export", "answer", "--all", "-o", "answer.json")
    edit(hermetic / "answer.json", change)
    line = one_error_line(run_cli("prompts", "import", "answer.json", "--db", "team.db"))
    assert re.search(error, line), line
    assert PromptRegistry(Store("team.db")).names() == []


def test_a_broken_template_in_a_history_is_refused(hermetic: Path, run_cli: CliRunner) -> None:
    build_history(PromptRegistry(Store()))
    run_cli("prompts", "export", "answer", "--all", "-o", "answer.json")

    def break_v2(data: dict[str, Any]) -> None:
        data["versions"][1]["template"] = "Answer {{ q"
        del data["versions"][1]["content_hash"]

    edit(hermetic / "answer.json", break_v2)
    line = one_error_line(run_cli("prompts", "import", "answer.json", "--db", "team.db"))
    assert line.startswith("error: answer.json (v2):1:8: template syntax error")


def test_history_options_that_do_not_apply_are_refused(hermetic: Path, run_cli: CliRunner) -> None:
    build_history(PromptRegistry(Store()))
    run_cli("prompts", "export", "answer", "--all", "-o", "answer.json")
    for args in (["-m", "note"], ["-l", "staging"]):
        result = run_cli("prompts", "import", "answer.json", *args)
        assert result.exit_code == 2 and "a history file brings its own" in result.output
    result = run_cli("prompts", "export", "answer@v2", "--all")
    assert result.exit_code == 2 and "name the prompt without '@'" in result.output
    result = run_cli("prompts", "export", "answer", "--all", "-o", "answer.prompty")
    assert result.exit_code == 2 and "use .json" in result.output
    to_stdout = run_cli("prompts", "export", "answer", "--all")
    assert json.loads(to_stdout.stdout)["name"] == "answer"


def test_a_history_moves_between_sqlite_and_postgresql(
    hermetic: Path, run_cli: CliRunner, postgres_url: str
) -> None:
    source = PromptRegistry(Store())
    build_history(source)
    run_cli("prompts", "export", "answer", "--all", "-o", "answer.json")
    name = f"answer-{hermetic.name}"  # the server's database is shared by the session
    imported = run_cli("prompts", "import", "answer.json", "--name", name, "--db", postgres_url)
    assert imported.output.startswith(f"{name}: imported 3 versions"), imported.output
    with Store(postgres_url) as store:
        assert history_of(PromptRegistry(store), name) == history_of(source)
    back = run_cli("prompts", "export", name, "--all", "-o", "back.json", "--db", postgres_url)
    assert back.exit_code == 0, back.output
    again = run_cli("prompts", "import", "back.json", "--name", "answer")
    assert again.output.startswith("answer: nothing new"), again.output
