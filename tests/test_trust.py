"""Planning a suite one did not write (``trusted=False``): no Python runs and no file
outside the suite's folder is read; each refusal is one SuiteError at its place. Trusted
planning, the default, is unchanged."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import prompteur
from prompteur.core._errors import SuiteError

MARK = """
from pathlib import Path
Path(__file__).with_name("ran.marker").write_text("ran")

def call_api(prompt, options, context):
    return prompt

def get_assert(output, context):
    return True
"""


@pytest.fixture
def project(write: Callable[[str, str], Path], tmp_path: Path) -> Path:
    """A suite folder, with a file outside it and a python file inside."""
    write("outside/secret.txt", "the secret")
    write("suite/code.py", MARK)
    write("suite/ok.txt", "fine")
    write("suite/cases.yaml", "- vars: {q: a}\n")
    return tmp_path / "suite"


def _refused(folder: Path, text: str) -> str:
    (folder / "suite.yaml").write_text(text)
    with pytest.raises(SuiteError) as caught:
        prompteur.plan_suite(folder / "suite.yaml", trusted=False)
    assert not (folder / "ran.marker").exists(), "python ran"
    message = str(caught.value)
    assert "untrusted" in message, message
    return message


BASE = "prompts: ['{{q}}']\nproviders: [echo]\n"


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        (
            BASE + "tests:\n  - vars: {q: a}\n    assert: [{type: python, value: 'True'}]\n",
            "suite.yaml:5:",
            "python assertion",
        ),
        (
            BASE + "tests:\n  - vars: {q: a}\n    assert: [{type: not-python, value: 'False'}]\n",
            "suite.yaml:5:",
            "python assertion",
        ),
        (
            BASE
            + "tests:\n  - vars: {q: a}\n    assert: [{type: python, value: file://code.py}]\n",
            "suite.yaml:5:",
            "code.py",
        ),
        (
            "prompts: ['{{q}}']\nproviders: [file://code.py]\ntests: [{vars: {q: a}}]\n",
            "suite.yaml:2:",
            "python provider",
        ),
        (
            "prompts: ['{{q}}']\nproviders: ['python:code.py:call_api']\ntests: [{vars: {q: a}}]\n",
            "suite.yaml:2:",
            "python provider",
        ),
        (BASE + "tests:\n  - vars: {q: file://code.py}\n", "suite.yaml:4:", "python file"),
        (
            BASE + "tests:\n  - vars: {q: file://../outside/secret.txt}\n",
            "suite.yaml:4:",
            "outside the suite's folder",
        ),
        (
            BASE + "tests:\n  - vars: {q: file:///etc/passwd}\n",
            "suite.yaml:4:",
            "outside the suite's folder",
        ),
        (
            "prompts: [file://../outside/secret.txt]\nproviders: [echo]\n",
            "suite.yaml:1:",
            "outside the suite's folder",
        ),
        (BASE + "tests: file://../outside/*.txt\n", "suite.yaml:3:", "outside"),
        (BASE + "defaultTest: file://../outside/secret.txt\n", "suite.yaml:3:", "outside"),
        (
            BASE
            + "tests:\n  - vars: {q: a}\n    assert: [{type: llm-rubric, value: x, provider: echo}]\n"
            + "    options: {rubricPrompt: file://../outside/secret.txt}\n",
            "suite.yaml:5:",
            "outside",
        ),
        (
            BASE
            + "tests:\n  - vars: {q: a}\n    assert: [{type: is-json, value: file:///etc/hosts}]\n",
            "suite.yaml:5:",
            "outside",
        ),
    ],
)
def test_untrusted_planning_refuses_code_and_outside_files(
    project: Path, text: str, where: str, what: str
) -> None:
    message = _refused(project, text)
    assert message.startswith("suite/" + where), message
    assert what in message, message
    assert "the secret" not in message


def test_a_symlink_out_of_the_folder_is_refused(project: Path) -> None:
    os.symlink(project.parent / "outside" / "secret.txt", project / "link.txt")
    message = _refused(project, BASE + "tests:\n  - vars: {q: file://link.txt}\n")
    assert message.startswith("suite/suite.yaml:4:") and "outside" in message


def test_files_inside_the_folder_are_read(project: Path) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "x.txt").write_text("inner")
    (project / "suite.yaml").write_text(
        "prompts: [file://ok.txt, '{{q}}']\nproviders: [echo]\n"
        "tests:\n  - file://cases.yaml\n  - vars: {q: file://sub/../sub/x.txt}\n"
    )
    plan = prompteur.plan_suite(project / "suite.yaml", trusted=False)
    assert [t.vars["q"] for t in plan.tests] == ["a", "inner"]
    result = prompteur.evaluate(project / "suite.yaml", trusted=False)
    assert result.summary.done == 4


def test_trusted_planning_is_the_default(project: Path, write: Callable[[str, str], Path]) -> None:
    (project / "suite.yaml").write_text(
        "prompts: ['{{q}}']\nproviders: [file://code.py]\n"
        "tests:\n  - vars: {q: file://../outside/secret.txt}\n"
        "    assert: [{type: python, value: 'True'}]\n"
    )
    result = prompteur.evaluate(project / "suite.yaml")
    assert result.success and (project / "ran.marker").exists()
    with pytest.raises(SuiteError, match="untrusted"):
        prompteur.evaluate(project / "suite.yaml", trusted=False)


def test_untrusted_mode_ends_with_the_planning(project: Path) -> None:
    (project / "suite.yaml").write_text(BASE + "tests:\n  - vars: {q: file://code.py}\n")
    with (project / "code.py").open("a") as code:  # a var file's value is its get_var's
        code.write("\ndef get_var(name, prompt, others):\n    return {'output': 'from get_var'}\n")
    with pytest.raises(SuiteError):
        prompteur.plan_suite(project / "suite.yaml", trusted=False)
    assert prompteur.plan_suite(project / "suite.yaml").tests[0].vars["q"] == "from get_var"


def test_trusted_is_a_keyword_of_the_public_entry_points() -> None:
    for function in (prompteur.plan_suite, prompteur.evaluate, prompteur.evaluate_async):
        parameter = inspect.signature(function).parameters["trusted"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is True


@pytest.mark.parametrize(
    ("provider", "what"),
    [
        ("{id: 'openai:chat:m', config: {apiBaseUrl: 'http://127.0.0.1:9/v1'}}", "OPENAI_API_KEY"),
        ("{id: 'openai:chat:m', config: {apiHost: '127.0.0.1:9'}}", "OPENAI_API_KEY"),
        (
            "{id: 'anthropic:messages:m', config: {apiBaseUrl: 'http://127.0.0.1:9'}}",
            "ANTHROPIC_API_KEY",
        ),
        ("{id: 'openai:chat:m', config: {apiKeyEnvar: HOME}}", "apiKeyEnvar"),
    ],
)
def test_untrusted_suites_get_no_key_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch, provider: str, what: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-own-key-0001")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-server-own-0001")
    text = f"prompts: ['{{{{q}}}}']\nproviders:\n  - {provider}\ntests: [{{vars: {{q: a}}}}]\n"
    message = _refused(project, text)
    assert message.startswith("suite/suite.yaml:3:") and what in message, message
    # the suite's author trusted, the same suite plans
    prompteur.plan_suite(project / "suite.yaml")


def test_untrusted_suites_may_use_the_environments_own_endpoint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-own-key-0001")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    (project / "suite.yaml").write_text(
        "prompts: ['{{q}}']\nproviders: ['openai:chat:m']\ntests: [{vars: {q: a}}]\n"
    )
    prompteur.plan_suite(project / "suite.yaml", trusted=False)


def test_untrusted_suites_set_no_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-own-key-0001")
    text = (
        "env: {OPENAI_BASE_URL: 'http://127.0.0.1:9/v1'}\n"
        "prompts: ['{{q}}']\nproviders: ['openai:chat:m']\ntests: [{vars: {q: a}}]\n"
    )
    message = _refused(project, text)
    assert message.startswith("suite/suite.yaml:1:1:") and "'env'" in message, message


def test_an_untrusted_suites_model_file_lies_in_its_folder(
    project: Path, embedded_model_path: Path
) -> None:
    (project / "suite.yaml").write_text(
        f"prompts: [hi]\nproviders: ['local:{embedded_model_path}']\n"
    )
    with pytest.raises(
        SuiteError, match=r"suite.yaml:2:\d+: file .* is outside the suite's folder"
    ):
        prompteur.plan_suite(project / "suite.yaml", trusted=False)
    prompteur.plan_suite(project / "suite.yaml")  # trusted: any model file
