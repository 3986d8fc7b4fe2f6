"""promptfoo features its example configs use: the run's grader in place of defaultTest's,
is-sql, storeOutputAs, prompts sharing a label, extension hooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prompteur

RUBRIC = {"type": "llm-rubric", "value": "is polite"}


def test_the_runs_grader_takes_the_place_of_the_default_tests_grader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    suite = {
        "prompts": ["{{q}}"],
        "providers": ["echo"],
        "defaultTest": {
            "assert": [RUBRIC],
            "options": {"provider": {"text": "openai:chat:gpt-4o-mini"}},
        },
        "tests": [
            {"vars": {"q": "a"}},
            {"vars": {"q": "b"}, "options": {"provider": "openai:chat:own-grader"}},
        ],
    }
    plan = prompteur.plan_suite(suite, grader="echo")
    assert plan.judges is not None
    assert sorted(j.label for j in plan.judges.judges) == ["echo", "openai:chat:own-grader"]
    plan = prompteur.plan_suite(suite)  # without a grader, defaultTest's judges
    assert plan.judges is not None
    labels = sorted(j.label for j in plan.judges.judges)
    assert labels == ["openai:chat:gpt-4o-mini", "openai:chat:own-grader"]


def test_options_providers_is_ignored_with_a_warning_as_promptfoo_ignores_it(
    write: Callable[[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['{{q}}']\n"
        "providers: [echo]\n"
        "defaultTest:\n"
        "  options:\n"
        "    providers: {text: 'openai:chat:gpt-4o-mini'}\n"
        "tests:\n"
        "  - vars: {q: a}\n",
    )
    loaded = prompteur.load_suite(suite)
    assert loaded.default_test is not None
    assert "'providers' is not part of" in caplog.text
    assert "did you mean 'provider'" in caplog.text


def sql_verdict(kind: str, output: str, value: Any = None) -> prompteur.CellResult:
    result = prompteur.evaluate(
        {
            "prompts": ["{{out}}"],
            "providers": ["echo"],
            "tests": [{"vars": {"out": output}, "assert": [{"type": kind, "value": value}]}],
        }
    )
    (cell,) = result.results
    assert cell.error is None
    return cell


@pytest.mark.parametrize(
    ("output", "valid"),
    [
        ("SELECT COUNT(*) FROM Products WHERE sold > NOW() - INTERVAL 1 MONTH", True),
        ("select a from t; select b from u", True),
        ("UPDATE t SET a = 1 WHERE b = 2", True),
        ("Output a SQL query that returns the number of bananas sold", False),
        ("this is not sql", False),
        ("Products sold", False),  # an expression, no statement
        ("SELECT", False),
        ("select a b from t", False),  # promptfoo refuses a bare alias
        ("select `a from t", False),
        ("SELECT generate_series(1, 3)", False),  # not MySQL
        ("REPLACE INTO t VALUES (1)", True),
        # unfinished statements the parser would read all the same
        ("UPDATE t SET", False),
        ("INSERT INTO t (a)", False),
        ("SELECT a, FROM t", False),
        ("SELECT a FROM t WHERE a IN ()", False),
        ("SELECT a FROM t GROUP BY", False),
        ("SELECT * FROM t JOIN u ON", False),
        ("DELETE t", False),
    ],
)
def test_is_sql_parses_the_output_in_mysql_by_default(output: str, valid: bool) -> None:
    (check,) = sql_verdict("is-sql", output).assertions
    assert check.passed is valid
    assert sql_verdict("not-is-sql", output).assertions[0].passed is not valid


def test_is_sql_reads_other_dialects() -> None:
    sql = "SELECT generate_series(1, 3)"
    assert sql_verdict("is-sql", sql, {"databaseType": "PostgresQL"}).assertions[0].passed


def test_is_sql_allows_only_the_listed_tables_and_columns() -> None:
    sql = "SELECT p.name, s.date FROM Products p JOIN Shipments s ON p.id = s.product_id"
    tables = ["select::null::Products", "select::null::Shipments"]
    assert sql_verdict("is-sql", sql, {"allowedTables": tables}).assertions[0].passed
    (check,) = sql_verdict("is-sql", sql, {"allowedTables": tables[:1]}).assertions
    assert not check.passed
    assert "'select::null::Shipments' is not in the allowed tables" in check.reason
    columns = ["select::Products::(name|id)", "select::Shipments::.*"]
    assert sql_verdict("is-sql", sql, {"allowedColumns": columns}).assertions[0].passed
    (check,) = sql_verdict(
        "is-sql", sql, {"allowedColumns": ["select::null::DoesntExist"]}
    ).assertions
    assert not check.passed
    # a column allowed in its table is allowed unqualified too
    bare = "SELECT name FROM Products"
    assert sql_verdict("is-sql", bare, {"allowedColumns": columns[:1]}).assertions[0].passed


def test_contains_sql_checks_the_fenced_block() -> None:
    output = "Here it is:\n```sql\nSELECT a FROM t\n```\nEnjoy."
    assert sql_verdict("contains-sql", output).assertions[0].passed
    assert not sql_verdict("is-sql", output).assertions[0].passed


def test_is_sql_settings_are_checked_before_the_run() -> None:
    with pytest.raises(prompteur.SuiteError, match="databaseType 'Oracle' is not supported"):
        sql_verdict("is-sql", "SELECT 1", {"databaseType": "Oracle"})
    with pytest.raises(prompteur.SuiteError, match="takes a mapping"):
        sql_verdict("is-sql", "SELECT 1", "MySQL")


class Answers(prompteur.BaseProvider):
    """Answers each prompt with a fixed reply for a word it holds, slowly at first (so a
    concurrent run would finish the later cells first)."""

    def __init__(self) -> None:
        super().__init__("answers")
        self.seen: list[str] = []

    async def complete(self, request: prompteur.CompletionRequest) -> prompteur.Completion:
        text = request.text
        self.seen.append(text)
        if "favourite" in text:
            await asyncio.sleep(0.2)
            return prompteur.Completion("mango, of course", prompteur.Usage(1, 1))
        return prompteur.Completion(f"you said: {text}", prompteur.Usage(1, 1))


def test_store_output_as_hands_a_tests_output_to_the_tests_after_it() -> None:
    provider = Answers()
    result = prompteur.evaluate(
        {
            "prompts": ["Answer: {{message}}"],
            "evaluateOptions": {"maxConcurrency": 8},
            "tests": [
                {
                    "vars": {"message": "your favourite fruit?"},
                    "options": {"storeOutputAs": "fruit", "transform": "output.split(',')[0]"},
                },
                {
                    "vars": {"message": "why {{fruit}}?"},
                    "options": {"storeOutputAs": "reason"},
                    "assert": [{"type": "contains", "value": "why mango?"}],
                },
                {"vars": {"message": "{{fruit}} because {{reason}}"}},
            ],
        },
        providers=[provider],
    )
    first, second, third = sorted(result.results, key=lambda c: c.test_index)
    assert first.output == "mango"
    assert second.prompt == "Answer: why mango?"
    assert second.passed
    assert third.prompt == "Answer: mango because you said: Answer: why mango?"
    assert provider.seen[0] == "Answer: your favourite fruit?"


HOOKS = """
import json, pathlib

calls = []
outputs = []


def hook(name, context):
    calls.append(name)
    if name == "beforeAll":
        context["suite"]["tests"].append({"vars": {"who": "Bo"}})
        context["suite"]["defaultTest"]["assert"].append({"type": "contains", "value": "Hi"})
        return context
    if name == "beforeEach":
        context["test"]["vars"]["who"] = context["test"]["vars"]["who"].upper()
        return context
    if name == "afterEach":
        outputs.append([context["test"]["vars"]["who"], context["result"]["response"]["output"]])
    if name == "afterAll":
        rows = [(r["success"], r["vars"]["who"]) for r in context["results"]]
        seen = {"calls": calls, "rows": rows, "outputs": outputs}
        pathlib.Path("seen.json").write_text(json.dumps(seen))
"""


def test_python_extension_hooks_run_with_promptfoos_contexts(
    write: Callable[[str, str], Path],
) -> None:
    write("hooks.py", HOOKS)
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['Hi {{who}}']\n"
        "providers: [echo]\n"
        "extensions: ['file://hooks.py:hook']\n"
        "tests:\n"
        "  - vars: {who: Al}\n",
    )
    result = prompteur.evaluate(prompteur.load_suite(suite))
    assert sorted(c.prompt for c in result.results) == ["Hi AL", "Hi BO"]
    assert all(c.passed for c in result.results)
    seen = json.loads((suite.parent / "seen.json").read_text())
    assert seen["calls"] == [
        "beforeAll",
        *["beforeEach"] * 2,
        *["afterEach"] * 2,
        "afterAll",
    ]
    assert sorted(seen["rows"]) == [[True, "AL"], [True, "BO"]]
    assert sorted(seen["outputs"]) == [["AL", "Hi AL"], ["BO", "Hi BO"]]


def test_a_javascript_extension_hook_is_refused_in_one_line(
    write: Callable[[str, str], Path],
) -> None:
    write("hooks.js", "module.exports = (name, context) => context;")
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['Hi']\nproviders: [echo]\nextensions: ['file://hooks.js:hook']\n",
    )
    with pytest.raises(prompteur.SuiteError, match="JavaScript extension hooks are not run"):
        prompteur.plan_suite(prompteur.load_suite(suite))


def test_a_run_that_stores_outputs_is_not_resumed_without_them(tmp_path: Path) -> None:
    from prompteur.store import StoreError

    suite = {
        "prompts": ["Answer: {{message}}"],
        "providers": ["echo"],
        "tests": [
            {"vars": {"message": "first"}, "options": {"storeOutputAs": "said"}},
            {"vars": {"message": "after {{said}}"}},
        ],
    }
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    first = prompteur.evaluate(suite, store=store, select=lambda cell: cell.test < 1)
    with pytest.raises(StoreError, match="cannot be resumed: its tests store outputs"):
        prompteur.evaluate(suite, store=store, run_id=first.run_id)


def test_extension_hooks_in_a_red_team_config_are_refused(
    write: Callable[[str, str], Path],
) -> None:
    write("hooks.py", "def hook(name, context):\n    return context\n")
    suite = write(
        "promptfooconfig.yaml",
        "targets: [echo]\nextensions: ['file://hooks.py:hook']\nredteam:\n  plugins: [harmful]\n",
    )
    with pytest.raises(prompteur.SuiteError, match="not run by 'prompteur redteam'") as caught:
        prompteur.load_suite(suite)
    assert caught.value.location is not None and caught.value.location.line == 2


class Numbered(prompteur.BaseProvider):
    """Answers with a running number."""

    def __init__(self) -> None:
        super().__init__("numbered")
        self.calls = 0

    async def complete(self, request: prompteur.CompletionRequest) -> prompteur.Completion:
        self.calls += 1
        return prompteur.Completion(f"answer {self.calls}", prompteur.Usage(1, 1))


def test_conversation_holds_the_earlier_turns_of_the_same_conversation(
    write: Callable[[str, str], Path],
) -> None:
    template = (
        "{% for turn in _conversation %}[{{ turn.input }} -> {{ turn.output }}] {% endfor %}{{ q }}"
    )
    tests = [
        {"vars": {"q": "one"}, "metadata": {"conversationId": "a"}},
        {"vars": {"q": "two"}, "metadata": {"conversationId": "b"}},
        {"vars": {"q": "three"}, "metadata": {"conversationId": "a"}},
        {
            "vars": {"q": "four"},
            "metadata": {"conversationId": "a"},
            "options": {"disableConversationVar": True},
        },
    ]
    suite = write(
        "promptfooconfig.yaml",
        json.dumps(
            {"prompts": [template], "evaluateOptions": {"maxConcurrency": 4}, "tests": tests}
        ),
    )
    result = prompteur.evaluate(prompteur.load_suite(suite), providers=[Numbered()])
    prompts = [c.prompt for c in sorted(result.results, key=lambda c: c.test_index)]
    assert prompts == [
        "one",
        "two",
        "[one -> answer 1] three",
        "four",
    ]


def test_after_all_sees_the_results_of_its_own_run_only(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "count.py",
        "import pathlib\n\n"
        "def hook(name, context):\n"
        "    if name == 'afterAll':\n"
        "        with open('counts.txt', 'a') as out:\n"
        "            out.write(f\"{len(context['results'])}\\n\")\n",
    )
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['Hi {{who}}']\nproviders: [echo]\nextensions: ['file://count.py:hook']\n"
        "tests:\n  - vars: {who: Al}\n  - vars: {who: Bo}\n",
    )
    plan = prompteur.plan_suite(prompteur.load_suite(suite))
    prompteur.evaluate(plan)
    prompteur.evaluate(plan)
    assert (suite.parent / "counts.txt").read_text().split() == ["2", "2"]


def test_provider_output_is_graded_without_calling_the_provider() -> None:
    provider = Numbered()
    result = prompteur.evaluate(
        {
            "prompts": ["Say {{q}}"],
            "tests": [
                {
                    "vars": {"q": "hi"},
                    "providerOutput": "Hello there",
                    "assert": [{"type": "contains", "value": "Hello"}],
                },
                {
                    "vars": {"q": "json"},
                    "providerOutput": {"flagged": False},
                    "assert": [{"type": "is-json", "value": {"required": ["flagged"]}}],
                },
                {"vars": {"q": "called"}},
            ],
        },
        providers=[provider],
    )
    given, as_json, called = sorted(result.results, key=lambda c: c.test_index)
    assert given.passed and given.output == "Hello there" and given.attempts == 0
    assert as_json.passed and json.loads(as_json.output or "") == {"flagged": False}
    assert called.output == "answer 1"
    assert provider.calls == 1


SLOW_HOOK = """
def hook(name, context):
    if name == {name!r}:
        while True:
            pass
    return context
"""


def test_an_after_each_hook_past_its_time_limit_is_a_warning(
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from prompteur.eval import _extensions

    monkeypatch.setattr(_extensions, "HOOK_SECONDS", 0.2)
    write("slow.py", SLOW_HOOK.format(name="afterEach"))
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['Hi {{who}}']\nproviders: [echo]\nextensions: ['file://slow.py:hook']\n"
        "tests:\n  - vars: {who: Al}\n  - vars: {who: Bo}\n",
    )
    result = prompteur.evaluate(prompteur.load_suite(suite))
    assert sorted(c.output or "" for c in result.results) == ["Hi Al", "Hi Bo"]
    assert caplog.text.count("slow.py:hook ran past its time limit of 0.2 s at afterEach") == 2


def test_a_before_all_hook_past_its_time_limit_refuses_the_suite_in_one_line(
    write: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., Any],
) -> None:
    from prompteur.eval import _extensions

    monkeypatch.setattr(_extensions, "HOOK_SECONDS", 0.2)
    write("slow.py", SLOW_HOOK.format(name="beforeAll"))
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['Hi']\nproviders: [echo]\nextensions: ['file://slow.py:hook']\n",
    )
    with pytest.raises(prompteur.SuiteError, match=r"past its time limit of 0\.2 s at beforeAll"):
        prompteur.plan_suite(prompteur.load_suite(suite))
    ran = run_cli("eval", str(suite), "--no-progress")
    assert ran.exit_code == 2
    assert "ran past its time limit of 0.2 s at beforeAll" in ran.stderr
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("part", "value", "said"),
    [
        ("vars", ["oops"], "'vars' as list, not a mapping"),
        ("metadata", "oops", "'metadata' as str, not a mapping"),
        ("description", 3, "'description' as int, not text"),
    ],
)
def test_a_before_each_hook_that_gives_back_a_misshapen_test_is_refused_in_one_line(
    write: Callable[[str, str], Path], part: str, value: Any, said: str
) -> None:
    write(
        "shape.py",
        "def hook(name, context):\n"
        "    if name == 'beforeEach':\n"
        f"        context['test'][{part!r}] = {value!r}\n"
        "    return context\n",
    )
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['Hi {{who}}']\nproviders: [echo]\nextensions: ['file://shape.py:hook']\n"
        "tests:\n  - vars: {who: Al}\n",
    )
    with pytest.raises(prompteur.SuiteError, match=said) as caught:
        prompteur.plan_suite(prompteur.load_suite(suite))
    assert caught.value.message.startswith("extensions: beforeEach gave")


def test_what_hooks_change_in_their_contexts_stays_out_of_later_cells_and_runs(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "meddle.py",
        "def hook(name, context):\n"
        "    if name == 'afterEach':\n"
        "        context['test']['vars']['box']['fruits'].append('each')\n"
        "        context['result']['vars']['box']['fruits'].append('row')\n"
        "    if name == 'afterAll':\n"
        "        for row in context['results']:\n"
        "            row['vars']['box']['fruits'].append('all')\n",
    )
    suite = write(
        "promptfooconfig.yaml",
        "prompts: ['A {{box.fruits|join(\"+\")}}', 'B {{box.fruits|join(\"+\")}}']\nproviders: [echo]\n"
        "extensions: ['file://meddle.py:hook']\n"
        "tests:\n  - vars: {box: {fruits: [apple]}}\n",
    )
    plan = prompteur.plan_suite(prompteur.load_suite(suite))
    for _ in range(2):
        result = prompteur.evaluate(plan)
        outputs = sorted(c.output or "" for c in result.results)
        assert outputs == ["A apple", "B apple"]
        assert [c.vars["box"] for c in result.results] == [{"fruits": ["apple"]}] * 2


def test_a_serial_run_cuts_one_trailing_newline_from_vars_as_any_run_does() -> None:
    tests: list[dict[str, Any]] = [{"vars": {"x": "x\n\n"}}]
    normal = prompteur.evaluate({"prompts": ["[{{x}}]"], "providers": ["echo"], "tests": tests})
    tests.append({"vars": {"x": "y"}, "options": {"storeOutputAs": "said"}})
    serial = prompteur.evaluate({"prompts": ["[{{x}}]"], "providers": ["echo"], "tests": tests})
    assert [c.prompt for c in normal.results] == ["[x\n]"]
    assert sorted(c.prompt for c in serial.results) == ["[x\n]", "[y]"]


def test_only_a_prompt_that_uses_the_conversation_variable_takes_the_turns(
    write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    suite: dict[str, Any] = {
        "prompts": ["{{ user_conversation }}: {{ q }}", "{{ _conversation | length }} {{ q }}"],
        "providers": ["echo"],
        "tests": [{"vars": {"q": "one", "user_conversation": "me"}}],
    }
    path = write("promptfooconfig.yaml", json.dumps(suite))
    assert prompteur.plan_suite(prompteur.load_suite(path)).conversation_prompts == {1}
    suite["prompts"] = suite["prompts"][:1]
    plan = prompteur.plan_suite(suite)
    assert not plan.stores_outputs
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    first = prompteur.evaluate(plan, store=store, select=lambda cell: False)
    resumed = prompteur.evaluate(suite, store=store, run_id=first.run_id)
    assert [c.output for c in resumed.results] == ["me: one"]


def test_stored_outputs_and_turns_are_in_the_vars_checks_and_results_see(
    write: Callable[[str, str], Path],
) -> None:
    seen = "str(sorted((k, str(v)) for k, v in context['vars'].items()))"
    suite = {
        "prompts": ["{{ _conversation | length }} turns: {{message}}"],
        "tests": [
            {
                "vars": {"message": "your favourite fruit?"},
                "options": {"storeOutputAs": "fruit", "transform": "output.split(',')[0]"},
            },
            {
                "vars": {"message": "why?"},
                "assert": [{"type": "python", "value": f"{{'pass': True, 'reason': {seen}}}"}],
            },
        ],
    }
    path = write("promptfooconfig.yaml", json.dumps(suite))
    result = prompteur.evaluate(prompteur.load_suite(path), providers=[Answers()])
    first, second = sorted(result.results, key=lambda c: c.test_index)
    assert first.output == "mango"
    assert dict(first.vars) == {"message": "your favourite fruit?", "_conversation": []}
    turn = {
        "prompt": "0 turns: your favourite fruit?",
        "input": "0 turns: your favourite fruit?",
        "output": "mango, of course",
    }
    assert dict(second.vars) == {"message": "why?", "_conversation": [turn], "fruit": "mango"}
    expected = [("_conversation", str([turn])), ("fruit", "mango"), ("message", "why?")]
    assert second.assertions[0].reason == str(expected)


@pytest.mark.parametrize("promptfoo", [False, True])
def test_an_assertion_value_may_use_a_stored_output(
    write: Callable[[str, str], Path], promptfoo: bool
) -> None:
    suite: dict[str, Any] = {
        "prompts": ["Answer: {{message}}"],
        "tests": [
            {
                "vars": {"message": "your favourite fruit?"},
                "options": {"storeOutputAs": "fruit", "transform": "output.split(',')[0]"},
            },
            {
                "vars": {"message": "a mango"},
                "assert": [{"type": "contains", "value": "{{fruit}}"}],
            },
            {
                "vars": {"message": "a pear"},
                "assert": [{"type": "not-contains", "value": "{{ fruit }}"}],
            },
        ],
    }
    if promptfoo:
        loaded: Any = prompteur.load_suite(write("promptfooconfig.yaml", json.dumps(suite)))
    else:
        loaded = suite
    result = prompteur.evaluate(loaded, providers=[Answers()])
    _, mango, pear = sorted(result.results, key=lambda c: c.test_index)
    assert mango.error is None and mango.passed
    assert mango.assertions[0].value == "mango"
    assert pear.error is None and pear.passed
    assert pear.assertions[0].value == "mango"
