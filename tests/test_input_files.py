"""Files a suite names are read as their authors meant them: a byte-order mark is not text,
an empty prompt file or folder is a located error."""

from __future__ import annotations

from pathlib import Path

import pytest

import prompteur
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
