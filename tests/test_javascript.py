"""promptfoo's JavaScript checks and transforms run unchanged, in the embedded engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import prompteur

Write = Callable[[str, str], Path]


def _run(write: Write, suite: str) -> prompteur.EvalResult:
    return prompteur.evaluate(write("suite.yaml", suite))


def _verdicts(result: prompteur.EvalResult) -> list[tuple[str, bool, float, str]]:
    (cell,) = result.results
    return [(a.type, a.passed, a.score, a.reason) for a in cell.assertions]


def test_inline_checks_see_output_and_promptfoos_context(write: Write) -> None:
    result = _run(
        write,
        """
        prompts: ["Tell me about {{topic}}"]
        providers: [echo]
        tests:
          - vars: {topic: bananas}
            assert:
              - type: javascript
                value: output.includes(context.vars.topic) && context.prompt.startsWith('Tell')
              - type: javascript
                value: |
                  const words = output.split(' ').length;
                  return {pass: words === 4, score: 0.25, reason: `${words} words, ${context.config.unit}`};
                config: {unit: 'counted'}
              - type: javascript
                value: context.provider.id() === 'echo' && context.test.vars.topic === 'bananas'
              - type: not-javascript
                value: output.length > 100
        """,
    )
    verdicts = _verdicts(result)
    assert [(t, p, s) for t, p, s, _ in verdicts] == [
        ("javascript", True, 1.0),
        ("javascript", True, 0.25),
        ("javascript", True, 1.0),
        ("not-javascript", True, 1.0),
    ]
    assert verdicts[0][3].startswith("javascript 'output.includes(context.vars.topic)")
    assert verdicts[1][3] == "4 words, counted"
    assert verdicts[3][3] == "javascript 'output.length > 100' returned False"


def test_a_number_is_a_score_against_the_threshold(write: Write) -> None:
    result = _run(
        write,
        """
        prompts: ["abcdefghij"]
        providers: [echo]
        tests:
          - assert:
              - {type: javascript, value: output.length / 20, threshold: 0.5}
              - {type: javascript, value: output.length / 20, threshold: 0.6}
              - {type: javascript, value: "0"}
        """,
    )
    assert [(p, s) for _, p, s, _ in _verdicts(result)] == [(True, 0.5), (False, 0.5), (False, 0.0)]


def test_what_javascript_throws_fails_the_check_with_its_message(write: Write) -> None:
    result = _run(
        write,
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - assert:
              - {type: javascript, value: output.missing.deeper}
              - {type: not-javascript, value: "null.x"}
              - {type: javascript, value: "'a string'"}
              - {type: contains, value: hi}
        """,
    )
    (cell,) = result.results
    assert cell.error is None  # the cell was graded: the failures are verdicts
    reasons = [a.reason for a in cell.assertions]
    assert [a.passed for a in cell.assertions] == [False, False, False, True]
    assert reasons[0] == "javascript threw TypeError: cannot read property 'deeper' of undefined"
    assert reasons[1] == "javascript threw TypeError: cannot read property 'x' of null"
    assert "returned a malformed result: str" in reasons[2]


def test_a_check_that_never_ends_is_stopped(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("prompteur.core._js.JS_CALL_SECONDS", 1)
    result = _run(
        write,
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - assert:
              - {type: javascript, value: "while (true) {}\\nreturn true"}
              - {type: javascript, value: "output === 'hi'"}
        """,
    )
    (cell,) = result.results
    first, second = cell.assertions
    assert not first.passed
    assert first.reason == "javascript threw took more than 1 s"
    assert second.passed  # the engine still serves the next check


def test_a_promise_chain_that_never_ends_is_stopped(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("prompteur.core._js.JS_CALL_SECONDS", 1)
    result = _run(
        write,
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - assert:
              - {type: javascript, value: "(async () => { for (;;) { await null } })()"}
              - {type: javascript, value: "output === 'hi'"}
        """,
    )
    (cell,) = result.results
    first, second = cell.assertions
    assert not first.passed
    assert first.reason == "javascript did not finish within 1 s"
    assert second.passed


def test_a_check_that_fills_memory_fails_and_the_next_runs(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("prompteur.core._js.JS_MEMORY_BYTES", 32 * 1024 * 1024)
    result = _run(
        write,
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - assert:
              - {type: javascript, value: "const a = [];\\nwhile (true) a.push('x'.repeat(1e6) + a.length);"}
              - {type: javascript, value: "output === 'hi'"}
        """,
    )
    (cell,) = result.results
    first, second = cell.assertions
    assert (first.passed, second.passed) == (False, True)
    assert "out of memory" in first.reason


def test_file_checks_named_default_and_commonjs(write: Write) -> None:
    write(
        "checks.js",
        """
        function words(text) { return text.split(/\\s+/).length; }
        export function short(output, context) { return words(output) <= context.config.most; }
        export default function (output) { return {pass: false, score: 0.2, reason: 'default says no'}; }
        """,
    )
    write("common.js", "module.exports = (output) => output.startsWith('Say');\n")
    result = _run(
        write,
        """
        prompts: ["Say hello there"]
        providers: [echo]
        tests:
          - assert:
              - {type: javascript, value: "file://checks.js:short", config: {most: 3}}
              - {type: javascript, value: "file://checks.js"}
              - {type: javascript, value: "file://common.js"}
        """,
    )
    assert [(p, s, r) for _, p, s, r in _verdicts(result)] == [
        (True, 1.0, "javascript checks.js:short returned True"),
        (False, 0.2, "default says no"),
        (True, 1.0, "javascript common.js returned True"),
    ]


def test_csv_javascript_and_fn_columns(write: Write) -> None:
    write(
        "tests.csv",
        'q,__expected1,__expected2\nhello,"javascript:output.length === 5","fn:output === \'nope\'"\n',
    )
    result = _run(write, "prompts: ['{{q}}']\nproviders: [echo]\ntests: file://tests.csv\n")
    assert [(t, p) for t, p, _, _ in _verdicts(result)] == [
        ("javascript", True),
        ("javascript", False),
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("output ===", "javascript: SyntaxError"),
        ("file://missing.js", "cannot read missing.js"),
        ("file://check.ts:fn", "check.ts: TypeScript is not run"),
    ],
)
def test_javascript_that_cannot_load_is_refused_before_the_run(
    write: Write, code: str, message: str
) -> None:
    with pytest.raises(prompteur.SuiteError, match=message) as caught:
        _run(
            write,
            f"""
            prompts: ["hi"]
            providers: [echo]
            tests:
              - assert: [{{type: javascript, value: "{code}"}}]
            """,
        )
    assert caught.value.location is not None and caught.value.location.line == 4


def test_node_modules_are_refused_in_one_line(write: Write) -> None:
    write("uses_fs.js", "import fs from 'fs';\nexport default () => true;\n")
    with pytest.raises(prompteur.SuiteError, match="imports are not available"):
        _run(
            write,
            "prompts: [hi]\nproviders: [echo]\ntests:\n  - assert: [{type: javascript, value: 'file://uses_fs.js'}]\n",
        )


def test_transforms_of_output_assertion_and_vars(write: Write) -> None:
    write("shape.py", "def first_word(output, context):\n    return output.split()[0]\n")
    write("shape.js", "module.exports.shout = (output, context) => output.toUpperCase() + '!';\n")
    result = _run(
        write,
        """
        prompts: ["hello {{name}} and {{greeting}}"]
        providers: [echo]
        defaultTest:
          options:
            transformVars: "({greeting: 'hi ' + vars.name, length: vars.name.length})"
        tests:
          - vars: {name: ada}
            options:
              transform: output.replace('hello', 'bye')
            assert:
              - {type: equals, value: bye ada and hi ada}
              - {type: equals, value: bye, transform: "file://shape.py:first_word"}
              - {type: equals, value: BYE ADA AND HI ADA!, transform: "file://shape.js:shout"}
              - {type: javascript, value: "output.length", transform: "JSON.stringify({n: 1})"}
              - {type: javascript, value: "context.vars.length === 3"}
        """,
    )
    (cell,) = result.results
    assert cell.prompt == "hello ada and hi ada"
    assert cell.output == "bye ada and hi ada"  # the transformed output is what is kept
    assert cell.vars["greeting"] == "hi ada"
    assert [a.passed for a in cell.assertions] == [True, True, True, True, True]
    assert cell.assertions[3].score == len('{"n":1}')


def test_a_python_transform_defaults_to_get_transform(write: Write) -> None:
    write(
        "t.py",
        "def get_transform(output, context):\n    return {'said': output, 'who': context['vars']['who']}\n",
    )
    result = _run(
        write,
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - vars: {who: me}
            options: {postprocess: "file://t.py"}
            assert: [{type: is-json}, {type: javascript, value: "JSON.parse(output).who === 'me'"}]
        """,
    )
    (cell,) = result.results
    assert cell.output == '{"said": "hi", "who": "me"}'
    assert all(a.passed for a in cell.assertions)


def test_a_failing_output_transform_is_the_cells_error(write: Write) -> None:
    result = _run(
        write,
        """
        prompts: ["hi"]
        providers: [echo]
        tests:
          - options: {transform: "undefined"}
            assert: [{type: contains, value: hi}]
        """,
    )
    (cell,) = result.results
    assert cell.error == "options.transform: options.transform returned nothing"
    assert cell.output == "hi"
