"""Continuing a recorded run with ``prompteur eval``: finishing it (``--resume``) or
mending it (``--retry-errors``), on the same plan and with the options it began with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..eval._plan import Cell, Plan
    from ..store import RunInfo, Store

__all__ = ["Continuation", "continuation"]


@dataclass
class Continuation:
    """An existing run to finish (--resume) or to mend (--retry-errors)."""

    info: RunInfo
    select: Callable[[Cell], bool]
    replace: bool


def continuation(
    store: Store,
    plan_for: Callable[[RunInfo], Plan],
    resume: str | None,
    retry_errors: str | None,
    suite_file: Path | None = None,
) -> tuple[Continuation, Plan]:
    """The run to continue and its plan. A bare ``--resume`` takes the newest interrupted
    run of ``suite_file`` (else of the one suite with such runs in this folder) only: on a
    team's store, others' runs of other suites are not this command's to finish."""
    from ..core._errors import SuiteError

    if retry_errors is not None:
        info = store.run(retry_errors)
    elif resume:
        info = store.run(resume)
    else:
        info = _latest_interrupted(store, suite_file)
    if info.status == "running":
        raise SuiteError(
            f"run {info.id} is still running (process {info.pid} on {info.host}); "
            "let it finish or stop it first"
        )
    if info.suite_path is None:
        raise SuiteError(f"run {info.id} was not made from a suite file; it cannot be continued")
    plan = plan_for(info)
    if plan.fingerprint() != info.fingerprint:
        raise SuiteError(
            f"{info.suite_path} has changed since run {info.id} started (prompts, providers, "
            "cases or assertions differ); start a new run instead"
        )
    if retry_errors is not None:
        errored = store.cell_keys(info.id, status="error")
        if not errored:
            raise SuiteError(f"run {info.id} has no errored cells to retry")
        # a case graded as a whole (select-best) is graded again as a whole: its other
        # cells run with it (from the cache when it is on), or the retried cell would be
        # judged alone
        together = {
            (test, repeat)
            for test, repeat in (_case_of(key) for key in errored)
            if test < len(plan.tests) and plan.tests[test].has_group_assertions
        }

        def select(cell: Cell) -> bool:
            return cell.key in errored or (cell.test, cell.repeat) in together

        return Continuation(info, select, replace=True), plan
    if info.status == "finished":
        raise SuiteError(f"run {info.id} is already finished")
    done = store.cell_keys(info.id)
    return Continuation(info, lambda cell: cell.key not in done, replace=False), plan


def _latest_interrupted(store: Store, suite_file: Path | None) -> RunInfo:
    from ..core._errors import SuiteError

    # 'interrupted' includes runs left 'running' by a process that died; a live one is not
    # taken from its process
    if suite_file is not None:
        pending = store.runs(suite=str(suite_file.resolve()), statuses=["interrupted"], limit=1)
        if not pending:
            raise SuiteError(
                f"no interrupted run of {suite_file} to resume "
                f"(see 'prompteur runs --suite {suite_file}')"
            )
        return pending[0]
    here = Path.cwd().resolve()
    pending = [
        run
        for run in store.runs(statuses=["interrupted"], limit=None)
        if run.suite_path is not None and Path(run.suite_path).parent == here
    ]
    suites = sorted({Path(run.suite_path or "").name for run in pending})
    if not pending:
        raise SuiteError(
            "no interrupted run of a suite in this folder to resume (see 'prompteur runs')"
        )
    if len(suites) > 1:
        raise SuiteError(
            f"interrupted runs of {len(suites)} suites here ({', '.join(suites)}): "
            f"name one (prompteur eval {suites[0]} --resume) or give the run"
        )
    return pending[0]


def _case_of(cell_key: str) -> tuple[int, int]:
    """The (test, repeat) of a cell key ``prompt:provider:test:repeat``."""
    _, _, test, repeat = cell_key.split(":")
    return int(test), int(repeat)
