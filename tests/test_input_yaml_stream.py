"""Large YAML tests files are read a chunk at a time, with the same result as a whole read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import prompteur
from prompteur.config import _yaml_stream
from prompteur.config._source import loads_yaml
from prompteur.core._errors import SuiteError


def _cases(count: int, extra: str = "") -> str:
    return "".join(
        f"- vars: {{topic: 'topic {n}', note: \"n{n}\"}}\n"
        f"  description: case {n}\n"
        "  assert:\n"
        f"    - type: contains\n      value: topic {n}\n"
        "    - type: python\n      value: |\n        len(output) > 1\n" + extra
        for n in range(count)
    )


def _plan(folder: Path, tests: str) -> prompteur.Plan:
    (folder / "tests.yaml").write_text(tests)
    return prompteur.plan_suite(
        {"prompts": ["{{topic}}"], "providers": ["echo"], "tests": "file://tests.yaml"}
    )


def test_chunks_give_the_items_a_whole_parse_gives() -> None:
    text = "# generated\n\n" + _cases(2_500)
    assert len(text) > _yaml_stream.STREAM_FROM_CHARS
    chunks: list[str] = []

    def parse(chunk: str) -> object:
        chunks.append(chunk)
        return loads_yaml(chunk)

    items = _yaml_stream.yaml_list_items(text, parse)
    assert items is not None
    assert list(items) == yaml.safe_load(text)
    assert len(chunks) == 13, "2,500 items, 200 a chunk"


@pytest.mark.parametrize(
    "text",
    [
        _cases(10),  # small: parsed whole
        "defaults: &d {type: contains}\ntests:\n" + _cases(2_500),  # not a list at column 0
        _cases(2_500).replace("- vars", "- <<: *common\n  vars", 1),  # aliases
        "---\n" + _cases(2_500),  # a document marker
    ],
)
def test_other_shapes_are_left_to_the_whole_parse(text: str) -> None:
    assert _yaml_stream.yaml_list_items(text, loads_yaml) is None


def test_a_large_file_plans_as_a_whole_read_would(hermetic: Path) -> None:
    plan = _plan(hermetic, _cases(2_500))
    assert len(plan.tests) == 2_500
    assert plan.tests[2_499].description == "case 2499"
    assert plan.tests[1_234].vars == {"topic": "topic 1234", "note": "n1234"}


def test_a_quoted_line_that_looks_like_an_item_falls_back_to_the_whole_parse(
    hermetic: Path,
) -> None:
    # a double-quoted value whose second line starts like a list item, at a chunk boundary
    tricky = '- vars: {topic: "first line\n- still the same value"}\n'
    text = _cases(199) + tricky + _cases(2_300)
    assert _yaml_stream.yaml_list_items(text, loads_yaml) is not None, "it looks plain"
    plan = _plan(hermetic, text)
    assert len(plan.tests) == 2_500
    assert plan.tests[199].vars["topic"] == "first line - still the same value"


def test_a_syntax_error_deep_in_a_large_file_names_its_line(hermetic: Path) -> None:
    text = _cases(2_000) + "- vars: {topic: [unclosed\n" + _cases(500)
    with pytest.raises(SuiteError) as caught:
        _plan(hermetic, text)
    line = text[: text.index("[unclosed")].count("\n") + 1
    assert caught.value.location is not None
    assert caught.value.location.file.endswith("tests.yaml")
    assert caught.value.location.line in (line, line + 1)
