"""The optimizer end to end on the embedded model (SmolLM2-135M), proposer included."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

BUDGET = 70


def test_a_small_search_on_the_embedded_model(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    tests = [
        {
            "vars": {"question": f"Is {a} greater than {b}? Answer yes or no.", "answer": label},
            "assert": [{"type": "icontains", "value": "{{answer}}"}],
        }
        for a, b, label in [
            (a, b, "yes" if a > b else "no") for a in (3, 8, 12, 20, 41) for b in (5, 9, 30, 7)
        ]
    ]
    local = {"id": "local", "config": {"max_tokens": 16}}
    (tmp_path / "suite.yaml").write_text(
        yaml.safe_dump({"prompts": ["{{question}}"], "providers": [local], "tests": tests})
    )
    result = run_cli(
        "optimize",
        "suite.yaml",
        "--budget",
        str(BUDGET),
        "--no-progress",
        "-o",
        "optimize.json",
        "-o",
        "best.prompty",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "optimize.json").read_text())
    assert report["ledger"]["spent"] <= BUDGET
    roles = report["ledger"]["roles"]
    assert roles["task"]["calls"] > 0 and roles["task"]["completion_tokens"] > 0
    assert report["holdout"]["cases"] == 6
    assert report["answer_var"] == "answer"
    assert (tmp_path / "best.prompty").read_text().startswith("---")
    if report["improved"]:
        assert report["registered"] and "registered as" in result.stdout
    else:
        assert "nothing registered" in result.stdout
