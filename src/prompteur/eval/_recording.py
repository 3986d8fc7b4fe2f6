"""Recording a library run in a store (``evaluate(..., store=...)``), and resuming one
that the store holds unfinished, with the options it began with unless told others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core._sinks import ResultSink
from ._plan import Cell, Plan
from ._run_settings import RunSettings

if TYPE_CHECKING:
    from ..store import RunInfo, Store, StoreCache

__all__ = ["saved_settings", "store_sink"]


def saved_settings(existing: RunInfo) -> tuple[RunSettings, int | None]:
    """The settings and repeat count a stored run began with (it is being resumed)."""
    return RunSettings.of_run(existing.options), existing.options.get("cli", {}).get("repeat")


def _check_resumable(existing: RunInfo, plan: Plan) -> None:
    from ..store import StoreError

    if existing.fingerprint != plan.fingerprint():
        raise StoreError(
            f"run {existing.id} was made of other prompts, providers, cases or "
            "assertions; it cannot be resumed with this suite (start a new run)"
        )
    if existing.status == "finished":
        raise StoreError(f"run {existing.id} is already finished")


def store_sink(
    store: Store,
    plan: Plan,
    existing: RunInfo | None,
    select: Callable[[Cell], bool] | None,
    providers: Sequence[Any] | None,
    settings: RunSettings,
    repeat: int | None,
    cache: StoreCache | None,
) -> tuple[ResultSink, Callable[[Cell], bool] | None]:
    """The sink recording the run (with the new entries of ``cache``, a cache of the same
    store, in its batches), and the cells to run: with ``existing``, a run the store holds,
    that run is resumed, and only its cells not stored yet (that ``select`` accepts) run."""
    from ..store import StoreSink

    suite_path = None
    if plan.suite is not None and plan.suite.origin is not None:
        suite_path = str(plan.suite.origin.source.path.resolve())
    suite_name = plan.description or (Path(suite_path).name if suite_path else None)
    if existing is not None:
        _check_resumable(existing, plan)
        stored = store.cell_keys(existing.id)
        chosen = select

        def remaining(cell: Cell) -> bool:
            return cell.key not in stored and (chosen is None or chosen(cell))

        select = remaining

    # What `prompteur eval --resume` needs to rebuild the same plan from the suite file,
    # and to run it the same way.
    named = [p for p in providers or () if isinstance(p, str)]
    cli = {
        "providers": named if len(named) == len(providers or ()) else [],
        "repeat": repeat,
        "pins": plan.pins(),
        "grader": None,
        **settings.to_saved(),
    }
    sink = StoreSink(
        store,
        plan,
        suite_name=suite_name,
        suite_path=suite_path,
        resume=existing is not None,
        options={"cli": cli},
        cache=cache if cache is not None and cache.store is store else None,
    )
    return sink, select
