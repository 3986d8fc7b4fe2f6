"""Every sink hears that the run is over, even when another one fails there."""

from __future__ import annotations

from pathlib import Path

import pytest

import prompteur
from prompteur.eval import RunFinished


class BrokenAtTheEnd:
    def on_start(self, event: object) -> None:
        pass

    def on_result(self, result: object) -> None:
        pass

    def on_finish(self, event: RunFinished) -> None:
        raise OSError("the disk is full")


class Recording:
    def __init__(self) -> None:
        self.finished: RunFinished | None = None

    def on_start(self, event: object) -> None:
        pass

    def on_result(self, result: object) -> None:
        pass

    def on_finish(self, event: RunFinished) -> None:
        self.finished = event


def test_a_sink_failing_at_the_end_does_not_skip_the_others(tmp_path: Path) -> None:
    after = Recording()
    suite = {"prompts": ["hi {{n}}"], "providers": ["echo"], "tests": [{"vars": {"n": 1}}]}
    with pytest.raises(OSError, match="the disk is full"):
        prompteur.evaluate(suite, sinks=[BrokenAtTheEnd(), after])
    assert after.finished is not None
    assert after.finished.summary.planned == 1


def test_the_report_is_written_when_the_store_fails_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from prompteur.cli import cli
    from prompteur.store import Store

    def refuse(self: Store, *args: object, **kwargs: object) -> None:
        raise OSError("the database went away")

    monkeypatch.setattr(Store, "finish_run", refuse)
    (tmp_path / "suite.yaml").write_text(
        "prompts: ['hi {{n}}']\nproviders: [echo]\ntests: [{vars: {n: 1}}]\n"
    )
    result = CliRunner().invoke(cli, ["eval", "suite.yaml", "-o", "out.json", "--no-progress"])
    assert result.exit_code != 0
    assert (tmp_path / "out.json").is_file(), "the report is written though the store failed"
