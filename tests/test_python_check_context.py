"""A python check gets promptfoo's context: the assertion's own ``config`` among it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import prompteur

CHECKS = """
def any_listed(output, context):
    return any(word in output.lower() for word in context.get("config", {}).get("words", []))


def response_seen(output, context):
    return context["providerResponse"]["output"] == output and context["provider"]["id"] == "echo"
"""


def test_a_python_check_reads_its_own_config(write: Callable[[str, str], Path]) -> None:
    write("checks.py", CHECKS)
    suite = write(
        "suite.yaml",
        """
        prompts: ["fruits such as {{fruit}}"]
        providers: [echo]
        tests:
          - vars: {fruit: guava}
            assert:
              - {type: python, value: "file://checks.py:any_listed", config: {words: [papaya, guava]}}
              - {type: python, value: "file://checks.py:any_listed", config: {words: [banana]}}
              - {type: python, value: "file://checks.py:any_listed"}
              - {type: python, value: "context['config']['n'] == 2", config: {n: 2}}
              - {type: python, value: "file://checks.py:response_seen"}
        """,
    )
    (cell,) = prompteur.evaluate(suite).results
    assert [a.passed for a in cell.assertions] == [True, False, False, True, True]
