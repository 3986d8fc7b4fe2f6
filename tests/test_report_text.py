"""Reports show model outputs and suite text as written: nothing in them is read as
Markdown, HTML or terminal control codes; the JSON summary carries every figure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from markdown_it import MarkdownIt

HOSTILE = "a|b `x` ``y`` <img src=x onerror=alert(1)> </details> **bold**"

MODEL = f"""
def call_api(prompt, options, context):
    return {HOSTILE!r}
"""


def test_outputs_and_labels_are_not_markup(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("model.py", MODEL)
    write(
        "suite.yaml",
        """
        description: "<b>escapes</b> | all"
        prompts: ["{{q}}"]
        providers: [file://model.py]
        tests:
          - description: "- a case <i>label</i> with *stars*"
            vars: {q: one}
            assert: [{type: equals, value: nope}]
        """,
    )
    result = run_cli("eval", "suite.yaml", "--no-progress", "-o", "summary.md")
    assert result.exit_code == 1, result.output
    text = (tmp_path / "summary.md").read_text()
    html = MarkdownIt("commonmark").enable("table").render(text)
    for tag in ("<img", "<b>", "<i>", "<strong>bold", "<em>stars"):
        assert tag not in html, (tag, text)
    assert html.count("<details>") == html.count("</details>") == 1
    # the output is one code span, shown whole, backticks and all
    assert "<code>" + HOSTILE.replace("<", "&lt;").replace(">", "&gt;") + "</code>" in html
    assert "- a case &lt;i&gt;label&lt;/i&gt; with *stars*" in html
    assert "&lt;b&gt;escapes&lt;/b&gt; | all" in html


def test_terminal_shows_control_characters_escaped(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    write(
        "model.py",
        'def call_api(prompt, options, context):\n    return "\\x1b[31mred\\x07 \\x00end"\n',
    )
    write(
        "suite.yaml",
        """
        prompts: ["{{q}}"]
        providers: [file://model.py]
        tests: [{vars: {q: "a\\u001b[2Jb"}, assert: [{type: equals, value: nope}]}]
        """,
    )
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "output: \\x1b[31mred\\x07 \\x00end" in result.stdout
    assert "q=a\\x1b[2Jb" in result.stdout


JUDGE = """
import json

def call_api(prompt, options, context):
    return {"output": json.dumps({"pass": True, "score": 1, "reason": "fine"}),
            "tokenUsage": {"prompt": 10, "completion": 5}, "cost": 0.25}
"""


def test_json_summary_counts_grader_usage_and_human_verdicts(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    import json

    write("judge.py", JUDGE)
    write(
        "suite.yaml",
        """
        prompts: ["{{q}}"]
        providers: [echo]
        defaultTest: {options: {provider: file://judge.py}}
        tests:
          - vars: {q: one}
            assert: [{type: llm-rubric, value: says one}]
          - vars: {q: two}
            assert: [{type: equals, value: nope}]
        """,
    )
    result = run_cli("eval", "suite.yaml", "--no-progress", "-o", "out.json")
    assert result.exit_code == 1, result.output
    group = json.loads((tmp_path / "out.json").read_text())["summary"]["groups"][0]
    assert (group["grader_tokens"], group["grader_cost"], group["human"]) == (15, 0.25, 0)
    run_id = result.stdout.split(" run ")[1].split()[0]
    assert run_cli("rate", run_id, "0:0:1:0", "pass", "--author", "ana").exit_code == 0
    run_cli("show", run_id, "-o", "again.json")
    summary = json.loads((tmp_path / "again.json").read_text())["summary"]
    assert (summary["human"], summary["groups"][0]["human"], summary["passed"]) == (1, 1, 2)
