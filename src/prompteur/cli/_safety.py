"""What ``bias`` and ``robustness`` share on the command line: the run of the generated
cases, the report (terminal and ``-o``), the comparison with the previous run, the gate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import stdout_console, wrote

if TYPE_CHECKING:
    from ..core._results import CellResult
    from ..core._sinks import ResultSink
    from ..eval._plan import Plan
    from ..redteam._generated import Variant
    from ..redteam._outcomes import SafetyResult
    from ..store import RunInfo, Store

#: how a command measures its results: (run id, suite, prompt, settings, results)
Measure = Callable[
    [str, "str | None", str, Mapping[str, Any], "Iterable[CellResult]"], "SafetyResult"
]

F = TypeVar("F", bound=Callable[..., Any])


def target_options(function: F) -> F:
    """SUITE, ``--prompt`` and ``-p``: the prompt under test and the models it runs on."""
    function = click.option(
        "-p",
        "--provider",
        "providers",
        multiple=True,
        help="Run on this provider instead of the suite's (repeatable).",
    )(function)
    function = click.option(
        "--prompt",
        "prompt",
        metavar="REF",
        help="The prompt under test: its label in "
        "the suite, or a registered one (name@production) [default: the suite's only one].",
    )(function)
    decorated: F = click.argument("suite", required=False, type=click.Path(path_type=Path))(
        function
    )
    return decorated


def report_options(function: F) -> F:
    """``-o`` (the report as .json, .md or .html) and ``--no-progress``."""
    function = click.option(
        "--no-progress", is_flag=True, help="No progress bar or progress lines."
    )(function)
    decorated: F = click.option(
        "-o",
        "--output",
        "outputs",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Write the report: .json, .md or .html. Repeatable.",
    )(function)
    return decorated


def suite_path(plan: Plan) -> str | None:
    """The suite file as the store records it (its resolved path)."""
    if plan.suite is None or plan.suite.origin is None:
        return None
    return str(plan.suite.origin.source.path.resolve())


def run_and_report(
    *,
    command: str,
    plan: Plan,
    variants: Sequence[Variant],
    settings: Mapping[str, Any],
    store: Store,
    providers: Sequence[str],
    outputs: Sequence[Path],
    limit: float,
    measure: Measure,
    no_progress: bool,
) -> None:
    """Run the originals and their variants as one recorded run, measure it, compare with
    the previous such run, report, and exit 1 when a category is above ``limit``."""
    import asyncio
    import contextlib

    from ..redteam._generated import run_with_variants, with_variants
    from ..redteam._outcomes import gate_failures
    from ..redteam._safety_report import (
        previous_result,
        print_safety_summary,
        write_safety_outputs,
    )
    from . import EXIT_INTERRUPTED
    from ._stopping import StoppedByTerm, stop_on_sigterm

    full = with_variants(plan, variants, command)
    sinks: list[ResultSink] = [] if no_progress else [_progress(command)]
    done = None
    with contextlib.suppress(KeyboardInterrupt, StoppedByTerm):
        done = asyncio.run(
            stop_on_sigterm(
                run_with_variants(
                    full,
                    command=command,
                    settings=settings,
                    store=store,
                    sinks=sinks,
                    providers=providers,
                )
            )
        )
    if done is None or done.summary.interrupted:
        click.echo(
            f"{command}: interrupted; run the same command again (the answers already "
            "given come from the cache)",
            err=True,
        )
        click.get_current_context().exit(EXIT_INTERRUPTED)
    suite = suite_path(plan)
    prompt = plan.prompts[0].label
    result = measure(done.run_id, suite, prompt, settings, done.results)

    def again(info: RunInfo, results: Iterable[CellResult]) -> SafetyResult:
        saved = (info.options.get(command) or {}).get("settings") or {}
        return measure(info.id, suite, prompt, saved, results)

    result = replace(result, previous=previous_result(store, result, again))
    print_safety_summary(result, stdout_console(), limit=limit)
    write_safety_outputs(result, outputs, limit=limit)
    wrote(outputs)
    failing = gate_failures(result, limit)
    ctx = click.get_current_context()
    if failing:
        names = ", ".join(f"{c.category} {c.rate:.1%}" for c in failing)
        click.echo(f"{command}: above the limit of {limit:.1%}: {names}", err=True)
        ctx.exit(EXIT_FAILED)
    ctx.exit(EXIT_OK)


def _progress(command: str) -> ResultSink:
    import sys

    from rich.console import Console

    from ..eval._progress import BarProgress, LineProgress

    err = Console(stderr=True)
    return BarProgress(err, command) if err.is_terminal else LineProgress(sys.stderr, name=command)


def split_list(text: str | None, default: Sequence[str]) -> list[str]:
    """``a,b`` (or repeated spaces) → ``[a, b]``; the default when not given."""
    if text is None:
        return list(default)
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
