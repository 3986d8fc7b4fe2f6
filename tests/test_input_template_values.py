"""Values are written into prompts as nunjucks (promptfoo's engine) writes them, so that a
promptfoo suite sends the same prompts; code sees them as the Python values they are."""

from __future__ import annotations

import pytest

import prompteur
from prompteur.prompts import Message, PromptTemplate
from prompteur.prompts._nunjucks import js_number

VARS = {
    "b": True,
    "f": False,
    "n": None,
    "l": [1, "a"],
    "nested": [[1, [2, None]], None, True],
    "d": {"k": 1},
    "x": 1.0,
    "tiny": 1e-7,
    "huge": 1e21,
}

# what `nunjucks.renderString` gives for these values (JavaScript's String())
EXPECTED = "b=true f=false n= l=1,a nested=1,2,,,true d=[object Object] x=1 tiny=1e-7 huge=1e+21"

SIMPLE = " ".join(f"{name}={{{{ {name} }}}}" for name in VARS)
# the same through Jinja2's full renderer (an expression, not a plain lookup)
FULL = " ".join(f"{name}={{{{ {name} if true }}}}" for name in VARS)


@pytest.mark.parametrize("source", [SIMPLE, FULL], ids=["plain-lookups", "expressions"])
def test_values_are_written_as_nunjucks_writes_them(source: str) -> None:
    template = PromptTemplate.from_text(source, id="p", label="p")
    assert template.render(VARS) == (Message("user", EXPECTED),)


def test_a_suite_sends_nunjucks_text_and_code_sees_python_values() -> None:
    check = (
        "context['vars']['b'] is True and context['vars']['n'] is None "
        "and context['vars']['l'] == [1, 'a'] and context['vars']['d'] == {'k': 1}"
    )
    result = prompteur.evaluate(
        {
            "prompts": ["b={{b}} n={{n}} l={{l}} d={{d}}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {"b": True, "n": None, "l": [1, "a"], "d": {"k": 1}},
                    "options": {"disableVarExpansion": True},
                    "assert": [
                        {"type": "equals", "value": "b=true n= l=1,a d=[object Object]"},
                        {"type": "python", "value": check},
                        # assertion values render the same way
                        {"type": "starts-with", "value": "b={{ b }}"},
                    ],
                }
            ],
        }
    )
    (cell,) = result.results
    assert cell.output == "b=true n= l=1,a d=[object Object]"
    assert result.success, [(a.type, a.reason) for a in cell.assertions]


def test_dump_still_writes_json_and_filters_see_python_values() -> None:
    template = PromptTemplate.from_text(
        "{{ d | dump }} {{ l | length }} {{ l | join('+') }} {% if b %}yes{% endif %}",
        id="p",
        label="p",
    )
    assert template.render(VARS)[0].content == '{"k":1} 2 1+a yes'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (100.0, "100"),
        (-2.5, "-2.5"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (123456789012345680000.0, "123456789012345680000"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (-0.0, "0"),
    ],
)
def test_numbers_print_as_javascript_prints_them(value: float, text: str) -> None:
    assert js_number(value) == text
