"""``prompteur eval``: run a suite, record it in the store, report, exit code for CI."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._common import (
    by_option,
    db_option,
    open_store,
    output_option,
    output_sinks,
    print_breakdowns,
    replay,
    server_option,
    server_url,
    stdout_console,
    wrote,
)
from ._eval_checks import FiniteFloatRange, RateType

if TYPE_CHECKING:
    from ..core._sinks import ResultSink, RunFinished, RunStarted
    from ..core._summary import RunSummary
    from ..eval._options import EvalOptions
    from ..eval._plan import Plan
    from ..eval._recording import Continuation
    from ..store import Store


#: Allocations (less deallocations) between two collections of the youngest generation
#: while a run goes on.
RUN_GC_THRESHOLD = 20_000


class _Final:
    """Keeps the run id and the final summary, even when the run is interrupted."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.event: RunFinished | None = None

    def on_start(self, event: RunStarted) -> None:
        self.run_id = event.run_id

    def on_result(self, result: object) -> None:
        pass

    def on_finish(self, event: RunFinished) -> None:
        self.event = event


def suite_file_of(given: Path | None) -> Path | None:
    """The suite file a command names (a file or a folder), or this folder's if it has one
    by a conventional name."""
    from ..config._loader import DEFAULT_SUITE_NAMES, find_suite

    if given is None:
        return next((Path(n) for n in DEFAULT_SUITE_NAMES if Path(n).is_file()), None)
    return find_suite(given) if given.is_dir() else given


@click.command("eval")
@click.argument("suite", required=False, type=click.Path(path_type=Path))
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(path_type=Path),
    help="Suite file (same as the SUITE argument; promptfoo's flag).",
)
@output_option
@click.option(
    "-p",
    "--provider",
    "providers",
    multiple=True,
    help="Run on this provider instead of the suite's (repeatable), e.g. openai:chat:gpt-4o-mini.",
)
@click.option(
    "--grader",
    metavar="PROVIDER",
    help="Judge of model-graded assertions that name no provider (e.g. "
    "openai:chat:gpt-4o-mini) [default: the embedded model].",
)
@click.option(
    "-j",
    "--max-concurrency",
    type=click.IntRange(min=1),
    help="Concurrent calls per provider [default: the suite's, else 4].",
)
@click.option("--repeat", type=click.IntRange(min=1), help="Run each test case N times.")
@click.option(
    "--timeout",
    type=FiniteFloatRange(min=0, min_open=True),
    help="Seconds allowed per model call [default: 300].",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    help="Retries of a failed call (429, 5xx, timeout, dropped connection) [default: 4].",
)
@click.option(
    "--pass-threshold",
    type=RateType(),
    help="Exit 0 when at least this share of cells passed (0.9 or 90%).",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Failures to print in the report.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the completion cache.")
@click.option(
    "--resume",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[RUN]",
    help="Finish an interrupted run (default: the latest one of this suite).",
)
@click.option("--retry-errors", metavar="RUN", help="Re-run only the cells of RUN that errored.")
@click.option("--no-progress", is_flag=True, help="No progress bar or progress lines.")
@click.option(
    "--watch",
    is_flag=True,
    help="Run again whenever a file of the suite's folder changes (Ctrl-C ends, exit 130).",
)
@click.option("--filter-first-n", type=click.IntRange(min=1), help="Run only the first N cases.")
@click.option(
    "--filter-pattern",
    metavar="REGEX",
    help="Run only the cases whose description (else variables, as JSON) match REGEX.",
)
@click.option(
    "--filter-sample", type=click.IntRange(min=1), help="Run N cases picked at random (--seed)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --filter-sample.")
@click.option(
    "--filter-metadata",
    metavar="KEY=VALUE",
    multiple=True,
    help="Run only the cases whose metadata KEY is VALUE (repeatable: all must match).",
)
@click.option(
    "--filter-failing",
    metavar="RUN",
    help="Run only the cases that failed or errored in RUN.",
)
@by_option
@db_option
@server_option
def eval_command(
    suite: Path | None,
    config: Path | None,
    outputs: tuple[Path, ...],
    providers: tuple[str, ...],
    grader: str | None,
    max_failures: int,
    resume: str | None,
    retry_errors: str | None,
    no_progress: bool,
    watch: bool,
    filter_first_n: int | None,
    filter_pattern: str | None,
    filter_sample: int | None,
    seed: int,
    filter_metadata: tuple[str, ...],
    filter_failing: str | None,
    by: tuple[str, ...],
    db: str | None,
    **given: Any,  # the run's options, named as EvalOptions names them
) -> None:
    """Run SUITE (default: prompteur.yaml or promptfooconfig.yaml here), record the run in
    the results store, and report.

    \b
    Exit codes: 0 every cell passed (or the pass rate reached --pass-threshold),
    1 some cells failed or errored, 2 bad input or usage, 130 interrupted (Ctrl-C or
    SIGTERM; resume with --resume).
    """
    # What is made until the run starts (the modules, the plan) lives as long as the run:
    # garbage collections would only scan it again and again, at a tenth of a cached
    # run's time. The collector comes back, with those objects set aside, once it is made
    # (or when the command ends, whatever happens).
    gc.disable()
    click.get_current_context().call_on_close(gc.enable)
    from ..eval._options import EvalOptions

    if suite is not None and config is not None and suite != config:
        raise click.UsageError("give the suite either as an argument or with -c, not both")
    if resume is not None and retry_errors is not None:
        raise click.UsageError("--resume and --retry-errors do not go together")
    if server_url() is not None:
        if resume is not None or retry_errors is not None:
            raise click.UsageError("--resume and --retry-errors work on a store, not --server")
        if db:
            raise click.UsageError("give either --db or --server, not both")
    # what the command line says; a continued run keeps its own options where it says nothing
    options = EvalOptions(**{**given, "no_cache": True if given["no_cache"] else None})
    continued: Continuation | None = None
    store: Store | None
    continuing = ""
    filters = _filters_given(
        filter_first_n, filter_pattern, filter_sample, seed, filter_metadata, filter_failing
    )
    if filters and server_url() is not None:
        raise click.UsageError("the --filter-* options work on a store, not --server")
    if watch:
        if resume is not None or retry_errors is not None or server_url() is not None:
            raise click.UsageError(
                "--watch runs a suite afresh; no --resume, --retry-errors or --server"
            )
        _watch(
            suite or config or Path.cwd(),
            options,
            filters,
            outputs,
            providers,
            grader,
            db,
            no_progress,
            max_failures,
            by,
        )
        return
    if resume is not None or retry_errors is not None:
        if filters:
            raise click.UsageError(
                "a continued run keeps its own --filter-* options; give none with --resume"
            )
        store = open_store(db)
        continued, plan = _continuation(store, resume, retry_errors, suite or config)
        restored = continued.saved_options.without(options)
        options = options.over(restored)
        continuing = _continuing_line(continued, restored.as_flags())
    else:
        plan, store, outputs = _new_plan(
            suite or config or Path.cwd(), providers, grader, options, db, outputs, filters
        )
    # each report is checked writable (by making a file beside it) before any model is
    # called or any run recorded
    report_sinks = output_sinks(outputs)
    if server_url() is not None:
        _run_on_server(plan, options, report_sinks, no_progress, providers, grader)
        return
    store = store or open_store(db)
    _collect_garbage_less()
    final = _Final()
    sinks: list[ResultSink] = [final]
    if continued is None:
        sinks += report_sinks  # a new run streams its reports; a continued one replays them
    if not no_progress:
        sinks.append(_progress())
    if continuing:
        click.echo(continuing, err=True)
    _run(plan, options, sinks, store, continued, providers, grader, final)
    summary = _summary_of(final, store, continued, report_sinks)
    from ..report._terminal import print_summary

    print_summary(summary, stdout_console(), run_id=final.run_id, max_failures=max_failures)
    if by and final.run_id is not None:
        print_breakdowns(store, final.run_id, by)
    wrote(outputs)
    _exit(summary, final.run_id, options.pass_threshold)


def _watch(
    target: Path,
    options: EvalOptions,
    filters: dict[str, Any] | None,
    outputs: tuple[Path, ...],
    providers: tuple[str, ...],
    grader: str | None,
    db: str | None,
    no_progress: bool,
    max_failures: int,
    by: tuple[str, ...],
) -> None:
    """Run the suite now and after each change; a bad edit prints its one-line error and
    the watch goes on. Ctrl-C ends it with 130, like any interrupted command."""
    from ..config._loader import find_suite
    from ..core._errors import PrompteurError
    from ..core._secrets import redact_text
    from ..report._terminal import print_summary
    from ._watch import watch

    suite_file = find_suite(target) if target.is_dir() else target
    store = open_store(db)
    _collect_garbage_less()  # the collector runs again, as in any run

    def once() -> Callable[[], None]:
        final = _Final()
        try:
            plan, _, reports = _new_plan(
                suite_file, providers, grader, options, db, outputs, dict(filters or {})
            )
            sinks: list[ResultSink] = [final, *output_sinks(reports)]
            if not no_progress:
                sinks.append(_progress())
            _run(plan, options, sinks, store, None, providers, grader, final)
            summary = _summary_of(final, store, None, [])
        except PrompteurError as exc:
            message = f"error: {redact_text(str(exc))}"
            return lambda: click.echo(message, err=True)
        if summary.interrupted:  # Ctrl-C during a run ends the watch, as it ends a run
            raise KeyboardInterrupt

        def show() -> None:
            print_summary(summary, stdout_console(), run_id=final.run_id, max_failures=max_failures)
            if by and final.run_id is not None:
                print_breakdowns(store, final.run_id, by)
            wrote(reports)
            sys.stdout.flush()

        return show

    watch(suite_file.absolute().parent, suite_file.absolute(), once)


def _new_plan(
    target: Path,
    providers: tuple[str, ...],
    grader: str | None,
    options: EvalOptions,
    db: str | None,
    outputs: tuple[Path, ...],
    filters: dict[str, Any] | None = None,
) -> tuple[Plan, Store | None, tuple[Path, ...]]:
    """The plan of a new run, the store if planning it needed one, and the reports to write
    (the suite's ``outputPath`` unless the command names some)."""
    from ..config._loader import load_suite
    from ..eval._api import plan_suite
    from ..eval._filters import CaseFilter

    loaded = load_suite(target)
    # a suite that names registered prompts reads them from the store; any other is
    # validated before the store is touched, so bad input leaves nothing behind
    registered = any(spec.prompt is not None for spec in loaded.prompts)
    if server_url() is not None:
        return _remote_plan(loaded, providers, grader, options, registered), None, outputs
    failing = (filters or {}).pop("failing", None)
    store = open_store(db) if registered or failing else None
    if failing is not None and store is not None:
        filters = {**(filters or {}), "keys": sorted(store.failed_case_keys(failing))}
    plan = plan_suite(
        loaded,
        providers=list(providers) or None,
        repeat=options.repeat,
        store=store,
        grader=grader,
        tests_filter=CaseFilter.from_saved(filters),
    )
    if not outputs:
        outputs = tuple(loaded.base_dir / p for p in loaded.output_path)
    return plan, store, outputs


def _remote_plan(
    loaded: Any,
    providers: tuple[str, ...],
    grader: str | None,
    options: EvalOptions,
    registered: bool,
) -> Plan:
    """The plan of a run for a team server: its registered prompts resolve there."""
    from ..eval._plan import build_plan

    registry = None
    if registered:
        from ..store._registry import PromptRegistry
        from ..store._remote import RemoteRegistry, RemoteStore

        remote = cast("RemoteStore", open_store(None))
        # RemoteRegistry answers the one question planning asks a registry: get(reference)
        registry = cast("PromptRegistry", RemoteRegistry(remote.client))
    return build_plan(
        loaded,
        providers=list(providers) or None,
        repeat=options.repeat,
        registry=registry,
        grader=grader,
    )


def _run_on_server(
    plan: Plan,
    options: EvalOptions,
    report_sinks: list[ResultSink],
    no_progress: bool,
    providers: tuple[str, ...],
    grader: str | None,
) -> None:
    """Run the plan here and record it on the team server (--server), as it goes."""
    import asyncio
    import os

    from ..eval._api import evaluate_plan
    from ..eval._recording import remote_sink
    from ..report._terminal import print_summary
    from ..store._remote import ServerClient
    from ._stopping import StoppedByTerm, stop_on_sigterm

    server = server_url()
    assert server is not None
    client = ServerClient(server, os.environ.get("PROMPTEUR_TOKEN"))
    click.get_current_context().call_on_close(client.close)
    client.call("GET", "/api/me")  # a bad token or address stops here, before any model call
    _collect_garbage_less()
    final = _Final()
    recorder = remote_sink(client, plan, options, providers=providers, grader=grader)
    sinks: list[ResultSink] = [final, recorder, *report_sinks]
    if not no_progress:
        sinks.append(_progress())
    with contextlib.suppress(KeyboardInterrupt, StoppedByTerm):
        asyncio.run(
            stop_on_sigterm(
                evaluate_plan(
                    plan,
                    options,
                    sinks=sinks,
                    keep_results=False,
                    providers=providers,
                    grader=grader,
                ),
                run_id=lambda: final.run_id,
            )
        )
    if final.event is None:
        from ..core._errors import SuiteError

        raise SuiteError("the run ended before it started")
    summary = final.event.summary
    print_summary(summary, stdout_console(), run_id=final.run_id, max_failures=10)
    click.echo(f"recorded run {final.run_id} on {client.url}", err=True)
    _exit(summary, final.run_id, options.pass_threshold)


def _continuation(
    store: Store, resume: str | None, retry_errors: str | None, given: Path | None
) -> tuple[Continuation, Plan]:
    """The stored run to continue and its plan, rebuilt from its suite file as it began."""
    from ..config._loader import load_suite
    from ..eval._api import plan_suite
    from ..eval._filters import CaseFilter
    from ..eval._recording import continue_run, find_run_to_continue

    bare = resume == "" and retry_errors is None
    info = find_run_to_continue(
        store, retry_errors or resume or None, suite_file_of(given) if bare else None
    )
    saved = info.options.get("cli", {})
    plan = plan_suite(
        load_suite(info.suite_path or ""),
        providers=saved.get("providers") or None,
        repeat=saved.get("repeat"),
        store=store,
        pins=saved.get("pins"),
        grader=saved.get("grader"),
        tests_filter=CaseFilter.from_saved(saved.get("filters")),
    )
    return continue_run(store, plan, info, retry_errors=retry_errors is not None), plan


def _filters_given(
    first_n: int | None,
    pattern: str | None,
    sample: int | None,
    seed: int,
    metadata: tuple[str, ...],
    failing: str | None,
) -> dict[str, Any] | None:
    """The --filter-* options as a run keeps them (``failing`` still a run to look up)."""
    pairs = []
    for given in metadata:
        key, sep, value = given.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{given!r} is not KEY=VALUE", param_hint="--filter-metadata")
        pairs.append([key, value])
    filters: dict[str, Any] = {
        "first_n": first_n,
        "pattern": pattern,
        "sample": sample,
        "metadata": pairs,
        "failing": failing,
    }
    filters = {k: v for k, v in filters.items() if v not in (None, [])}
    if sample is not None:
        filters["seed"] = seed
    return filters or None


def _continuing_line(continued: Continuation, flags: str) -> str:
    info = continued.info
    verb = "retrying errored cells of" if continued.replace else "resuming"
    name = info.suite_name or info.suite_path
    of = f" of {name}" if name else ""
    return f"{verb} run {info.id}{of} ({info.done}/{info.total_cells} cells stored)" + (
        f" as it began: {flags}" if flags else ""
    )


def _collect_garbage_less() -> None:
    gc.freeze()
    # Cells' results wait in memory for their batch to be written, hundreds at a time: at
    # the default threshold (700) the youngest generation was collected 130 times in a
    # cached run of 10,000 cells, scanning those results each time and promoting them (a
    # twentieth of the run). Cyclic garbage still goes, in fewer, larger collections.
    thresholds = gc.get_threshold()
    gc.set_threshold(RUN_GC_THRESHOLD, *thresholds[1:])
    click.get_current_context().call_on_close(partial(gc.set_threshold, *thresholds))
    gc.enable()


def _progress() -> ResultSink:
    from rich.console import Console

    from ..eval._progress import BarProgress, LineProgress

    err = Console(stderr=True)
    return BarProgress(err) if err.is_terminal else LineProgress(sys.stderr)


def _run(
    plan: Plan,
    options: EvalOptions,
    sinks: list[ResultSink],
    store: Store,
    continued: Continuation | None,
    providers: tuple[str, ...],
    grader: str | None,
    final: _Final,
) -> None:
    """Run and record the plan; stopped by Ctrl-C or SIGTERM, or not (the summary tells: a
    signal that came once every cell had finished leaves a finished run)."""
    import asyncio

    from ..eval._api import evaluate_plan
    from ._stopping import StoppedByTerm, stop_on_sigterm

    with contextlib.suppress(KeyboardInterrupt, StoppedByTerm):
        asyncio.run(
            stop_on_sigterm(
                evaluate_plan(
                    plan,
                    options,
                    sinks=sinks,
                    keep_results=False,
                    store=store,
                    continued=continued,
                    providers=providers,
                    grader=grader,
                ),
                run_id=lambda: final.run_id,
            )
        )


def _summary_of(
    final: _Final, store: Store, continued: Continuation | None, report_sinks: list[ResultSink]
) -> RunSummary:
    from ..core._errors import SuiteError

    if final.event is None:
        raise SuiteError("the run ended before it started")
    if continued is not None:  # the reports tell the whole run, not this part of it
        return replay(store, store.run(continued.info.id), report_sinks)
    return final.event.summary


def _exit(summary: RunSummary, run_id: str | None, threshold: float | None) -> None:
    ctx = click.get_current_context()
    if summary.interrupted:
        click.echo(f"resume with: prompteur eval --resume {run_id}", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    rate = summary.pass_rate
    if summary.success or (threshold is not None and rate is not None and rate >= threshold):
        ctx.exit(EXIT_OK)
    ctx.exit(EXIT_FAILED)
