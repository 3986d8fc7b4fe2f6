"""The optimizer on python models whose behaviour is known: it must find the answer
format or the demonstrations they need, within the budget, without seeing the holdout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from prompteur import optimize
from prompteur.optimize import BudgetError, parse_budget
from prompteur.optimize._search import FIRST_RUNG
from prompteur.providers._base import CompletionRequest
from prompteur.store import PromptRegistry, Store

# A model that is right only when the prompt asks for the bare number.
FORMAT_MODEL = """
import json, os
def call_api(prompt, options, context):
    v = context["vars"]
    if "question" not in v:  # the proposer's requests
        return "Be good."
    with open("asked.jsonl", "a") as f:
        f.write(json.dumps({"question": v["question"], "prompt": prompt}) + "\\n")
    if "only the number" in prompt:
        return str(v["answer"])
    return "I think it is " + str(v["answer"])
"""

# A model that is right only when shown at least two worked examples.
DEMO_MODEL = """
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    if "question" not in v:
        return ""
    shown = prompt.count("Example ")
    return str(v["answer"]) if shown >= 2 else "no idea"
"""

# A model that is always right: nothing can improve on the start.
PERFECT_MODEL = """
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    return str(v.get("answer", "fine"))
"""


def write_suite(
    folder: Path, model: str, cases: int = 30, prompt: str = "Q: {{question}}\nA:"
) -> Path:
    (folder / "model.py").write_text(model)
    tests = [
        {
            "vars": {"question": f"What is {a} plus {b}?", "answer": str(a + b)},
            "assert": [{"type": "equals", "value": "{{answer}}"}],
        }
        for a in range(10)
        for b in range(10)
    ][:cases]
    suite = {"prompts": [prompt], "providers": ["python:model.py:call_api"], "tests": tests}
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def asked(folder: Path) -> list[dict[str, Any]]:
    path = folder / "asked.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_finds_the_answer_format_and_registers_a_candidate(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL)
    result = optimize(suite, budget=80, seed=0)
    assert result.improved
    assert result.holdout is not None
    assert result.holdout.start_passed == 0
    assert result.holdout.winner_passed == result.holdout.cases
    assert "only the number" in result.winner_prompt
    assert result.registered is not None
    registry = PromptRegistry(Store())
    version = registry.get(result.registered)
    assert version.origin == "optimizer"
    assert version.labels == ("candidate",)
    assert "production" not in registry.label_versions(version.name)
    start = registry.get(f"{version.name}@v{version.parent}")
    assert start.source.template == "Q: {{question}}\nA:"
    assert "seed 0" in (version.message or "")
    assert "validation 1.000" in (version.message or "")


def test_finds_demonstrations_when_the_model_needs_them(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, DEMO_MODEL)
    result = optimize(suite, budget=90, seed=1, method="demos")
    assert result.improved
    assert len(result.search.best.demos) >= 2
    assert result.holdout is not None and result.holdout.winner_rate == 1.0
    # the demonstrations are labelled cases shown in the prompt's own (text) form
    assert "Example 1:" in result.winner_prompt


# A chat model that is right only when shown worked examples as earlier turns of the
# conversation (the python provider sees a chat prompt as role-marked lines).
TURNS_MODEL = """
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    if "question" not in v:
        return ""
    return str(v["answer"]) if prompt.count("assistant:") >= 2 else "no idea"
"""


def test_a_text_prompt_gets_its_demonstrations_as_turns(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, TURNS_MODEL)
    result = optimize(suite, budget=90, seed=0)
    assert result.improved and result.search.best.turns
    assert result.holdout is not None and result.holdout.winner_rate == 1.0
    messages = json.loads(result.winner_prompt)  # registered as a chat prompt
    assert [m["role"] for m in messages[:2]] == ["user", "assistant"]
    assert messages[-1]["role"] == "user"
    assert messages[-1]["content"].startswith("Q: {{question}}\nA:")
    version = PromptRegistry(Store()).get(result.registered or "")
    assert version.source.format == "messages"
    assert '-    "content": "Q: {{question}}\\nA:"' in result.diff  # the start as one message


def test_text_only_keeps_a_text_prompt_text(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, TURNS_MODEL)
    result = optimize(suite, budget=90, seed=0, text_only=True)
    assert not any(t.candidate.turns for t in result.search.tried.values())
    assert not result.improved  # the model needs turns, which a text prompt cannot hold
    assert result.winner_prompt == "Q: {{question}}\nA:"


@pytest.mark.parametrize("budget", [40, 57, 120])
def test_the_budget_is_never_exceeded(tmp_path: Path, budget: int) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL, cases=40)
    result = optimize(suite, budget=budget, seed=0)
    task_calls = len(asked(tmp_path))
    proposer = result.ledger["roles"]["proposer"]["calls"]
    assert task_calls == result.ledger["roles"]["task"]["calls"]
    assert task_calls + proposer <= budget
    assert result.ledger["spent"] <= budget


def test_the_search_never_sees_the_holdout(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL, cases=40)
    result = optimize(suite, budget=150, seed=3)
    tests = result.search.scorer.plan.tests
    held = {tests[c].vars["question"] for c in result.search.splits.holdout}
    finals = {result.search.shape.start.raw.split("{{")[0], "only the number"}
    assert held
    search = result.search
    finals_by_question = {
        tests[c].vars["question"]: {
            CompletionRequest(tuple(t.render(tests[c].vars)), chat=t.chat).text
            for t in (search.shape.start, search.shape.template(search.best))
        }
        for c in search.splits.holdout
    }
    for entry in asked(tmp_path):
        if entry["question"] in held:  # asked only in the final scoring: start and winner
            assert entry["prompt"] in finals_by_question[entry["question"]]
        for question in held:  # never shown inside another case's prompt (demos)
            if question != entry["question"]:
                assert question not in entry["prompt"]
    per_question: dict[str, int] = {}
    for entry in asked(tmp_path):
        per_question[entry["question"]] = per_question.get(entry["question"], 0) + 1
    assert all(per_question[q] <= 2 for q in held)  # start once, winner once
    assert finals


def test_malformed_proposals_are_skipped_and_counted(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL)
    (tmp_path / "proposer.py").write_text(
        "BAD = ['', '   ', 'user: hi\\nassistant: there', 'Use {{ missing }} {% if', 'x' * 900]\n"
        "def call_api(prompt, options, context):\n"
        "    return BAD[len(prompt) % len(BAD)]\n"
    )
    result = optimize(
        suite,
        budget=120,
        seed=0,
        method="instructions",
        proposer="python:proposer.py:call_api",
    )
    data = result.to_json()
    assert data["proposals"] >= 2
    assert sum(data["skipped_proposals"].values()) == data["proposals"]
    assert result.improved  # the catalogue still wins


def test_the_same_seed_gives_the_same_result(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, DEMO_MODEL)
    first = optimize(suite, budget=90, seed=5, register=False)
    second = optimize(suite, budget=90, seed=5, register=False)
    assert first.winner_prompt == second.winner_prompt
    assert first.to_json()["candidates"] == second.to_json()["candidates"]
    assert second.ledger["roles"]["task"]["calls"] == 0  # all served from the cache


def test_no_improvement_registers_nothing(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, PERFECT_MODEL)
    result = optimize(suite, budget=60, seed=0)
    assert not result.improved
    assert result.registered is None
    assert PromptRegistry(Store()).names() == []


def test_a_budget_too_small_is_refused_before_any_call(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL)
    with pytest.raises(BudgetError, match="cannot cover a minimal search"):
        optimize(suite, budget=10)
    assert asked(tmp_path) == []


def test_budgets_in_calls_tokens_and_dollars() -> None:
    assert parse_budget("300").limit == 300 and parse_budget("300").kind == "calls"
    assert parse_budget("50k tok").limit == 50_000 and parse_budget("50k tok").kind == "tokens"
    assert parse_budget("2$").kind == "dollars" and parse_budget("$2.5").limit == 2.5
    for bad in ("abc", "0", "-3", "1.5 calls"):
        with pytest.raises(BudgetError):
            parse_budget(bad)


def test_a_token_budget_holds(tmp_path: Path) -> None:
    model = FORMAT_MODEL.replace(
        'return str(v["answer"])',
        # never right: the search goes on until the tokens run out
        'return {"output": "no", "tokenUsage": {"prompt": 300, "completion": 20}}',
    ).replace(
        'return "I think it is " + str(v["answer"])',
        'return {"output": "I think " + str(v["answer"]), "tokenUsage": {"prompt": 300, "completion": 50}}',
    )
    suite = write_suite(tmp_path, model)
    result = optimize(suite, budget="14k tok", seed=0)
    roles = result.ledger["roles"]
    spent = sum(r["prompt_tokens"] + r["completion_tokens"] for r in roles.values())
    # the cap was reached, never passed (the share kept for a winner on the holdout is
    # left unspent: nothing beat the start)
    assert 14_000 * 0.6 <= spent <= 14_000
    assert result.search.scorer.ledger.affordable_calls() < 10
    assert len(asked(tmp_path)) < 14_000 / 320


def test_chat_prompts_get_message_pairs(tmp_path: Path) -> None:
    chat = "system: You answer sums.\nuser: {{question}}"
    suite = write_suite(
        tmp_path,
        DEMO_MODEL.replace('prompt.count("Example ")', 'prompt.count("assistant:")'),
        prompt=chat,
    )
    result = optimize(suite, budget=90, seed=1, method="demos")
    assert result.improved
    messages = json.loads(result.winner_prompt)
    roles = [m["role"] for m in messages]
    assert roles[0] == "system" and roles[-1] == "user"
    assert roles.count("assistant") >= 2


def run_cli_files(run_cli: Callable[..., Any], tmp_path: Path) -> Any:
    suite = write_suite(tmp_path, FORMAT_MODEL, prompt="<b>Q</b>: {{question}}\nA:")
    return run_cli(
        "optimize",
        str(suite),
        "--budget",
        "80",
        "--no-progress",
        "-o",
        "best.prompty",
        "-o",
        "best.txt",
        "-o",
        "optimize.json",
        "-o",
        "optimize.html",
    )


def test_cli_writes_valid_files(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    from prompteur.store._registry_source import read_prompt_file

    result = run_cli_files(run_cli, tmp_path)
    assert result.exit_code == 0, result.output
    assert "registered as" in result.stdout
    prompty = read_prompt_file(tmp_path / "best.prompty").source
    assert "only the number" in prompty.template
    assert read_prompt_file(tmp_path / "best.txt").source.template == prompty.template
    report = json.loads((tmp_path / "optimize.json").read_text())
    assert report["improved"] and report["holdout"]["winner"]["rate"] == 1.0
    assert report["ledger"]["spent"] <= 80
    html = (tmp_path / "optimize.html").read_text()
    assert "<b>Q</b>" not in html and "&lt;b&gt;Q&lt;/b&gt;" in html
    assert "<svg" in html and "McNemar" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "lots"], "budget 'lots'"),
        (["--budget", "5"], "cannot cover a minimal search"),
        (["--prompt", "nope"], "no prompt 'nope'"),
        (["--holdout", "missing.csv"], "--holdout missing.csv"),
        (["-o", "best.docx"], "cannot write best.docx"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    run_cli: Callable[..., Any], tmp_path: Path, args: list[str], message: str
) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL)
    result = run_cli("optimize", str(suite), "--no-progress", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.output


def test_a_holdout_file_is_the_holdout(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL, cases=24)
    held = [
        {
            "vars": {"question": f"What is {a} plus 100?", "answer": str(a + 100)},
            "assert": [{"type": "equals", "value": "{{answer}}"}],
        }
        for a in range(7)
    ]
    (tmp_path / "held.yaml").write_text(yaml.safe_dump(held))
    result = optimize(suite, budget=80, holdout="held.yaml", seed=0)
    assert result.holdout is not None and result.holdout.cases == 7
    splits = result.search.splits
    assert len(splits.train) + len(result.search.scorer.plan.tests) - 7 >= 24
    held_questions = {f"What is {a} plus 100?" for a in range(7)}
    searched = [e for e in asked(tmp_path) if e["question"] in held_questions]
    assert len(searched) == 14  # the start and the winner, once each, and nothing else


def test_the_prompt_is_picked_by_label_or_position(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, PERFECT_MODEL)
    data = yaml.safe_load(suite.read_text())
    data["prompts"] = [{"raw": "First {{question}}", "label": "first"}, "Second {{question}}"]
    suite.write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match="pick one with --prompt"):
        optimize(suite, budget=60)
    assert optimize(suite, budget=60, prompt="2").start_prompt == "Second {{question}}"
    assert optimize(suite, budget=60, prompt="first").start_prompt == "First {{question}}"


def test_judge_calls_are_charged_and_capped(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, FORMAT_MODEL, cases=30)
    (tmp_path / "judge.py").write_text(
        "import json\n"
        "def call_api(prompt, options, context):\n"
        "    with open('judged.txt', 'a') as f:\n"
        "        f.write('x\\n')\n"
        "    ok = 'I think' not in prompt\n"
        "    return json.dumps({'pass': ok, 'score': 1.0 if ok else 0.0, 'reason': 'r'})\n"
    )
    data = yaml.safe_load(suite.read_text())
    for test in data["tests"]:
        test["assert"] = [
            {
                "type": "llm-rubric",
                "value": "The output is a bare number",
                "provider": "python:judge.py:call_api",
            }
        ]
    suite.write_text(yaml.safe_dump(data))
    result = optimize(suite, budget=160, seed=0, answer_var="answer")
    judged = len((tmp_path / "judged.txt").read_text().splitlines())
    roles = result.ledger["roles"]
    assert roles["judge"]["calls"] == judged > 0
    assert len(asked(tmp_path)) + judged + roles["proposer"]["calls"] <= 160
    assert result.improved


def test_a_registered_prompt_gets_a_child_version(tmp_path: Path) -> None:
    from prompteur.store import PromptSource

    registry = PromptRegistry(Store())
    registry.add("sums", PromptSource("Q: {{question}}\nA:"), labels=("production",))
    suite = write_suite(tmp_path, FORMAT_MODEL)
    data = yaml.safe_load(suite.read_text())
    data["prompts"] = [{"prompt": "sums@production"}]
    suite.write_text(yaml.safe_dump(data))
    result = optimize(suite, budget=80, seed=0, prompt="sums@production")
    assert result.registered == "sums@v2"
    version = registry.get("sums@v2")
    assert version.parent == 1 and version.origin == "optimizer"
    assert registry.label_versions("sums") == {"production": 1, "candidate": 2}


def test_a_registered_prompt_outside_the_suite_can_be_the_start(tmp_path: Path) -> None:
    from prompteur.store import PromptSource

    registry = PromptRegistry(Store())
    registry.add("adder", PromptSource("Sum: {{question}}"))
    suite = write_suite(tmp_path, FORMAT_MODEL)
    result = optimize(suite, budget=80, seed=0, prompt="adder")
    assert result.start_prompt == "Sum: {{question}}"
    assert result.registered == "adder@v2"


# Right on even answers whatever the prompt, and on all of them when asked for the number.
HALF_MODEL = """
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    if "question" not in v:
        return "Be good."
    if "only the number" in prompt or int(v["answer"]) % 2 == 0:
        return str(v["answer"])
    return "I think it is " + str(v["answer"])
"""


def test_each_candidate_is_shown_beside_the_start_on_its_own_cases(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, HALF_MODEL, cases=60)
    result = optimize(suite, budget=120, seed=0, register=False)
    search = result.search
    validation = search.splits.validation
    rows = result.to_json()["candidates"]
    partial = 0
    for row in rows:
        known = search.scorer.known(row["key"], validation)
        if not known:
            assert row["start_score"] is None
            continue
        start = search.scorer.known(search.start.key, list(known))
        assert row["start_score"] == sum(s.score for s in start.values()) / len(start)
        partial += len(known) < len(validation)
    # a small rung holds the start's failures and successes only about in their whole
    # proportion (the rarer kind first): on it the start's score is not its whole score
    whole = result.to_json()["start"]["validation"]
    assert partial and any(r["start_score"] is not None and r["start_score"] != whole for r in rows)


# Right where RULE holds whatever the prompt, and always when asked for the number only.
RULE_MODEL = """
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    if "question" not in v:
        return "Be good."
    n = int(v["answer"])
    if "only the number" in prompt or RULE:
        return str(n)
    return "I think it is " + str(n)
"""


@pytest.mark.parametrize(
    "rule",
    ["n % 5 == 0", "n % 7 != 0"],  # the start passes about a fifth, about six in seven
)
def test_every_rung_holds_the_starts_successes_in_their_whole_proportion(
    tmp_path: Path, rule: str
) -> None:
    suite = write_suite(tmp_path, RULE_MODEL.replace("RULE", rule), cases=90)
    result = optimize(suite, budget=150, seed=0, register=False)
    search = result.search
    validation = search.splits.validation
    start = search.scorer.known(search.start.key, validation)
    passed = [start[c].score >= 1.0 for c in validation]
    share = sum(passed) / len(passed)
    assert 0 < share < 1
    for size in range(1, len(validation) + 1):
        assert abs(sum(passed[:size]) - size * share) <= 1, size
    # the first rung holds both kinds, the rarer first
    first = passed[:FIRST_RUNG]
    assert first[0] == (share < 0.5) and True in first and False in first
    assert result.improved and "only the number" in result.winner_prompt


def test_labels_are_asked_for_as_a_sentence_not_a_list() -> None:
    from prompteur.optimize._catalogue import answer_format

    # a list ("exactly one of: No, Yes") is what small models copy as their answer
    fmt = answer_format([], ["Yes", "No", "No", "Yes", "No"])
    assert fmt.startswith("Answer with one word: No or Yes.")
    fmt = answer_format([], ["very good", "bad", "fine"] * 2)
    assert fmt.startswith('Answer with "bad", "fine" or "very good", and nothing else.')
    assert answer_format([], ["3", "4", "3", "4"]).startswith("Answer with only the number")


def test_labels_that_are_not_all_numbers_are_named() -> None:
    from prompteur.optimize._catalogue import answer_format

    fmt = answer_format([], ["A", "B", "1", "A", "B", "1"])
    assert fmt.startswith("Answer with one word: 1, A or B.")
    assert answer_format([], ["No.", "Yes.", "No.", "Yes."]) == "Answer with one word: No. or Yes."


def test_no_sample_answer_is_shown_where_answers_are_a_few_labels(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(HALF_MODEL.replace('int(v["answer"]) % 2 == 0', "True"))
    tests = [
        {
            "vars": {"question": f"Is {n} even?", "answer": "Yes" if n % 2 == 0 else "No"},
            "assert": [{"type": "equals", "value": "{{answer}}"}],
        }
        for n in range(40)
    ]
    (tmp_path / "suite.yaml").write_text(
        yaml.safe_dump(
            {"prompts": ["{{question}}"], "providers": ["python:model.py:call_api"], "tests": tests}
        )
    )
    result = optimize(tmp_path / "suite.yaml", budget=120, seed=0, register=False)
    origins = [row["origin"] for row in result.to_json()["candidates"]]
    assert "catalogue: answer format" in origins
    assert not any("with an example" in origin for origin in origins)
    assert result.search.answer_format.startswith("Answer with one word: No or Yes.")


# A model right only when told to mind its units; no catalogue edit or demonstration says
# so: only the proposer, asked to rewrite or to reflect on failures, can.
UNITS_MODEL = """
def call_api(prompt, options, context):
    v = context.get("vars") or {}
    if "question" not in v:
        return ""
    return str(v["answer"]) if "mind the units" in prompt else str(v["answer"]) + " units"
"""


@pytest.mark.parametrize(
    ("asked_for", "origin"),
    [("It made these mistakes", "reflect"), ("You improve instructions", "proposer: rewrite")],
)
def test_auto_spends_on_the_proposer_and_on_reflection(
    tmp_path: Path, asked_for: str, origin: str
) -> None:
    suite = write_suite(tmp_path, UNITS_MODEL, cases=100)
    (tmp_path / "proposer.py").write_text(
        "def call_api(prompt, options, context):\n"
        f"    if {asked_for!r} in prompt:\n"
        "        return 'Please mind the units when answering.'\n"
        "    return 'Answer the question as well as you can.'\n"
    )
    result = optimize(suite, budget=300, seed=0, proposer="python:proposer.py:call_api")
    assert result.ledger["roles"]["proposer"]["calls"] >= 2
    assert result.improved
    assert result.search.best.origin.startswith(origin)
    assert result.holdout is not None and result.holdout.winner_rate == 1.0
    assert result.ledger["used"] <= 300
