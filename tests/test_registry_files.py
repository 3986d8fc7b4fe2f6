"""The registry's files: what `prompts add` accepts (templates that compile, nothing
dropped in silence), and exports that read back to the same content, in every format, or
are refused with one line that says which format can hold them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import TemplateError
from prompteur.store import Store
from prompteur.store._registry import PromptRegistry, PromptSource, RegistryError
from prompteur.store._registry_source import dump_messages

CliRunner = Callable[..., Result]
Writer = Callable[[str, str], Path]


def one_error_line(result: Result) -> str:
    """The single line a refused command prints, after checking it is one line, exit 2."""
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


# --- what `prompts add` accepts -------------------------------------------------------------

INVALID = [
    (
        "syntax.txt",
        "Hello {{ name }} and {{ foo bar }}\n",
        "syntax.txt:1:22: template syntax error: expected token 'end of print statement', "
        "got 'bar'",
    ),
    (
        "blank-lines.txt",
        "\n\nHi {{ x y }}\n",
        "blank-lines.txt:3:4: template syntax error: expected token 'end of print statement', "
        "got 'y'",
    ),
    ("empty.txt", "", "empty.txt:1:1: the prompt is empty"),
    ("blank.md", "  \n\n", "blank.md:1:1: the prompt is empty"),
    ("markers-only.txt", "system:\nuser:\n", "markers-only.txt:1:1: the prompt is empty"),
    (
        "chat.txt",
        "system: Be brief.\nuser: {% if %}\n",
        "chat.txt:2:7: template syntax error: Expected an expression, got 'end of statement block'",
    ),
    (
        "filter.txt",
        "Say {{ x | shout }}",
        "filter.txt:1:5: template syntax error: No filter named 'shout'.",
    ),
    (
        "chat.json",
        '[{"role": "user", "content": "{{ x y }}"}]',
        "chat.json:1:30: template syntax error in message 1 (line 1, column 1 of its content): "
        "expected token 'end of print statement', got 'y'",
    ),
    (
        "chat.yaml",
        "- role: system\n  content: Be brief.\n- role: user\n  content: 'Do {% for %}'\n",
        "chat.yaml:4:12: template syntax error in message 2 (line 1, column 4 of its content): "
        "Expected an expression, got 'end of statement block'",
    ),
    (
        "none.json",
        "[]",
        "none.json:1:1: a chat prompt file must hold a list of {role, content} messages",
    ),
    (
        "silent.json",
        '[{"role": "user", "content": " "}]',
        "silent.json:1:1: the prompt holds no message with any content",
    ),
    (
        "robot.json",
        '[{"role": "robot", "content": "hi"}]',
        "robot.json:1:31: message 1 has the role 'robot': use system, user, assistant, "
        "developer or tool",
    ),
    (
        "body.prompty",
        "---\nname: body\nmodel:\n  parameters: {temperature: 0}\n---\n\nsystem: hi\nuser: {{ q\n",
        "body.prompty:8:7: template syntax error: unexpected end of template, expected 'end of "
        "print statement'.",
    ),
]


@pytest.mark.parametrize(("file", "text", "error"), INVALID, ids=[case[0] for case in INVALID])
def test_add_refuses_a_template_that_cannot_render(
    hermetic: Path, run_cli: CliRunner, write: Writer, file: str, text: str, error: str
) -> None:
    (hermetic / file).write_text(text, encoding="utf-8")
    line = one_error_line(run_cli("prompts", "add", "p", file))
    assert line == f"error: {error}"
    assert PromptRegistry(Store()).names() == []


def test_the_library_refuses_invalid_templates_too(hermetic: Path) -> None:
    registry = PromptRegistry(Store())
    with pytest.raises(TemplateError, match=r"^answer:1:7: template syntax error"):
        registry.add("answer", PromptSource("Hello {{ x"))
    with pytest.raises(TemplateError, match="the prompt is empty"):
        registry.add("answer", PromptSource("\n"))
    with pytest.raises(TemplateError, match="message 1 has the role"):
        registry.add("answer", PromptSource('[{"role": "bot", "content": "x"}]', "messages"))
    assert registry.names() == []


def test_message_keys_beyond_role_and_content_are_kept(
    hermetic: Path, run_cli: CliRunner, write: Writer
) -> None:
    messages = [
        {"role": "system", "content": "You are {{ persona }}.", "name": "setup"},
        {"role": "user", "content": "{{ question }}", "name": "ana"},
    ]
    write("chat.json", json.dumps(messages))
    assert run_cli("prompts", "add", "chat", "chat.json").exit_code == 0
    stored = json.loads(PromptRegistry(Store()).get("chat").source.template)
    assert stored == messages
    assert run_cli("prompts", "export", "chat", "-o", "out.json").exit_code == 0
    assert json.loads(Path("out.json").read_text()) == messages
    assert "unchanged" in run_cli("prompts", "import", "out.json", "--name", "chat").output
    # a role-marker body cannot carry them: refused, not dropped
    line = one_error_line(run_cli("prompts", "export", "chat", "-o", "out.prompty"))
    assert "keys a role marker cannot carry: name" in line and "export it to .json" in line


def test_prompty_frontmatter_the_registry_does_not_keep_is_named(
    hermetic: Path, run_cli: CliRunner, write: Writer
) -> None:
    write(
        "full.prompty",
        """
        ---
        name: full
        authors: [ana]
        model:
          api: chat
          configuration: {type: azure_openai, azure_deployment: gpt-4o}
          parameters: {temperature: 0.1}
        ---
        user: {{ question }}
        """,
    )
    added = run_cli("prompts", "add", "full", "full.prompty")
    assert added.exit_code == 0, added.output
    assert added.stderr.strip() == (
        "warning: full.prompty: the registry does not keep authors, model.configuration (it "
        "keeps the template, model parameters, input defaults and description)"
    )
    assert PromptRegistry(Store()).get("full").source.params == {"temperature": 0.1}
    # model.api: chat is what prompteur does; the export says so, and reads back silently
    assert run_cli("prompts", "export", "full", "-o", "out.prompty").exit_code == 0
    assert "  api: chat\n" in Path("out.prompty").read_text()
    again = run_cli("prompts", "import", "out.prompty")
    assert again.stderr == "" and "unchanged" in again.output


@pytest.mark.parametrize(
    ("frontmatter", "error"),
    [
        ("model:\n  api: completion", "model.api is 'completion', but prompteur sends every"),
        ("template: mustache", "the template format is 'mustache', but prompteur renders Jinja2"),
        ("template: {format: handlebars, parser: prompty}", "the template format is 'handlebars'"),
    ],
)
def test_prompty_a_run_would_misread_is_refused(
    hermetic: Path, run_cli: CliRunner, write: Writer, frontmatter: str, error: str
) -> None:
    write("odd.prompty", f"---\nname: odd\n{frontmatter}\n---\nuser: {{{{ q }}}}\n")
    line = one_error_line(run_cli("prompts", "add", "odd", "odd.prompty"))
    assert line.startswith(f"error: odd.prompty:1:1: {error}")


# --- exports that read back unchanged -------------------------------------------------------

KINDS = {
    "text": PromptSource("Answer {{ question }} in a {{ tone }} tone."),
    "chat-text": PromptSource("system: Answer in a {{ tone }} tone.\n\nuser: {{ question }}"),
    "messages": PromptSource(
        dump_messages(
            [
                {"role": "system", "content": "Answer in a {{ tone }} tone."},
                {"role": "user", "content": "Question:\n{{ question }}"},
                {"role": "assistant", "content": ""},
            ]
        ),
        "messages",
    ),
}
PARAMS = {"temperature": 0.2, "max_tokens": 64, "stop": ["\n\n"], "seed": 7}
EXTRAS: dict[str, dict[str, Any]] = {
    "bare": {},
    "params": {"params": PARAMS},
    "defaults": {"defaults": {"tone": "dry", "question": None}},
    "both": {"params": PARAMS, "defaults": {"tone": "dry"}, "description": "Answers\nbriefly"},
}
SUFFIXES = [".prompty", ".txt", ".md", ".json"]


def exportable(kind: str, extra: str, suffix: str) -> bool:
    if suffix == ".prompty":
        return True  # a message list is written as role-marker lines, and read back as one
    if extra != "bare":
        return False  # only .prompty has room for parameters and input defaults
    return (kind == "messages") == (suffix == ".json")


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("extra", EXTRAS)
@pytest.mark.parametrize("kind", KINDS)
def test_export_then_import_keeps_the_content_hash(
    hermetic: Path, run_cli: CliRunner, kind: str, extra: str, suffix: str
) -> None:
    registry = PromptRegistry(Store())
    version, _ = registry.add("p", replace(KINDS[kind], **EXTRAS[extra]))
    out = f"out{suffix}"
    exported = run_cli("prompts", "export", "p", "-o", out)
    if not exportable(kind, extra, suffix):
        line = one_error_line(exported)
        assert "export it to ." in line
        assert not Path(out).exists() and list(hermetic.glob(".out*")) == []
        return
    assert exported.exit_code == 0, exported.output
    # into the same store: nothing new
    again = run_cli("prompts", "import", out, "--name", "p")
    assert again.exit_code == 0 and "unchanged, v1" in again.output, again.output
    # into another store: the same content, to the hash
    fresh = run_cli("prompts", "import", out, "--name", "p", "--db", "other.db")
    assert "registered p@v1" in fresh.output, fresh.output
    copy = PromptRegistry(Store("other.db")).get("p")
    assert copy.content_hash == version.content_hash
    assert (copy.source.format, copy.source.template) == (
        version.source.format,
        version.source.template,
    )
    assert copy.source.params == version.source.params
    assert copy.source.defaults == version.source.defaults
    if suffix == ".prompty":
        assert copy.source.description == version.source.description
    # and a suite reads the exported file as the same prompt
    case = {"question": "Why?", "tone": "warm"}
    plan = prompteur.plan_suite({"prompts": [f"file://{out}"], "tests": [{"vars": case}]})
    assert plan.messages(0, 0) == version.template().render(case)
    assert plan.prompts[0].params == version.source.params


def test_a_dash_line_exports_to_prompty_not_to_a_plain_file(
    hermetic: Path, run_cli: CliRunner, write: Writer
) -> None:
    write("rules.prompty", "---\nname: rules\n---\nRules:\n---\nAnswer {{ q }}.\n")
    assert run_cli("prompts", "add", "rules", "rules.prompty").exit_code == 0
    for out in ("rules.txt", "rules.md"):
        line = one_error_line(run_cli("prompts", "export", "rules", "-o", out))
        assert line == (
            "error: rules@v1 holds a '---' line, which splits a plain prompt file into several "
            "prompts: export it to .prompty"
        )
        assert not Path(out).exists()
    assert run_cli("prompts", "export", "rules", "-o", "back.prompty").exit_code == 0
    assert "unchanged, v1" in run_cli("prompts", "import", "back.prompty").output


@pytest.mark.parametrize(
    ("source", "suffix", "error"),
    [
        (
            PromptSource(
                dump_messages([{"role": "user", "content": "{{ q }}", "name": "ana"}]),
                "messages",
                {"temperature": 0},
            ),
            ".json",
            "which a .json message list cannot hold: export its whole history to .json with --all",
        ),
        (
            PromptSource(
                dump_messages([{"role": "developer", "content": "{{ q }}"}]),
                "messages",
                {"temperature": 0},
            ),
            ".prompty",
            "cannot be written as role-marker lines (message 1 has the role 'developer'): "
            "export its whole history to .json with --all",
        ),
        (
            PromptSource(dump_messages([{"role": "user", "content": "a\nuser: b"}]), "messages"),
            ".prompty",
            "(message 1 holds a line that reads as a role marker): export it to .json",
        ),
        (
            PromptSource("\nIndented {{ q }}"),
            ".txt",
            "begins or ends with blank lines, which files do not keep; export its whole history",
        ),
        (
            PromptSource("Hi {{ q }}", params={"maxOutputTokens": 5}),
            ".prompty",
            "would not read back unchanged from a .prompty file; export its whole history",
        ),
    ],
)
def test_what_no_single_file_can_hold_is_refused(
    hermetic: Path, run_cli: CliRunner, source: PromptSource, suffix: str, error: str
) -> None:
    PromptRegistry(Store()).add("p", source)
    line = one_error_line(run_cli("prompts", "export", "p", "-o", f"out{suffix}"))
    assert error in line
    assert not Path(f"out{suffix}").exists()


def test_export_refuses_in_the_library_too(hermetic: Path) -> None:
    from prompteur.store._registry_export import export_text

    registry = PromptRegistry(Store())
    version, _ = registry.add("p", PromptSource("a\n---\nb"))
    with pytest.raises(RegistryError, match=r"export it to \.prompty"):
        export_text(version, "text")
    assert export_text(version, "prompty").endswith("---\na\n---\nb\n")
