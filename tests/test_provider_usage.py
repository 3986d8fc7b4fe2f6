"""Token counts and costs reported by providers are parsed in one place, defensively: a
numeric string counts, junk is dropped, and nothing a provider says about its usage can
end a run."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur
from prompteur.providers._base import parse_cost, parse_token_count, parse_usage

from .servers import AnthropicServer, FaultServer, serving, usage

PROVIDER = """
import json, os

def call_api(prompt, options, context):
    return json.loads(os.environ["USAGE_REPLY"])
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (0, 0),
        ("3", 3),
        (" 12 ", 12),
        ("3.0", 3),
        (7.0, 7),
        (True, None),
        (False, None),
        (-1, None),
        ("-4", None),
        (2.5, None),
        ("2.5", None),
        ("many", None),
        ("", None),
        (math.inf, None),
        (math.nan, None),
        ("nan", None),
        (None, None),
        ([3], None),
        ({"n": 3}, None),
    ],
)
def test_token_counts(value: Any, expected: int | None) -> None:
    assert parse_token_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.25, 0.25),
        (2, 2.0),
        ("0.002", 0.002),
        (True, None),
        (-0.5, None),
        ("free", None),
        (math.nan, None),
        (math.inf, None),
        (None, None),
    ],
)
def test_costs(value: Any, expected: float | None) -> None:
    assert parse_cost(value) == expected


def test_usage_shapes() -> None:
    # promptfoo's python providers: {total, prompt, completion, cached}
    assert parse_usage({"total": 10, "prompt": 4, "completion": 6, "cached": 2}).total_tokens == 10
    # a missing half follows from the total
    found = parse_usage({"total": 10, "prompt": 4, "cached": 0})
    assert (found.prompt_tokens, found.completion_tokens) == (4, 6)
    found = parse_usage({"total": "9", "completion": "2"})
    assert (found.prompt_tokens, found.completion_tokens) == (7, 2)
    # an inconsistent total is not used to invent a count
    found = parse_usage({"total": 3, "prompt": 4})
    assert (found.prompt_tokens, found.completion_tokens) == (4, None)
    for junk in (None, "12", [1, 2], 5):
        assert parse_usage(junk).total_tokens is None


def run_python(monkeypatch: pytest.MonkeyPatch, write: Callable[..., Path], reply: Any) -> Any:
    write("provider.py", PROVIDER)
    monkeypatch.setenv("USAGE_REPLY", json.dumps(reply))
    result = prompteur.evaluate(
        {
            "prompts": ["hi"],
            "providers": ["file://provider.py"],
            "tests": [{"assert": [{"type": "equals", "value": "x"}]}],
        },
        options=prompteur.EvalOptions(),
    )
    (cell,) = result.results
    return cell, result


def test_python_provider_string_counts_are_parsed(
    monkeypatch: pytest.MonkeyPatch, write: Callable[..., Path]
) -> None:
    cell, result = run_python(
        monkeypatch, write, {"output": "x", "tokenUsage": {"prompt": "3"}, "cost": "0.5"}
    )
    assert cell.error is None and cell.passed
    assert (cell.prompt_tokens, cell.completion_tokens, cell.cost) == (3, None, 0.5)
    (group,) = result.summary.groups
    assert group.total_tokens == 3


def test_python_provider_junk_usage_never_crashes_the_run(
    monkeypatch: pytest.MonkeyPatch, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    reply = {
        "output": "x",
        "tokenUsage": {"prompt": True, "completion": "lots", "total": -3},
        "cost": [1],
        "finish_reason": 7,
    }
    cell, _ = run_python(monkeypatch, write, reply)
    assert cell.error is None and cell.passed
    assert (cell.prompt_tokens, cell.completion_tokens, cell.cost) == (None, None, None)
    assert cell.finish_reason == "7"
    # the same through the command line, to a store and a report: no traceback
    write("suite.yaml", "prompts: [hi]\nproviders: [file://provider.py]\n")
    outcome = run_cli("eval", "suite.yaml", "--no-progress", "-o", "out.json")
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(Path("out.json").read_text())["results"][0]["output"] == "x"


def test_python_provider_promptfoo_token_usage(
    monkeypatch: pytest.MonkeyPatch, write: Callable[..., Path]
) -> None:
    reply = {"output": "x", "tokenUsage": {"total": 12, "prompt": 8, "cached": 8}}
    cell, _ = run_python(monkeypatch, write, reply)
    assert (cell.prompt_tokens, cell.completion_tokens) == (8, 4)


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with serving(FaultServer()) as running:
        assert isinstance(running, FaultServer)
        yield running


def test_openai_junk_usage(fault_server: FaultServer) -> None:
    fault_server.script(
        usage({"prompt_tokens": "5", "completion_tokens": None, "total_tokens": 9}),
        usage({"prompt_tokens": "five", "completion_tokens": -2}),
        usage("none"),
    )
    result = prompteur.evaluate(
        {
            "prompts": ["say {{n}}"],
            "providers": [
                {
                    "id": "openai:chat:test",
                    "config": {"apiBaseUrl": f"{fault_server.url}/v1", "cost": 0.001},
                }
            ],
            "tests": [{"vars": {"n": n}} for n in range(3)],
        },
        options=prompteur.EvalOptions(max_concurrency=1),
    )
    cells = sorted(result.results, key=lambda c: c.test_index)
    assert all(c.error is None for c in cells), [c.error for c in cells]
    assert (cells[0].prompt_tokens, cells[0].completion_tokens) == (5, 4)
    assert cells[0].cost == pytest.approx(0.009)
    assert [(c.prompt_tokens, c.completion_tokens, c.cost) for c in cells[1:]] == [
        (None, None, None),
        (None, None, None),
    ]


def test_anthropic_junk_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", AnthropicServer.API_KEY)
    with serving(AnthropicServer()) as server:
        assert isinstance(server, AnthropicServer)
        server.usage_reply = {"input_tokens": "7", "output_tokens": "n/a"}
        result = prompteur.evaluate(
            {
                "prompts": ["hello there"],
                "providers": [
                    {
                        "id": "anthropic:messages:claude-3-5-haiku-latest",
                        "config": {"apiBaseUrl": server.url},
                    }
                ],
            },
            options=prompteur.EvalOptions(),
        )
    (cell,) = result.results
    assert cell.error is None, cell.error
    assert (cell.prompt_tokens, cell.completion_tokens) == (7, None)
    assert cell.cost == pytest.approx(7 * 0.80 / 1e6)
