"""CSV tests files lose nothing silently: a quote left open, a column named twice, an
unknown control column, a row of the wrong width are located errors; promptfoo's control
columns (__prefix, __suffix, __metadata:KEY[], __config:...) do what they do there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.assertions._registry import REGISTERED_TYPES
from prompteur.config._tests import load_test_file
from prompteur.core._errors import SuiteError
from prompteur.prompts import Message

PROVIDER = """
from pathlib import Path

def call_api(prompt, options, context):
    Path("called.marker").write_text("called")
    return prompt
"""

SUITE = """
prompts: ["{{topic}}"]
providers: [file://provider.py]
tests: file://cases.csv
"""


def eval_csv(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], csv_text: str
) -> Result:
    write("provider.py", PROVIDER)
    write("suite.yaml", SUITE)
    Path("cases.csv").write_text(csv_text, encoding="utf-8")
    return run_cli("eval", "suite.yaml", "--no-progress")


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        pytest.param(
            'topic,__expected\n"rain,contains:rain\nsnow,contains:snow\n',
            "cases.csv:2: a quoted field is never closed",
            id="unterminated-quote",
        ),
        pytest.param(
            'topic,__expected\nrain,contains:rain\n"snow" storm,contains:snow\n',
            "cases.csv:3: text after the closing quote of a quoted field",
            id="text-after-closing-quote",
        ),
        pytest.param(
            "topic,__expected,__expected\nrain,contains:rain,contains:zzz\n",
            "cases.csv:1:3: column '__expected' is named twice in the header (columns 2 and 3);"
            " name several assertion columns __expected1, __expected2",
            id="expected-twice",
        ),
        pytest.param(
            "topic,topic\nrain,snow\n",
            "cases.csv:1:2: column 'topic' is named twice in the header (columns 1 and 2)",
            id="var-twice",
        ),
        pytest.param(
            "topic,__expekted\nrain,contains:zzz\n",
            "cases.csv:1:2: unknown control column '__expekted' (did you mean '__expected'?);"
            " known: __expected, __expected1 (and on), __description",
            id="unknown-control-column",
        ),
        pytest.param(
            "topic,_expected\nrain,contains:zzz\n",
            "cases.csv:1:2: column '_expected' looks like a control column written with one "
            "underscore (did you mean '__expected'?)",
            id="one-underscore",
        ),
        pytest.param(
            "topic,__metadata\nrain,x\n",
            "cases.csv:1:2: the __metadata column needs a key: __metadata:KEY",
            id="metadata-without-key",
        ),
        pytest.param(
            "topic,__providerOutput\nrain,x\n",
            "cases.csv:1:2: the __providerOutput column",
            id="provider-output",
        ),
        pytest.param(
            "topic,__expected,__config:__expected:treshold\nrain,contains:rain,1\n",
            "cases.csv:1:3: column '__config:__expected:treshold' sets 'treshold', but only "
            "'threshold' can be set this way (did you mean 'threshold'?)",
            id="config-key-typo",
        ),
        pytest.param(
            "topic,__expected,__config:__expected2:threshold\nrain,contains:rain,1\n",
            "cases.csv:1:3: column '__config:__expected2:threshold' sets the threshold of "
            "'__expected2', which is not a column of this file",
            id="config-of-a-missing-column",
        ),
        pytest.param(
            "topic,__expected\nrain,contains:rain\nsnow,contains:snow,extra\n",
            "cases.csv:3:3: row has 3 fields but the header has 2",
            id="row-too-long",
        ),
        pytest.param(
            "topic,__expected\nrain\n",
            "cases.csv:2: row has 1 field but the header has 2: it has no value for '__expected'",
            id="row-too-short",
        ),
        pytest.param(
            "topic,__expected,\nrain,contains:rain,zzz\n",
            "cases.csv:2:3: a value in column 3, which has no name in the header",
            id="value-in-a-nameless-column",
        ),
    ],
)
def test_a_csv_file_that_would_lose_data_is_a_located_error(
    run_cli: Callable[..., Result],
    write: Callable[[str, str], Path],
    csv_text: str,
    expected: str,
) -> None:
    result = eval_csv(run_cli, write, csv_text)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    assert result.stderr.count("\n") == 1, "one line, no traceback"
    assert not Path("called.marker").exists(), "no model may be called for a bad suite"


def plan_csv(csv_text: str, prompts: list[str] | None = None) -> prompteur.Plan:
    Path("cases.csv").write_text(csv_text, encoding="utf-8")
    return prompteur.plan_suite(
        {"prompts": prompts or ["{{topic}}"], "providers": ["echo"], "tests": "file://cases.csv"}
    )


def test_quotes_inside_fields_and_multiline_fields_read_as_text() -> None:
    plan = plan_csv('topic,__expected\nsay "hi",contains:hi\n"two\nlines, one field",\n')
    assert [dict(t.vars) for t in plan.tests] == [
        {"topic": 'say "hi"'},
        {"topic": "two\nlines, one field"},
    ]
    assert [t.location.line if t.location else 0 for t in plan.tests] == [2, 3]


def test_prefix_and_suffix_columns_wrap_the_prompt_of_their_row() -> None:
    plan = plan_csv(
        "topic,lang,__prefix,__suffix\nrain,French,Answer in {{lang}}: ,!\nsnow,,,\n",
        prompts=["Tell me about {{topic}}", "system: Be brief.\nuser: {{topic}}"],
    )
    # the prefix is a template too
    assert plan.messages(0, 0) == (Message("user", "Answer in French: Tell me about rain!"),)
    assert plan.messages(0, 1) == (Message("user", "Tell me about snow"),)
    # in a chat, around the user's message, not the system's
    assert plan.messages(1, 0) == (
        Message("system", "Be brief."),
        Message("user", "Answer in French: rain!"),
    )


def test_a_prefix_is_checked_like_the_prompt() -> None:
    with pytest.raises(SuiteError, match=r"cases\.csv:2:1: .*undefined variable 'lang'"):
        plan_csv("topic,__prefix\nrain,Answer in {{lang}}: \n")
    with pytest.raises(SuiteError, match=r"cases\.csv:2:1: .*prefix and suffix: template syntax"):
        plan_csv("topic,__prefix\nrain,Answer in {{lang: \n")


def test_prefix_and_suffix_from_yaml_options_and_default_test() -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["Q: {{q}}"],
            "providers": ["echo"],
            "defaultTest": {"options": {"suffix": " [end]"}},
            "tests": [
                {"vars": {"q": "one"}, "options": {"prefix": "Be brief. "}},
                {"vars": {"q": "two"}},
            ],
        }
    )
    outputs = sorted(cell.output or "" for cell in result.results)
    assert outputs == ["Be brief. Q: one [end]", "Q: two [end]"]
    # the same variables with another prefix are another case, not a repeat of one
    plan = prompteur.plan_suite(
        {
            "prompts": ["Q: {{q}}"],
            "providers": ["echo"],
            "tests": [{"vars": {"q": "one"}, "options": {"prefix": p}} for p in ("A ", "B ")],
        }
    )
    assert [t.occurrence for t in plan.tests] == [0, 0]
    assert plan.tests[0].key != plan.tests[1].key


def test_metadata_lists_and_per_column_thresholds() -> None:
    plan = plan_csv(
        "topic,__expected1,__expected2,__config:__expected2:threshold,__metadata:tags[]\n"
        'rain,contains:rain,levenshtein(5):rainy,1,"wet, cold,grey,a\\,b"\n'
    )
    (test,) = plan.tests
    assert test.metadata == {"tags": ["wet", "cold", "grey", "a,b"]}
    assert [(a.type, a.threshold) for a in test.assertions] == [
        ("contains", None),
        ("levenshtein", 1.0),  # the __config column wins over the (5) written in the cell
    ]


def test_rows_are_read_as_they_are_consumed(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text('topic\nrain\nsnow\n"never closed\n', encoding="utf-8")
    cases, _ = load_test_file(path, None, REGISTERED_TYPES)
    assert next(cases).vars == {"topic": "rain"}  # read before the bad row is reached
    assert next(cases).vars == {"topic": "snow"}
    with pytest.raises(SuiteError, match="a quoted field is never closed"):
        next(cases)
