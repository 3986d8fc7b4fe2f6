"""``prompteur eval``: run a suite, record it in the store, report, exit code for CI."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._common import (
    db_option,
    open_store,
    output_option,
    output_sinks,
    replay,
    stdout_console,
    wrote,
)
from ._eval_checks import FiniteFloatRange, RateType

if TYPE_CHECKING:
    from ..core._sinks import ResultSink, RunFinished, RunStarted
    from ..eval._plan import Plan
    from ..store import RunInfo, Store


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
@db_option
def eval_command(
    suite: Path | None,
    config: Path | None,
    outputs: tuple[Path, ...],
    providers: tuple[str, ...],
    grader: str | None,
    max_concurrency: int | None,
    repeat: int | None,
    timeout: float | None,
    max_retries: int | None,
    pass_threshold: float | None,
    max_failures: int,
    no_cache: bool,
    resume: str | None,
    retry_errors: str | None,
    no_progress: bool,
    db: str | None,
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
    import asyncio

    from rich.console import Console

    from ..config._loader import load_suite
    from ..core._errors import SuiteError
    from ..eval._api import EvalOptions, evaluate_async, plan_suite
    from ..eval._progress import BarProgress, LineProgress
    from ..eval._run_settings import RunSettings
    from ..report._terminal import print_summary
    from ..store import StoreCache, StoreSink
    from ._eval_continue import Continuation, continuation
    from ._stopping import StoppedByTerm, stop_on_sigterm

    if suite is not None and config is not None and suite != config:
        raise click.UsageError("give the suite either as an argument or with -c, not both")
    if resume is not None and retry_errors is not None:
        raise click.UsageError("--resume and --retry-errors do not go together")
    # what the command line says; a continued run keeps its own options where it says nothing
    settings = RunSettings(
        max_concurrency=max_concurrency,
        timeout=timeout,
        max_retries=max_retries,
        no_cache=True if no_cache else None,
        pass_threshold=pass_threshold,
    )
    continued: Continuation | None = None
    store: Store | None = None
    if resume is not None or retry_errors is not None:
        store = open_store(db)

        def plan_for(info: RunInfo) -> Plan:
            saved = info.options.get("cli", {})
            return plan_suite(
                load_suite(info.suite_path or ""),
                providers=saved.get("providers") or None,
                repeat=saved.get("repeat"),
                store=store,
                pins=saved.get("pins"),
                grader=saved.get("grader"),
            )

        bare = resume == "" and retry_errors is None
        continued, plan = continuation(
            store, plan_for, resume, retry_errors, suite_file_of(suite or config) if bare else None
        )
        # the run's own options, less those the command line gives again
        restored = RunSettings.of_run(continued.info.options).without(settings)
        settings = settings.over(restored)
        suite_file = Path(continued.info.suite_path or "")
    else:
        target = suite or config or Path.cwd()
        loaded = load_suite(target)
        # a suite that names registered prompts reads them from the store; any other is
        # validated before the store is touched, so bad input leaves nothing behind
        registered = any(spec.prompt is not None for spec in loaded.prompts)
        store = open_store(db) if registered else None
        plan = plan_suite(
            loaded, providers=list(providers) or None, repeat=repeat, store=store, grader=grader
        )
        suite_file = loaded.origin.source.path if loaded.origin else Path(target)
        if not outputs:
            outputs = tuple(loaded.base_dir / p for p in loaded.output_path)
    # each report is checked writable (by making a file beside it) before any model is
    # called or any run recorded
    report_sinks = output_sinks(outputs)
    if store is None:
        store = open_store(db)
    gc.freeze()
    # Cells' results wait in memory for their batch to be written, hundreds at a time: at
    # the default threshold (700) the youngest generation was collected 130 times in a
    # cached run of 10,000 cells, scanning those results each time and promoting them (a
    # twentieth of the run). Cyclic garbage still goes, in fewer, larger collections.
    thresholds = gc.get_threshold()
    gc.set_threshold(RUN_GC_THRESHOLD, *thresholds[1:])
    click.get_current_context().call_on_close(partial(gc.set_threshold, *thresholds))
    gc.enable()

    use_cache = (
        not settings.no_cache
        and plan.suite is not None
        and plan.suite.evaluate_options.cache is not False
    )
    cache = StoreCache(store) if use_cache else None
    # what `eval --resume` and `--retry-errors` need to compute this run again the same way
    cli_options = {
        "providers": list(providers),
        "repeat": repeat,
        "pins": plan.pins(),
        "grader": grader,
        **dataclasses.replace(
            settings, max_retries=settings.retries, no_cache=bool(settings.no_cache)
        ).to_saved(),
    }
    store_sink = StoreSink(
        store,
        plan,
        suite_name=plan.description or suite_file.name,
        suite_path=str(suite_file.resolve()),
        resume=continued is not None,
        replace=bool(continued and continued.replace),
        options={"cli": cli_options},
        cache=cache,
    )
    final = _Final()
    sinks: list[ResultSink] = [store_sink, final]
    if continued is None:
        sinks += report_sinks  # a new run streams its reports; a continued one replays them
    err = Console(stderr=True)
    if not no_progress:
        sinks.append(BarProgress(err) if err.is_terminal else LineProgress(sys.stderr))
    if continued is not None:
        info = continued.info
        verb = "retrying errored cells of" if continued.replace else "resuming"
        flags = restored.as_flags()
        of = (
            f" of {info.suite_name or info.suite_path}"
            if info.suite_name or info.suite_path
            else ""
        )
        click.echo(
            f"{verb} run {info.id}{of} ({info.done}/{info.total_cells} cells stored)"
            + (f" as it began: {flags}" if flags else ""),
            err=True,
        )
    options = EvalOptions(
        max_concurrency=settings.max_concurrency,
        repeat=repeat,
        timeout=settings.timeout,
        max_retries=settings.retries,
    )
    # stopped by Ctrl-C or SIGTERM, or not: the summary tells (a signal that came once every
    # cell had finished leaves a finished run)
    with contextlib.suppress(KeyboardInterrupt, StoppedByTerm):
        asyncio.run(
            stop_on_sigterm(
                evaluate_async(
                    plan,
                    options=options,
                    sinks=sinks,
                    keep_results=False,
                    cache=cache if cache is not None else False,
                    select=continued.select if continued else None,
                    run_id=continued.info.id if continued else None,
                )
            )
        )
    if final.event is None:
        raise SuiteError("the run ended before it started")
    summary = final.event.summary
    if continued is not None:
        summary = replay(store, store.run(continued.info.id), report_sinks)
    print_summary(summary, stdout_console(), run_id=final.run_id, max_failures=max_failures)
    wrote(outputs)
    ctx = click.get_current_context()
    if summary.interrupted:
        click.echo(f"resume with: prompteur eval --resume {final.run_id}", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    rate = summary.pass_rate
    threshold = settings.pass_threshold
    if summary.success or (threshold is not None and rate is not None and rate >= threshold):
        ctx.exit(EXIT_OK)
    ctx.exit(EXIT_FAILED)
