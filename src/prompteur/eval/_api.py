"""``evaluate`` and ``evaluate_async``: the library's entry point to a run."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..config._errors import located_validation_error
from ..config._limits import check_storable
from ..config._loader import load_suite
from ..config._models import ProviderSpec, Suite
from ..core._results import CellResult
from ..core._sinks import CollectingSink, ResultSink
from ..core._summary import RunSummary
from ..core._trust import untrusted
from ..providers._base import Provider
from ..providers._cache import CompletionCache
from ._filters import CaseFilter
from ._options import EvalOptions
from ._plan import Cell, Plan, build_plan
from ._recording import Continuation, continue_run, store_sink
from ._run import new_run_id, run_plan

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "EvalOptions",
    "EvalResult",
    "evaluate",
    "evaluate_async",
    "evaluate_plan",
    "plan_suite",
]


@dataclass
class EvalResult:
    """A finished (or interrupted) run: its summary and, unless discarded, every result."""

    run_id: str
    summary: RunSummary
    plan: Plan = field(repr=False)
    # reprs stay short: asyncio formats a finished task's result on some paths
    results: list[CellResult] = field(default_factory=list, repr=False)

    @property
    def success(self) -> bool:
        """Every cell ran and passed."""
        return self.summary.success

    @property
    def pass_rate(self) -> float | None:
        return self.summary.pass_rate


SuiteLike = Suite | str | Path | Mapping[str, Any]
ProviderLike = str | ProviderSpec | Provider


def _as_suite(suite: SuiteLike) -> Suite:
    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, str | Path):
        return load_suite(suite)
    data = dict(suite)
    check_storable(data, None)
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise located_validation_error(exc, None, Suite) from None


def plan_suite(
    suite: SuiteLike,
    *,
    providers: Sequence[ProviderLike] | None = None,
    repeat: int | None = None,
    store: Store | str | None = None,
    pins: Mapping[str, str] | None = None,
    grader: Any = None,
    trusted: bool = True,
    tests_filter: CaseFilter | None = None,
) -> Plan:
    """Validate a suite and everything it names, without calling any model. Registered
    prompts are read from ``store`` (a Store or a URL; by default the project's);
    ``pins`` maps references to fixed versions (``{"answer@production": "answer@v3"}``);
    ``grader`` judges model-graded assertions that name no provider (default: ``local``);
    ``tests_filter`` keeps some of the cases (the ``eval`` command's ``--filter-*``).

    Planning a suite runs its Python (python assertions and providers) and reads the files
    it names. ``trusted=False`` is for a suite from someone else (a server planning what it
    was sent): Python assertions and providers, Python files and files outside the suite's
    folder (symlinks and ``..`` resolved) are refused, each as a SuiteError at its place."""
    if not trusted:
        with untrusted(_suite_folder(suite)):
            return plan_suite(
                suite,
                providers=providers,
                repeat=repeat,
                store=store,
                pins=pins,
                grader=grader,
                tests_filter=tests_filter,
            )
    registry = None
    if store is not None:
        from ..store import Store
        from ..store._registry import PromptRegistry

        registry = PromptRegistry(store if isinstance(store, Store) else Store(store))
    return build_plan(
        _as_suite(suite),
        providers=providers,
        repeat=repeat,
        registry=registry,
        pins=pins,
        grader=grader,
        tests_filter=tests_filter,
    )


def _suite_folder(suite: SuiteLike) -> Path:
    """The folder an untrusted suite may read files under."""
    if isinstance(suite, Suite):
        return suite.base_dir
    if isinstance(suite, str | Path):
        path = Path(suite)
        return path if path.is_dir() else path.absolute().parent
    return Path.cwd()


async def preflight_providers(plan: Plan) -> None:
    """Let each provider of the plan, judges included, check that it can work here (the
    embedded model generates one token) before any cell runs or any run is recorded."""
    providers = plan.all_providers()
    if plan.judges is not None:
        providers += plan.judges.providers()
    checked: set[int] = set()
    for provider in providers:
        check = getattr(provider, "preflight", None)
        if check is not None and id(provider) not in checked:
            checked.add(id(provider))
            await check()


async def close_providers(plan: Plan) -> None:
    for provider in plan.all_providers():
        close = getattr(provider, "aclose", None)
        if close is not None:
            await close()
    if plan.judges is not None:
        await plan.judges.aclose()


async def evaluate_async(
    suite: SuiteLike | Plan,
    *,
    options: EvalOptions | None = None,
    providers: Sequence[ProviderLike] | None = None,
    sinks: Sequence[ResultSink] = (),
    keep_results: bool = True,
    store: Store | str | None = None,
    cache: CompletionCache | bool | None = None,
    select: Callable[[Cell], bool] | None = None,
    run_id: str | None = None,
    trusted: bool = True,
) -> EvalResult:
    """Run a suite (a Suite, a suite file's path, a mapping, or a ready Plan).

    ``providers`` replaces the suite's providers (ids, specs or Provider objects); ``sinks``
    receive results as they finish; with ``keep_results=False`` the result holds only the
    summary, and memory stays flat however large the run.

    ``store`` (a Store or a database URL) records the run and, unless ``cache`` is False,
    serves and fills the completion cache; ``cache`` may also be any CompletionCache.
    ``select`` runs only the cells it accepts. ``run_id`` names the run; the id of an
    unfinished run in ``store`` resumes it: only its cells not stored yet are run, and
    ``options`` and ``cache``, when not given, are the ones the run began with (a run
    begun with ``cache=False`` is not finished with answers from the cache).
    ``trusted=False`` plans the suite as :func:`plan_suite` does with it (a ready Plan was
    planned already).
    """
    opened: Store | None = None
    if store is not None:
        from ..store import Store

        opened = store if isinstance(store, Store) else Store(store)
    try:
        # the id of a run the store holds: it is resumed
        existing = opened.find_run(run_id) if opened is not None and run_id else None
        if existing is not None:  # what was not given is as the run began
            saved = EvalOptions.of_run(existing.options)
            options = options or saved
            if cache is None and saved.no_cache:
                cache = False
        options = options or EvalOptions()
        plan = (
            suite
            if isinstance(suite, Plan)
            else plan_suite(
                suite,
                providers=providers,
                repeat=options.repeat,
                store=opened,
                trusted=trusted,
            )
        )
        continued = None
        if opened is not None and existing is not None:
            continued = continue_run(opened, plan, existing)
    except BaseException:
        if opened is not None and opened is not store:
            opened.close()
        raise
    # what continuing the run needs to rebuild its plan: the providers, if named
    named = [p for p in providers or () if isinstance(p, str)]
    try:
        return await evaluate_plan(
            plan,
            options,
            sinks=sinks,
            keep_results=keep_results,
            store=opened,
            cache=cache,
            select=select,
            run_id=run_id,
            continued=continued,
            providers=named if len(named) == len(providers or ()) else (),
        )
    finally:
        if opened is not None and opened is not store:  # opened here from a URL
            opened.close()


async def evaluate_plan(
    plan: Plan,
    options: EvalOptions,
    *,
    sinks: Sequence[ResultSink] = (),
    keep_results: bool = True,
    store: Store | None = None,
    cache: CompletionCache | bool | None = None,
    select: Callable[[Cell], bool] | None = None,
    run_id: str | None = None,
    continued: Continuation | None = None,
    providers: Sequence[str] = (),
    grader: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> EvalResult:
    """Run a plan, recorded in ``store`` when given: a new run, or ``continued``, a run the
    store holds (see :func:`continue_run`). ``providers`` and ``grader`` are the names the
    plan was made with, kept with the run so that it can be continued. ``tags`` say which
    command made the run and how: ``name`` (``bias``, ``robustness``) is kept under
    ``"command"`` in its stored options, the rest under that name. The one way both
    :func:`evaluate_async` and the ``eval`` command run and record."""
    if cache is None and options.no_cache:
        cache = False
    completion_cache = cache if not isinstance(cache, bool) else None
    all_sinks: list[ResultSink] = []
    if store is not None:
        from ..store import StoreCache

        suite_says_no = plan.suite is not None and plan.suite.evaluate_options.cache is False
        if cache is True or (cache is None and not suite_says_no):
            completion_cache = StoreCache(store)
        recorded = (
            options if options.no_cache is not None else replace(options, no_cache=cache is False)
        )
        all_sinks.append(
            store_sink(
                store,
                plan,
                recorded,
                continued=continued,
                providers=providers,
                grader=grader,
                cache=completion_cache if isinstance(completion_cache, StoreCache) else None,
                tags=tags,
            )
        )
    all_sinks += sinks
    collector = CollectingSink() if keep_results else None
    if collector is not None:
        all_sinks.append(collector)
    if continued is not None:
        run_id = continued.info.id
        chosen = select

        def remaining(cell: Cell) -> bool:
            return continued.select(cell) and (chosen is None or chosen(cell))

        select = remaining
    run_id = run_id or new_run_id()
    try:
        await preflight_providers(plan)
        summary = await run_plan(
            plan,
            options.resolve(plan.suite),
            all_sinks,
            run_id,
            cache=completion_cache,
            select=select,
        )
    finally:
        await close_providers(plan)
        close = getattr(completion_cache, "close", None)
        if callable(close):
            close()
    return EvalResult(run_id, summary, plan, collector.results if collector else [])


def evaluate(
    suite: SuiteLike | Plan,
    *,
    options: EvalOptions | None = None,
    providers: Sequence[ProviderLike] | None = None,
    sinks: Sequence[ResultSink] = (),
    keep_results: bool = True,
    store: Store | str | None = None,
    cache: CompletionCache | bool | None = None,
    select: Callable[[Cell], bool] | None = None,
    run_id: str | None = None,
    trusted: bool = True,
) -> EvalResult:
    """Synchronous twin of :func:`evaluate_async` (also usable inside a running event loop,
    e.g. a notebook: it then runs on a helper thread)."""
    coroutine = evaluate_async(
        suite,
        options=options,
        providers=providers,
        sinks=sinks,
        keep_results=keep_results,
        store=store,
        cache=cache,
        select=select,
        run_id=run_id,
        trusted=trusted,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
