"""Recording a run in a store, and continuing one that the store holds: finishing it
(``evaluate(..., run_id=...)``, ``eval --resume``) or mending it (``eval --retry-errors``),
on the same plan and with the options it began with unless told others. ``evaluate`` and
the ``eval`` command both record through here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._options import EvalOptions
from ._plan import Cell, Plan

if TYPE_CHECKING:
    from ..store import RunInfo, Store, StoreCache, StoreSink
    from ..store._remote import RemoteRunSink, ServerClient

__all__ = [
    "Continuation",
    "continue_run",
    "find_run_to_continue",
    "remote_sink",
    "store_sink",
]


@dataclass(frozen=True)
class Continuation:
    """A stored run to finish, or to mend (``replace``: its errored cells run again), and
    the cells of the plan that run."""

    info: RunInfo
    select: Callable[[Cell], bool]
    replace: bool

    @property
    def saved_options(self) -> EvalOptions:
        """The options the run began with."""
        return EvalOptions.of_run(self.info.options)


def continue_run(
    store: Store, plan: Plan, info: RunInfo, *, retry_errors: bool = False
) -> Continuation:
    """Check that ``plan`` can continue the stored run ``info`` (the same prompts, providers,
    cases and assertions; a run not being written by a live process), and choose its cells:
    those not stored yet, or with ``retry_errors`` those that errored (and the other cells of
    a case graded as a whole)."""
    from ..store import StoreError

    if info.status == "running":
        raise StoreError(
            f"run {info.id} is still running (process {info.pid} on {info.host}); "
            "let it finish or stop it first"
        )
    if plan.fingerprint() != info.fingerprint:
        where = info.suite_path or "the suite"
        raise StoreError(
            f"{where} has changed since run {info.id} started (prompts, providers, cases or "
            "assertions differ); it cannot be resumed with this suite (start a new run)"
        )
    if plan.stores_outputs:
        raise StoreError(
            f"run {info.id} cannot be resumed: its tests store outputs for the tests after "
            "them (storeOutputAs, _conversation), and those of the cells already run are not "
            "kept apart; start a new run (the answers already given come from the cache)"
        )
    if retry_errors:
        errored = store.cell_keys(info.id, status="error")
        if not errored:
            raise StoreError(f"run {info.id} has no errored cells to retry")
        # a case graded as a whole (select-best) is graded again as a whole: its other
        # cells run with it (from the cache when it is on), or the retried cell would be
        # judged alone
        together = {
            (test, repeat)
            for test, repeat in (_case_of(key) for key in errored)
            if test < len(plan.tests) and plan.tests[test].has_group_assertions
        }

        def again(cell: Cell) -> bool:
            return cell.key in errored or (cell.test, cell.repeat) in together

        return Continuation(info, again, replace=True)
    if info.status == "finished":
        raise StoreError(f"run {info.id} is already finished")
    done = store.cell_keys(info.id)
    return Continuation(info, lambda cell: cell.key not in done, replace=False)


def find_run_to_continue(
    store: Store, run_id: str | None, suite_file: Path | None = None
) -> RunInfo:
    """The run ``run_id``; without one, the newest interrupted run of ``suite_file`` (else
    of the one suite with such runs in this folder) only: on a team's store, others' runs
    of other suites are not this caller's to finish. The run must come from a suite file."""
    from ..store import StoreError

    info = store.run(run_id) if run_id else _latest_interrupted(store, suite_file)
    made_by = info.options.get("command")
    if made_by:  # its cases were generated from the suite: eval cannot rebuild them
        raise StoreError(
            f"run {info.id} was made by 'prompteur {made_by}'; run that command again "
            "(the answers already given come from the cache)"
        )
    if info.suite_path is None:
        raise StoreError(f"run {info.id} was not made from a suite file; it cannot be continued")
    return info


def _latest_interrupted(store: Store, suite_file: Path | None) -> RunInfo:
    from ..store import StoreError

    # 'interrupted' includes runs left 'running' by a process that died; a live one is not
    # taken from its process
    if suite_file is not None:
        pending = [
            run
            for run in store.runs(
                suite=str(suite_file.resolve()), statuses=["interrupted"], limit=None
            )
            if not run.options.get("command")
        ][:1]
        if not pending:
            raise StoreError(
                f"no interrupted run of {suite_file} to resume "
                f"(see 'prompteur runs --suite {suite_file}')"
            )
        return pending[0]
    here = Path.cwd().resolve()
    pending = [
        run
        for run in store.runs(statuses=["interrupted"], limit=None)
        if run.suite_path is not None
        and Path(run.suite_path).parent == here
        and not run.options.get("command")
    ]
    suites = sorted({Path(run.suite_path or "").name for run in pending})
    if not pending:
        raise StoreError(
            "no interrupted run of a suite in this folder to resume (see 'prompteur runs')"
        )
    if len(suites) > 1:
        raise StoreError(
            f"interrupted runs of {len(suites)} suites here ({', '.join(suites)}): "
            f"name one (prompteur eval {suites[0]} --resume) or give the run"
        )
    return pending[0]


def _case_of(cell_key: str) -> tuple[int, int]:
    """The (test, repeat) of a cell key ``prompt:provider:test:repeat``."""
    _, _, test, repeat = cell_key.split(":")
    return int(test), int(repeat)


def _command_options(tags: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a run keeps of the command that made it: its name under ``"command"`` (as
    ``redteam`` records it too) and the rest under that name (``{"bias": {...}}``)."""
    if not tags:
        return {}
    name = str(tags["name"])
    return {"command": name, name: {k: v for k, v in tags.items() if k != "name"}}


def store_sink(
    store: Store,
    plan: Plan,
    options: EvalOptions,
    *,
    continued: Continuation | None,
    providers: Sequence[str],
    grader: str | None,
    cache: StoreCache | None,
    tags: Mapping[str, Any] | None = None,
) -> StoreSink:
    """The sink recording the run (with the new entries of ``cache``, a cache of the same
    store, in its batches): a new run, or ``continued``. What it keeps of how the run was
    made is what continuing it needs to rebuild the same plan and run it the same way."""
    from ..store import StoreSink

    suite_name, suite_path, made = _what_is_recorded(plan, options, providers, grader)
    return StoreSink(
        store,
        plan,
        suite_name=suite_name,
        suite_path=suite_path,
        resume=continued is not None,
        replace=continued is not None and continued.replace,
        options={"cli": made, **_command_options(tags)},
        cache=cache if cache is not None and cache.store is store else None,
    )


def _what_is_recorded(
    plan: Plan, options: EvalOptions, providers: Sequence[str], grader: str | None
) -> tuple[str | None, str | None, dict[str, object]]:
    """The run's suite name and path, and how it was made: what continuing it needs to
    rebuild the same plan and run it the same way."""
    suite_path = None
    if plan.suite is not None and plan.suite.origin is not None:
        suite_path = str(plan.suite.origin.source.path.resolve())
    made = {
        "providers": list(providers),
        "repeat": options.repeat,
        "pins": plan.pins(),
        "grader": grader,
        **options.to_saved(),
    }
    if plan.tests_filter is not None:
        made["filters"] = plan.tests_filter.to_saved()
    return plan.description or (Path(suite_path).name if suite_path else None), suite_path, made


def remote_sink(
    client: ServerClient,
    plan: Plan,
    options: EvalOptions,
    *,
    providers: Sequence[str],
    grader: str | None,
) -> RemoteRunSink:
    """The sink recording a new run on a team server (``prompteur eval --server``)."""
    from ..store._remote import RemoteRunSink
    from ..store._sink import git_commit

    suite_name, suite_path, made = _what_is_recorded(plan, options, providers, grader)
    folder = plan.suite.base_dir if plan.suite is not None else Path.cwd()
    return RemoteRunSink(
        client,
        plan,
        suite_name=suite_name,
        suite_path=suite_path,
        options={"cli": made},
        git_commit=git_commit(folder),
    )
