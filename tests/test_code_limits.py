"""Checks and templates run within limits: a python check that never ends is its cell's
error, and a template that computes for ever, or too much, is a located one-line error."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.assertions import _builtin_code
from prompteur.core._time_limit import TimeLimitExceeded, call_with_time_limit
from prompteur.prompts import _template_limits


def test_a_python_check_that_never_ends_is_the_cells_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_builtin_code, "PYTHON_CHECK_SECONDS", 0.5)
    body = "while True:\n    try:\n        pass\n    except Exception:\n        pass"
    result = prompteur.evaluate(
        {
            "prompts": ["say {{n}}"],
            "providers": ["echo"],
            "tests": [
                {"vars": {"n": n}, "assert": [{"type": "python", "value": body}]}
                if n == 1
                else {"vars": {"n": n}, "assert": [{"type": "python", "value": "True"}]}
                for n in range(3)
            ],
        }
    )
    errors = [cell.error for cell in result.results]
    assert errors == [None, "python check ran past its time limit of 0.5 s", None]
    assert [cell.passed for cell in result.results] == [True, False, True]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 'A' * 10**10 }}", "a repetition of 10,000,000,000 items is too large"),
        ("{{ lipsum(n=10**6) }}", "lipsum writes at most 100 paragraphs"),
        (
            "{% for i in range(10**9) %}x{% endfor %}",
            "a range of 1,000,000,000 numbers is too large",
        ),
        ("{{ 'x'.rjust(10**9) }}", "the argument 1,000,000,000 is too large"),
        ("{{ '{:>999999999}'.format(1) }}", "a formatting width is too large"),
        ("{{ '{:>{w}}'.format(1, w=999999999) }}", "the argument 999,999,999 is too large"),
        ("{{ '%*d' % (999999999, 1) }}", "the argument 999,999,999 is too large"),
        ("{{ 'x'|center(10**10) }}", "the argument 10,000,000,000 is too large"),
        ("{{ '%0999999999d' % 1 }}", "a formatting width is too large"),
        ("{{ '%-999999999s'|format(n) }}", "a formatting width is too large"),
        ("{{ 7 ** 10000000 }}", "too large a number"),
        ("{% for i in range(99999) %}{{ 'x' * 999 }}{% endfor %}", "the text written"),
        ("{{ n / 0 }}", "ZeroDivisionError: division by zero"),
        ("{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}", "recursion too deep"),
    ],
)
def test_a_template_that_computes_too_much_is_one_located_line(
    template: str,
    reason: str,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    write(
        "suite.yaml", f'prompts: ["{template}"]\nproviders: [echo]\ntests: [{{vars: {{n: 1}}}}]\n'
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: suite.yaml:3:9: prompt ")
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_template_that_loops_for_ever_ends_at_its_time_limit(
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    monkeypatch.setattr(_template_limits, "TEMPLATE_SECONDS", 0.5)
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    write("suite.yaml", f'prompts: ["{loops}"]\nproviders: [echo]\ntests: [{{vars: {{n: 1}}}}]\n')
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert "template ran past its time limit of 0.5 s" in result.stderr


def test_an_assertion_value_that_fails_to_render_is_one_located_line(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write(
        "suite.yaml",
        "prompts: ['hi']\nproviders: [echo]\n"
        "tests: [{vars: {n: 1}, assert: [{type: contains, value: '{{ n / 0 }}'}]}]\n",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: suite.yaml:3:")
    assert "ZeroDivisionError: division by zero" in result.stderr


def test_a_rubric_prompt_that_fails_to_render_is_the_cells_error() -> None:
    result = prompteur.evaluate(
        {
            "prompts": ["say {{n}}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {"n": 1},
                    "options": {"rubricPrompt": "{{ output }} {{ 1 / 0 }}", "provider": "echo"},
                    "assert": [{"type": "llm-rubric", "value": "is polite"}],
                }
            ],
        }
    )
    (cell,) = result.results
    assert cell.error is not None
    assert "ZeroDivisionError: division by zero" in cell.error


def test_a_check_blocked_on_a_socket_ends_at_its_limit_and_later_code_is_untouched() -> None:
    left, right = socket.socketpair()
    with left, right:
        with pytest.raises(TimeLimitExceeded, match=r"ran past its time limit of 0\.2 s"):
            call_with_time_limit(0.2, "check", left.recv, 10)
        assert call_with_time_limit(0.2, "check", len, "abc") == 3
        time.sleep(0.5)  # the timer, left armed, ticks in here: nothing happens
        right.send(b"x")
        assert left.recv(10) == b"x"


def test_large_values_a_template_only_writes_are_fine(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    template = (
        "{{ '%d'|format(n * 1000) }} {{ 'ab' * 3 }} {{ 2 ** 20 }} {{ 'x'|center(3) }} "
        "{{ '{:,}'.format(n) }} {{ range(20240101, 20240103)|list|last }} {{ '{:>{w}}'.format(n, w=10) }}"
    )
    write(
        "suite.yaml",
        f'prompts: ["{template}"]\nproviders: [echo]\n'
        "tests: [{vars: {n: 123456789}, assert: [{type: equals, "
        "value: '123456789000 ababab 1048576  x  123,456,789 20240102  123456789'}]}]\n",
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 0, result.output


def test_a_timer_left_armed_does_not_kill_the_process_at_exit() -> None:
    # A limit's timer stays armed after its code returns. Python puts SIGALRM back to its
    # default late in its exit; a timer firing then killed the process (exit -14) after
    # all its work was done (seen at the end of `prompteur optimize`). The program's own
    # exit handler, registered first, runs last: as that late part of the exit does, it
    # restores the default and waits past the limit.
    program = """
import atexit, signal, time
def late():
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    time.sleep(0.6)
atexit.register(late)
from prompteur.core._time_limit import call_with_time_limit
print(call_with_time_limit(0.3, "check", lambda: "done"))
"""
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert finished.stdout.strip() == "done"
    assert finished.returncode == 0, finished.stderr
