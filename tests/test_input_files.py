"""Files a suite names are read as their authors meant them: a byte-order mark is not text,
an empty prompt file or folder is a located error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import SuiteError
from prompteur.prompts import Message

BOM = "\ufeff"


def write_with_bom(path: Path, text: str) -> None:
    path.write_bytes(BOM.encode() + text.encode())


def test_a_byte_order_mark_does_not_reach_the_prompt(tmp_path: Path) -> None:
    write_with_bom(tmp_path / "bom.txt", "Line one {{ x }}\n")
    plan = prompteur.plan_suite(
        {"prompts": ["file://bom.txt"], "providers": ["echo"], "tests": [{"vars": {"x": "y"}}]}
    )
    assert plan.messages(0, 0) == (Message("user", "Line one y"),)


def test_a_prompty_file_with_a_byte_order_mark_keeps_its_frontmatter(tmp_path: Path) -> None:
    write_with_bom(
        tmp_path / "p.prompty",
        "---\nname: Greeter\nmodel:\n  parameters:\n    max_tokens: 9\n---\nuser: Hi {{ who }}\n",
    )
    plan = prompteur.plan_suite(
        {"prompts": ["file://p.prompty"], "providers": ["echo"], "tests": [{"vars": {"who": "A"}}]}
    )
    (prompt,) = plan.prompts
    assert prompt.label == "Greeter"
    assert prompt.params == {"max_tokens": 9}
    assert plan.messages(0, 0) == (Message("user", "Hi A"),)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("cases.json", '[{"vars": {"q": "one"}}]'),
        ("cases.jsonl", '{"vars": {"q": "one"}}\n'),
        ("cases.yaml", "- vars: {q: one}\n"),
        ("cases.csv", "q\none\n"),
    ],
)
def test_tests_files_with_a_byte_order_mark_read_as_without(
    tmp_path: Path, name: str, text: str
) -> None:
    write_with_bom(tmp_path / name, text)
    plan = prompteur.plan_suite(
        {"prompts": ["{{ q }}"], "providers": ["echo"], "tests": [f"file://{name}"]}
    )
    assert [dict(t.vars) for t in plan.tests] == [{"q": "one"}]


@pytest.mark.parametrize("name", ["suite.yaml", "suite.json"])
def test_a_suite_file_with_a_byte_order_mark_loads(tmp_path: Path, name: str) -> None:
    text = '{"prompts": ["hi {{ q }}"], "providers": ["echo"], "tests": [{"vars": {"q": "x"}}]}'
    write_with_bom(tmp_path / name, text)
    plan = prompteur.plan_suite(prompteur.load_suite(tmp_path / name))
    assert plan.messages(0, 0) == (Message("user", "hi x"),)


def eval_one_line_error(run_cli: Callable[..., Result], *args: str) -> str:
    """Run ``prompteur eval``; it must stop with exit code 2 and one error line."""
    result = run_cli("eval", *args, "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert not Path("called.marker").exists(), "no model may be called for a bad suite"
    return result.stderr


# A python provider that leaves a mark when it is called.
MARKER_PROVIDER = (
    "from pathlib import Path\n"
    "def call_api(prompt, options, context):\n"
    "    Path('called.marker').write_text('called')\n"
    "    return prompt\n"
)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("empty.txt", "", "suite.yaml:1:11: prompt file empty.txt is empty"),
        ("blank.md", "\n  \n---\n\n", "suite.yaml:1:11: prompt file blank.md is empty"),
        (
            "bare.prompty",
            "---\nname: bare\n---\n\n",
            "suite.yaml:1:11: prompt file bare.prompty has no prompt after its frontmatter",
        ),
        ("none.json", "[]", "none.json:1:1: prompt file none.json holds no messages"),
    ],
)
def test_an_empty_prompt_file_is_named_with_its_place(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    name: str,
    text: str,
    expected: str,
) -> None:
    Path(name).write_text(text, encoding="utf-8")
    write("provider.py", MARKER_PROVIDER)
    write("suite.yaml", f"prompts: [file://{name}]\nproviders: [file://provider.py]\n")
    assert eval_one_line_error(run_cli, "suite.yaml") == f"error: {expected}\n"


@pytest.mark.parametrize(
    ("suite", "expected"),
    [
        (
            "prompts: [hi]\nproviders: [file://provider.py]\nproviders: [echo]\n",
            "suite.yaml:3:1: invalid YAML: the key 'providers' is written twice (first at 2:1)",
        ),
        (
            "prompts: [hi]\ntests:\n  - vars: {a: 1,\n          a: 2}\n",
            "suite.yaml:4:11: invalid YAML: the key 'a' is written twice (first at 3:12)",
        ),
    ],
)
def test_a_key_written_twice_is_located(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], suite: str, expected: str
) -> None:
    write("provider.py", MARKER_PROVIDER)
    write("suite.yaml", suite)
    assert eval_one_line_error(run_cli, "suite.yaml").startswith(f"error: {expected}")


def test_an_empty_list_var_names_itself_not_the_tests_files(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write("provider.py", MARKER_PROVIDER)
    write(
        "suite.yaml",
        """
        prompts: ["{{x}} {{y}}"]
        providers: [file://provider.py]
        defaultTest:
          vars: {y: []}
        tests:
          - vars: {x: [1, 2]}
        """,
    )
    error = eval_one_line_error(run_cli, "suite.yaml")
    assert error.startswith("error: suite.yaml:4:13: variable 'y' is an empty list"), error
    assert "disableVarExpansion" in error


def test_an_empty_list_var_passes_as_a_list_without_expansion() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["{{ x | length }}"],
            "providers": ["echo"],
            "tests": [{"vars": {"x": []}, "options": {"disableVarExpansion": True}}],
        }
    )
    assert plan.messages(0, 0) == (Message("user", "0"),)


def test_a_folder_without_a_suite_is_named(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "emptydir").mkdir()
    error = eval_one_line_error(run_cli, "emptydir")
    assert error.startswith("error: no suite file in emptydir/: expected one of prompteur.yaml")
    assert "prompteur init emptydir" in error


def test_load_suite_of_a_folder_without_a_suite(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no suite file in this folder"):
        prompteur.load_suite(tmp_path)
