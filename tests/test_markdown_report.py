"""The Markdown summary shows model outputs and case labels as written: nothing in them is
read as Markdown or HTML by the page a pull-request comment is rendered in."""

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
