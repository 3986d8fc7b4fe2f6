"""The prompt registry: versions, labels and their history, lineage, the `prompts` command
(add, list, show, history, diff, tag, export, import), and suites that use registered
prompts, with the versions each run used recorded and compared."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.cli._prompts_view import word_diff
from prompteur.store import Store
from prompteur.store._registry import PromptRegistry, PromptSource, RegistryError


@pytest.fixture
def registry(hermetic: Path) -> PromptRegistry:
    return PromptRegistry(Store())


def test_versions_are_immutable_and_deduplicated(registry: PromptRegistry) -> None:
    v1, created = registry.add("answer", PromptSource("Answer: {{q}}"), author="ana", message="a")
    assert created and v1.version == 1 and v1.parent is None and v1.origin == "manual"
    again, created = registry.add("answer", PromptSource("Answer: {{q}}"), author="bob")
    assert not created and again.version == 1 and again.author == "ana"
    v2, created = registry.add("answer", PromptSource("Answer briefly: {{q}}"), message="shorter")
    assert created and v2.version == 2 and v2.parent == 1 and v2.message == "shorter"
    assert v1.content_hash != v2.content_hash
    # the same text with other parameters is other content
    v3, created = registry.add(
        "answer", PromptSource("Answer briefly: {{q}}", params={"temperature": 0.2})
    )
    assert created and v3.version == 3
    assert [v.version for v in registry.versions("answer")] == [1, 2, 3]
    assert registry.get("answer").version == 3
    assert registry.get("answer@latest").version == 3
    assert registry.get("answer@v1").source.template == "Answer: {{q}}"
    assert registry.get("answer@2").version == 2


def test_labels_move_and_keep_their_history(registry: PromptRegistry) -> None:
    registry.add("answer", PromptSource("one"), labels=["staging"])
    registry.add("answer", PromptSource("two"))
    registry.tag("answer@v1", "production", author="ana")
    assert registry.get("answer@production").version == 1
    registry.tag("answer@v2", "production", author="bob")
    assert registry.get("answer@production").version == 2
    assert registry.get("answer@v2").labels == ("production",)
    moves = [(m.label, m.previous, m.version, m.author) for m in registry.moves("answer")]
    assert moves == [
        ("staging", None, 1, None),
        ("production", None, 1, "ana"),
        ("production", 1, 2, "bob"),
    ]
    assert registry.label_versions("answer") == {"staging": 1, "production": 2}


def test_bad_references_name_what_exists(registry: PromptRegistry) -> None:
    registry.add("answer", PromptSource("one"), labels=["production"])
    with pytest.raises(RegistryError, match=r"no registered prompt 'anwser'.*answer"):
        registry.get("anwser")
    with pytest.raises(RegistryError, match=r"no label 'prod' \(its labels: production\)"):
        registry.get("answer@prod")
    with pytest.raises(RegistryError, match="has no version v7"):
        registry.get("answer@v7")
    for label in ("latest", "v3", "12"):
        with pytest.raises(RegistryError, match="reads as a version"):
            registry.tag("answer", label)
    with pytest.raises(RegistryError, match="invalid prompt name"):
        registry.add("no spaces please", PromptSource("x"))


def test_concurrent_writers_get_distinct_versions(hermetic: Path) -> None:
    Store().close()  # create the schema once
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            with Store() as store:
                PromptRegistry(store).add("shared", PromptSource(f"text {n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    versions = PromptRegistry(Store()).versions("shared")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert len({v.source.template for v in versions}) == 4


PROMPTY = """
---
name: support-answer
description: Answers support questions
model:
  parameters:
    max_tokens: 64
    temperature: 0.3
inputs:
  - name: tone
    default: friendly
---
system: You answer support questions in a {{tone}} tone.
user: {{question}}
"""


def test_prompts_command_end_to_end(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("answer.txt", "Answer the question: {{question}}\n")
    added = run_cli("prompts", "add", "answer", "answer.txt", "-m", "first", "--author", "ana")
    assert added.exit_code == 0, added.output
    assert "registered answer@v1" in added.output
    same = run_cli("prompts", "add", "answer", "answer.txt")
    assert "unchanged" in same.output and "v1" in same.output
    write("answer.txt", "Answer the question briefly and politely: {{question}}\n")
    added = run_cli("prompts", "add", "answer", "answer.txt", "-m", "brief", "-l", "staging")
    assert "registered answer@v2 (staging → v2)" in added.output

    tagged = run_cli("prompts", "tag", "answer@v1", "production", "--author", "ana")
    assert tagged.output.strip() == "answer@production: v1"
    tagged = run_cli("prompts", "tag", "answer@v2", "production")
    assert tagged.output.strip() == "answer@production: v1 → v2"

    listed = run_cli("prompts", "list")
    assert "answer" in listed.output and "v2" in listed.output
    assert "production→v2" in listed.output and "staging→v2" in listed.output

    shown = run_cli("prompts", "show", "answer@v1")
    assert "answer@v1" in shown.output and "ana" in shown.output and "first" in shown.output
    assert "Answer the question: {{question}}" in shown.output

    history = run_cli("prompts", "history", "answer")
    assert "2 versions" in history.output
    assert "production: v1 → v2" in history.output
    assert "brief" in history.output

    diff = run_cli("prompts", "diff", "answer@v1", "v2")
    assert diff.exit_code == 0
    assert "--- answer@v1" in diff.output and "+++ answer@v2" in diff.output
    assert "Answer the question{+ briefly and politely+}: {{question}}" in diff.output
    assert "Answer the question" in diff.output
    against_latest = run_cli("prompts", "diff", "answer@production")
    assert "no difference" in against_latest.output

    missing = run_cli("prompts", "show", "answr")
    assert missing.exit_code == 2
    assert "no registered prompt 'answr'" in missing.output and "answer" in missing.output


def test_word_diff_marks_removed_and_added_words() -> None:
    text = word_diff("The quick brown fox", "The slow brown dog", plain=True)
    assert text.plain == "The [-quick-]{+slow+} brown [-fox-]{+dog+}"
    coloured = word_diff("a b", "a c")
    assert coloured.plain == "a bc"
    styles = {str(span.style) for span in coloured.spans}
    assert "bold red strike" in styles and "bold green" in styles


def test_export_and_import_lose_nothing(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("support.prompty", PROMPTY)
    assert run_cli("prompts", "add", "support-answer", "support.prompty").exit_code == 0
    exported = run_cli("prompts", "export", "support-answer", "-o", "out.prompty")
    assert exported.exit_code == 0, exported.output
    imported = run_cli("prompts", "import", "out.prompty")
    assert "unchanged" in imported.output  # the name comes from the file; no new version
    registry = PromptRegistry(Store())
    version = registry.get("support-answer")
    assert version.version == 1
    assert version.source.params == {"max_tokens": 64, "temperature": 0.3}
    assert version.source.defaults == {"tone": "friendly"}
    assert version.source.description == "Answers support questions"

    # an export is a valid prompt file for a suite, too
    plan = prompteur.plan_suite(
        {"prompts": ["file://out.prompty"], "tests": [{"vars": {"question": "Hi?"}}]}
    )
    assert plan.prompts[0].params == {"max_tokens": 64, "temperature": 0.3}
    assert "friendly tone" in plan.messages(0, 0)[0].content

    # a plain file cannot hold parameters: refused, not silently dropped
    refused = run_cli("prompts", "export", "support-answer", "-o", "out.txt")
    assert refused.exit_code == 2 and "export it to .prompty" in refused.output

    write("plain.txt", "Say {{x}}")
    run_cli("prompts", "add", "plain", "plain.txt")
    assert run_cli("prompts", "export", "plain", "-o", "plain-out.txt").exit_code == 0
    assert "unchanged" in run_cli("prompts", "import", "plain-out.txt", "--name", "plain").output

    write("chat.json", json.dumps([{"role": "system", "content": "Be {{mood}}."}]))
    run_cli("prompts", "add", "chat", "chat.json")
    assert run_cli("prompts", "export", "chat", "-o", "chat-out.json").exit_code == 0
    assert "unchanged" in run_cli("prompts", "import", "chat-out.json", "--name", "chat").output
    to_stdout = run_cli("prompts", "export", "plain")
    assert to_stdout.output.startswith("---\nname: plain\n") and "Say {{x}}" in to_stdout.output
    imported_new = run_cli("prompts", "import", "plain-out.txt", "--name", "plain-copy")
    assert "registered plain-copy@v1" in imported_new.output
    assert PromptRegistry(Store()).get("plain-copy").origin == "import"


SUITE = """
description: registered prompts
prompts:
  - prompt: answer@production
providers: [echo]
tests:
  - vars: {q: tea}
    assert: [{type: contains, value: briefly}]
  - vars: {q: coffee}
    assert: [{type: contains, value: briefly}]
"""


def test_suites_run_registered_prompts_and_runs_record_versions(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    registry = PromptRegistry(Store())
    registry.add("answer", PromptSource("Answer: {{q}}"), labels=["production"])
    registry.add("answer", PromptSource("Answer briefly: {{q}}"))
    write("prompteur.yaml", SUITE)

    first = run_cli("eval", "--no-progress")
    assert first.exit_code == 1  # v1 does not say "briefly"
    assert "answer@v1" in first.output
    registry.tag("answer@v2", "production")
    second = run_cli("eval", "--no-progress")
    assert second.exit_code == 0, second.output

    store = Store()
    newest, older = store.runs(limit=2)
    assert older.registered == [("answer", 1)] and newest.registered == [("answer", 2)]
    assert older.prompts == [("answer", "answer@v1")]
    assert older.options["cli"]["pins"] == {"answer@production": "answer@v1"}

    # compare pairs the two runs' cells by the prompt's name across versions
    compared = run_cli("compare", older.id, newest.id)
    assert "shared cases: 2" in compared.output
    assert "A 0.0% → B 100.0%" in compared.output
    # history draws one line for the prompt, and says its version changed
    history = run_cli("history", "prompteur.yaml")
    assert "answer × echo" in history.output
    assert "the prompt changed: answer@v1 → answer@v2" in history.output
    usage = run_cli("prompts", "history", "answer")
    assert f"run {older.id}  v1 × echo: 0% (0/2)" in usage.output
    assert f"run {newest.id}  v2 × echo: 100% (2/2)" in usage.output


def test_versions_side_by_side_and_pins(hermetic: Path, write: Callable[[str, str], Path]) -> None:
    store = Store()
    registry = PromptRegistry(store)
    registry.add("answer", PromptSource("Answer: {{q}}"), labels=["production"])
    registry.add("answer", PromptSource("Answer briefly: {{q}}"), labels=["staging"])
    suite = {
        "prompts": ["prompt://answer@production", {"prompt": "answer@staging", "label": "next"}],
        "providers": ["echo"],
        "tests": [{"vars": {"q": "tea"}}],
    }
    plan = prompteur.plan_suite(suite, store=store)
    assert [(p.id, p.label, p.registry) for p in plan.prompts] == [
        ("answer@v1", "answer@v1", ("answer", 1)),
        ("next", "next (answer@v2)", ("answer", 2)),
    ]
    assert plan.pins() == {"answer@production": "answer@v1", "answer@staging": "answer@v2"}
    # a resumed run uses the versions it started with, wherever the labels went since
    registry.tag("answer@v2", "production")
    pinned = prompteur.plan_suite(suite, store=store, pins={"answer@production": "answer@v1"})
    assert pinned.prompts[0].registry == ("answer", 1)
    result = prompteur.evaluate(suite, store=store)
    assert sorted(r.output or "" for r in result.results) == [
        "Answer briefly: tea",
        "Answer briefly: tea",
    ]


def test_unknown_registered_prompt_is_a_suite_error(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    PromptRegistry(Store()).add("answer", PromptSource("x"), labels=["production"])
    write(
        "prompteur.yaml",
        """
        prompts:
          - raw: "plain {{q}}"
          - prompt: answer@prod
        tests:
          - vars: {q: tea}
        """,
    )
    result = run_cli("eval", "--no-progress")
    assert result.exit_code == 2
    assert "prompteur.yaml:3" in result.output
    assert "prompt 'answer' has no label 'prod' (its labels: production)" in result.output
    assert Store().runs() == []


def test_lineage_names_the_version_an_edit_was_made_from(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    from prompteur.store import PromptRegistry

    for text in ("Answer: {{q}}", "Answer briefly: {{q}}"):
        write("answer.txt", text)
        assert run_cli("prompts", "add", "answer", "answer.txt").exit_code == 0
    assert run_cli("prompts", "tag", "answer@v1", "production").exit_code == 0
    write("answer.txt", "Answer kindly: {{q}}")
    made = run_cli("prompts", "add", "answer", "answer.txt", "--parent", "production")
    assert made.output.strip() == "registered answer@v3"
    assert "origin:       manual, from v1" in run_cli("prompts", "show", "answer@v3").output
    write("answer.txt", "Answer kindly and briefly: {{q}}")
    run_cli("prompts", "add", "answer", "answer.txt")
    versions = PromptRegistry.open().versions("answer")
    assert [v.parent for v in versions] == [None, 1, 1, 3]
    missing = run_cli("prompts", "add", "answer", "answer.txt", "--parent", "v9")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: prompt 'answer' has no version v9")


def test_a_new_description_is_a_new_version(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    from prompteur.store import PromptRegistry

    write("answer.prompty", "---\nname: answer\ndescription: one\n---\nAnswer: {{q}}\n")
    assert run_cli("prompts", "add", "answer", "answer.prompty").output == "registered answer@v1\n"
    again = run_cli("prompts", "add", "answer", "answer.prompty").output
    assert again == "answer: unchanged, v1 has this content\n"
    write("answer.prompty", "---\nname: answer\ndescription: two\n---\nAnswer: {{q}}\n")
    assert run_cli("prompts", "add", "answer", "answer.prompty").output == "registered answer@v2\n"
    # a file that cannot hold a description leaves the latest one's standing
    write("answer.txt", "Answer: {{q}}")
    plain = run_cli("prompts", "add", "answer", "answer.txt").output
    assert plain == "answer: unchanged, v2 has this content\n"
    latest = PromptRegistry.open().get("answer")
    assert (latest.version, latest.source.description) == (2, "two")


def test_an_exported_prompty_edited_and_registered_again_names_its_parent(
    hermetic: Path, run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    from prompteur.store import PromptRegistry

    write("answer.prompty", "---\nname: answer\n---\nAnswer: {{q}}\n")
    run_cli("prompts", "add", "answer", "answer.prompty")
    write("answer.prompty", "---\nname: answer\n---\nAnswer briefly: {{q}}\n")
    run_cli("prompts", "add", "answer", "answer.prompty")
    assert run_cli("prompts", "export", "answer@v1", "-o", "old.prompty").exit_code == 0
    assert "version: v1" in (hermetic / "old.prompty").read_text()
    edited = (hermetic / "old.prompty").read_text().replace("Answer:", "Answer kindly:")
    write("old.prompty", edited)
    assert run_cli("prompts", "add", "answer", "old.prompty").exit_code == 0
    edited = edited.replace("kindly", "gently")
    write("old.prompty", edited)
    assert run_cli("prompts", "import", "old.prompty").exit_code == 0
    # a file naming another prompt, or a version this store lacks, leaves the latest
    write("other.prompty", edited.replace("gently", "warmly").replace("version: v1", "version: v9"))
    assert run_cli("prompts", "add", "answer", "other.prompty").exit_code == 0
    versions = PromptRegistry.open().versions("answer")
    assert [v.parent for v in versions] == [None, 1, 1, 1, 4]


def test_inline_text_that_reads_as_a_reference_is_warned_about(
    hermetic: Path, write: Callable[[str, str], Path]
) -> None:
    import subprocess
    import sys

    write(
        "suite.yaml",
        'prompts: ["support@production", "Write to a@b.com"]\nproviders: [echo]\ntests: [{}]\n',
    )
    done = subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "suite.yaml", "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "warning: suite.yaml:1:11: the prompt 'support@production' is sent as this very "
        "text; to run the registered prompt, write '- prompt: support@production'\n"
    )
